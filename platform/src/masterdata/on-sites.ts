// How master data relates to sites, for grants narrowed to sites (a plant's operator): the
// conditions that keep the rows of those sites, for access/scope.ts's readable().
import { eq, inArray, type SQL } from "drizzle-orm";
import { customers, type Db, gateways, machines, services, sites } from "../db/index.ts";

/** Customers that own one of the sites (an operator sees the name of its site's customer). */
export const customersOnSites = (db: Db) => (siteIds: string[]) =>
  inArray(
    customers.id,
    db.select({ id: sites.customerId }).from(sites).where(inArray(sites.id, siteIds)),
  );

export const sitesOnSites = (siteIds: string[]): SQL => inArray(sites.id, siteIds);

export const gatewaysOnSites = (siteIds: string[]): SQL => inArray(gateways.siteId, siteIds);

/** The ids of the machines behind gateways of the sites, as a sub-select. */
export const machineIdsOnSites = (db: Db, siteIds: string[]) =>
  db
    .select({ id: machines.id })
    .from(machines)
    .innerJoin(gateways, eq(gateways.id, machines.gatewayId))
    .where(inArray(gateways.siteId, siteIds));

export const machinesOnSites = (db: Db) => (siteIds: string[]) =>
  inArray(machines.id, machineIdsOnSites(db, siteIds));

export const servicesOnSites = (db: Db) => (siteIds: string[]) =>
  inArray(services.machineId, machineIdsOnSites(db, siteIds));

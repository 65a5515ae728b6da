// The usual scene for remote-access tests: a customer with one site, gateway and machine, the
// machine's services, and a technician of that customer acting through a domain context.

import type { Context } from "../../src/access/index.ts";
import { createUser, grantRole } from "../../src/identity/index.ts";
import {
  createCustomer,
  createGateway,
  createMachine,
  createService,
  createSite,
} from "../../src/masterdata/index.ts";
import type { TestPlatform } from "./platform.ts";

export interface Scene {
  customerId: string;
  gatewayId: string;
  gatewaySecret: string;
  machineId: string;
  technician: Context;
}

export async function arrangeMachine(
  p: TestPlatform,
  services: { name: string; protocol: "tcp" | "udp"; port: number; enabled: boolean }[],
): Promise<Scene> {
  const customer = await createCustomer(p.adminCtx, { name: "ACME" });
  const site = await createSite(p.adminCtx, customer.id, { name: "Plant" });
  const { gateway, secret } = await createGateway(p.adminCtx, p.proxyPool, site.id, {
    name: "Hall 1",
  });
  const machine = await createMachine(p.adminCtx, p.proxyPool, gateway.id, {
    name: "Press",
    lanAddress: "192.168.0.10",
  });
  for (const service of services) await createService(p.adminCtx, machine.id, service);
  const { user } = await createUser(p.adminCtx, { username: "tech", displayName: "Tech" });
  await grantRole(p.adminCtx, user.id, { role: "technician", customerId: customer.id });
  const technician: Context = {
    db: p.database.db,
    clock: p.clock,
    caller: {
      principal: {
        userId: user.id,
        username: "tech",
        displayName: "Tech",
        grants: [{ role: "technician", customerId: customer.id }],
      },
      actor: { id: user.id, name: "tech", ip: "198.18.212.2" },
    },
  };
  return {
    customerId: customer.id,
    gatewayId: gateway.id,
    gatewaySecret: secret,
    machineId: machine.id,
    technician,
  };
}

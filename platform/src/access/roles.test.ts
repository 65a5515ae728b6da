import { describe, expect, test } from "bun:test";
import {
  grantProblem,
  grantsWithin,
  hasPermission,
  inScope,
  type Principal,
  scopeOf,
} from "./roles.ts";

const principal = (grants: Principal["grants"]): Principal => ({
  userId: "u",
  username: "u",
  displayName: "u",
  grants,
});

describe("roles and scopes", () => {
  test("platform admin and auditor read everything; only the admin manages", () => {
    const admin = principal([{ role: "platform_admin", customerId: null }]);
    const auditor = principal([{ role: "auditor", customerId: null }]);
    expect(scopeOf(admin, "masterdata.manage")).toEqual({ all: true });
    expect(scopeOf(auditor, "masterdata.read")).toEqual({ all: true });
    expect(scopeOf(auditor, "audit.read")).toEqual({ all: true });
    expect(hasPermission(auditor, "masterdata.manage")).toBe(false);
    expect(hasPermission(auditor, "users.manage")).toBe(false);
  });

  test("scoped roles reach exactly their customers, and add up", () => {
    const user = principal([
      { role: "technician", customerId: "A" },
      { role: "customer_admin", customerId: "B" },
    ]);
    expect(scopeOf(user, "masterdata.read")).toEqual({
      all: false,
      customerIds: ["A", "B"],
      siteIds: [],
    });
    expect(scopeOf(user, "masterdata.manage")).toEqual({
      all: false,
      customerIds: ["B"],
      siteIds: [],
    });
    expect(scopeOf(user, "audit.read")).toEqual({ all: false, customerIds: ["B"], siteIds: [] });
    expect(inScope(scopeOf(user, "masterdata.manage"), "A")).toBe(false);
    expect(inScope(scopeOf(user, "masterdata.read"), null)).toBe(false);
    expect(hasPermission(user, "customers.manage")).toBe(false);
  });

  test("no grants, no access", () => {
    expect(scopeOf(principal([]), "masterdata.read")).toEqual({
      all: false,
      customerIds: [],
      siteIds: [],
    });
  });

  test("global roles take no customer, scoped roles need one", () => {
    expect(grantProblem({ role: "auditor", customerId: "A" })?.reason).toContain("platform-wide");
    expect(grantProblem({ role: "technician", customerId: null })?.reason).toContain(
      "needs a customer",
    );
    expect(grantProblem({ role: "technician", customerId: "A" })).toBeNull();
    expect(grantProblem({ role: "platform_admin", customerId: null })).toBeNull();
  });
});

describe("grants no wider than their holder's", () => {
  const admin = principal([{ role: "platform_admin", customerId: null }]);
  const customerAdmin = principal([{ role: "customer_admin", customerId: "A" }]);
  test("a platform admin may hand out what admins may do; a customer admin only within their customer", () => {
    expect(grantsWithin(admin, [{ role: "customer_admin", customerId: "B" }])).toBe(true);
    // Platform admins do not connect to machines, so they cannot hand that right out either.
    expect(grantsWithin(admin, [{ role: "technician", customerId: "B" }])).toBe(false);
    expect(grantsWithin(admin, [{ role: "auditor", customerId: null }])).toBe(true);
    expect(grantsWithin(customerAdmin, [{ role: "customer_admin", customerId: "A" }])).toBe(true);
    expect(grantsWithin(customerAdmin, [{ role: "customer_admin", customerId: "B" }])).toBe(false);
    expect(grantsWithin(customerAdmin, [{ role: "auditor", customerId: null }])).toBe(false);
    // A technician can connect; a customer admin cannot, so neither can their token.
    expect(grantsWithin(customerAdmin, [{ role: "technician", customerId: "A" }])).toBe(false);
    expect(grantsWithin(customerAdmin, [])).toBe(true);
  });

  test("an operator narrowed to a site reaches that site only, and adds up with whole customers", () => {
    const operator = principal([
      { role: "operator", customerId: "A", siteId: "A1" },
      { role: "operator", customerId: "B", siteId: null },
    ]);
    expect(scopeOf(operator, "masterdata.read")).toEqual({
      all: false,
      customerIds: ["B"],
      siteIds: ["A1"],
    });
    expect(inScope(scopeOf(operator, "workstations.arm"), "A", "A1")).toBe(true);
    expect(inScope(scopeOf(operator, "workstations.arm"), "A", "A2")).toBe(false);
    expect(inScope(scopeOf(operator, "workstations.arm"), "A")).toBe(false);
    expect(inScope(scopeOf(operator, "sessions.manage"), "B", "B7")).toBe(true);
    expect(hasPermission(operator, "masterdata.manage")).toBe(false);
    expect(hasPermission(operator, "sessions.connect")).toBe(false);
  });

  test("only an operator's grant names a site", () => {
    expect(grantProblem({ role: "operator", customerId: "A", siteId: "A1" })).toBeNull();
    expect(grantProblem({ role: "technician", customerId: "A", siteId: "A1" })).toEqual({
      field: "siteId",
      reason: "Technician holds for the whole customer: choose no site",
    });
  });
});

import { describe, expect, test } from "bun:test";
import {
  DEFAULT_MFA_AMR,
  grantsFor,
  groupsOf,
  groupsOverage,
  mfaAsserted,
  policyFor,
} from "./policy.ts";

const acme = "7d4f8b1e-3c2a-4e5f-9a6b-1c2d3e4f5a6b";

describe("identity provider claims", () => {
  test("groups map to grants; unknown groups grant nothing; a single string is one group", () => {
    const mappings = [
      { group: "acme-service", role: "technician" as const, customerId: acme },
      { group: "acme-service", role: "technician" as const, customerId: acme },
      { group: "meetpoint-admins", role: "platform_admin" as const, customerId: null },
    ];
    expect(grantsFor(groupsOf({ groups: ["acme-service", "other"] }, "groups"), mappings)).toEqual([
      { role: "technician", customerId: acme },
    ]);
    expect(grantsFor(groupsOf({ roles: "meetpoint-admins" }, "roles"), mappings)).toEqual([
      { role: "platform_admin", customerId: null },
    ]);
    expect(grantsFor(groupsOf({ groups: [1, null, {}] }, "groups"), mappings)).toEqual([]);
    expect(groupsOf({}, "groups")).toEqual([]);
  });

  test("MFA counts only when amr or the configured acr says so", () => {
    const provider = { mfaAmr: DEFAULT_MFA_AMR, mfaAcr: "urn:acme:mfa" };
    expect(mfaAsserted({ amr: ["pwd", "otp"] }, provider)).toBe(true);
    expect(mfaAsserted({ amr: ["pwd"] }, provider)).toBe(false);
    expect(mfaAsserted({ amr: "mfa" }, provider)).toBe(false);
    expect(mfaAsserted({ acr: "urn:acme:mfa" }, provider)).toBe(true);
    expect(mfaAsserted({ acr: "1" }, { mfaAmr: DEFAULT_MFA_AMR, mfaAcr: null })).toBe(false);
  });

  test("the strictest policy among the roles applies; the default falls back to TOTP", () => {
    expect(policyFor(["technician"], {})).toBe("provider_or_totp");
    expect(policyFor(["auditor", "technician"], { technician: "provider" })).toBe("provider");
    expect(policyFor(["platform_admin"], { technician: "provider" })).toBe("provider_or_totp");
  });

  test("Entra ID's group overage is recognised: distributed claim names, or hasgroups", () => {
    const overage = {
      _claim_names: { groups: "src1" },
      _claim_sources: {
        src1: { endpoint: "https://graph.microsoft.com/v1.0/users/x/getMemberObjects" },
      },
    };
    expect(groupsOverage(overage, "groups")).toBe(true);
    expect(groupsOverage({ hasgroups: true }, "groups")).toBe(true);
    // The claim itself is there, or another claim was moved out: no overage of this one.
    expect(groupsOverage({ ...overage, groups: ["a"] }, "groups")).toBe(false);
    expect(groupsOverage(overage, "roles")).toBe(false);
    expect(groupsOverage({ groups: [] }, "groups")).toBe(false);
  });
});

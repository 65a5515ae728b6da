import { describe, expect, test } from "bun:test";
import type { services } from "../db/index.ts";
import { StateError, ValidationError } from "../shared/index.ts";
import { clampAtApproval, durationOf, grantedServices, modbusService } from "./request-rules.ts";

type Service = typeof services.$inferSelect;
const service = (over: Partial<Service>): Service => ({
  id: "s1",
  customerId: "k1",
  machineId: "m1",
  name: "PLC",
  protocol: "tcp",
  port: 502,
  enabled: true,
  mode: "full",
  createdAt: new Date(0),
  ...over,
});
const plc = service({});
const web = service({ id: "s2", name: "Web", port: 443 });
const plc2 = service({ id: "s3", name: "PLC 2", port: 1502, mode: "modbus-read-only" });
const udp502 = service({ id: "s4", name: "Odd", protocol: "udp" });

describe("read-only per request", () => {
  test("Modbus/TCP is TCP 502, or a service marked read-only Modbus", () => {
    expect([plc, web, plc2, udp502].map(modbusService)).toEqual([true, false, true, false]);
  });

  test("read_only grants every service through the filter; full keeps each service's own mode", () => {
    expect(grantedServices([plc, plc2], "read_only", "connect").map((s) => s.mode)).toEqual([
      "modbus-read-only",
      "modbus-read-only",
    ]);
    expect(grantedServices([plc, web, plc2], "full", "connect").map((s) => s.mode)).toEqual([
      "full",
      "full",
      "modbus-read-only",
    ]);
  });

  test("read_only on a service that is not Modbus/TCP, or at a workstation, is a 400 on mode", () => {
    const refused = (() => {
      try {
        grantedServices([plc, web], "read_only", "connect");
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(ValidationError);
    expect((refused as ValidationError).message).toContain("Web (tcp/443)");
    expect((refused as ValidationError).field).toBe("mode");
    expect(() => grantedServices([udp502], "read_only", "connect")).toThrow("Odd (udp/502)");
    expect(() => grantedServices([plc], "read_only", "workstation")).toThrow("workstation");
    expect(grantedServices([web], "full", "workstation")).toHaveLength(1);
  });
});

describe("the approval clamps to the current rules", () => {
  const asked = grantedServices([plc, web], "full", "connect");

  test("nothing changed: all is granted, nothing said", () => {
    expect(
      clampAtApproval(
        { durationSeconds: 3600, services: asked },
        { siteMaxMinutes: 120, platformSeconds: 7200, enabled: [plc, web] },
      ),
    ).toEqual({ durationSeconds: 3600, services: asked, clamped: [] });
  });

  test("a lower maximum (the site's or the platform's) cuts the duration; a disabled service is left out", () => {
    const site = clampAtApproval(
      { durationSeconds: 3600, services: asked },
      { siteMaxMinutes: 30, platformSeconds: 7200, enabled: [plc] },
    );
    expect(site.durationSeconds).toBe(1800);
    expect(site.services.map((s) => s.port)).toEqual([502]);
    expect(site.clamped).toEqual([
      "duration cut from 60 to 30 minutes (the site's maximum now)",
      "Web (tcp/443) not granted: no longer an enabled service of the machine",
    ]);
    const platform = clampAtApproval(
      { durationSeconds: 3600, services: asked },
      { siteMaxMinutes: 120, platformSeconds: 1200, enabled: [plc, web] },
    );
    expect(platform.durationSeconds).toBe(1200);
    expect(platform.clamped).toEqual([
      "duration cut from 60 to 20 minutes (the platform's maximum now)",
    ]);
  });

  test("a service whose port changed is not the one approved; one marked read-only since is granted read-only", () => {
    const grant = clampAtApproval(
      { durationSeconds: 600, services: asked },
      {
        siteMaxMinutes: 120,
        platformSeconds: 7200,
        enabled: [
          { ...plc, mode: "modbus-read-only" },
          { ...web, port: 8443 },
        ],
      },
    );
    expect(grant.services).toEqual([
      expect.objectContaining({ port: 502, mode: "modbus-read-only" }),
    ]);
    expect(grant.clamped).toHaveLength(2);
  });

  test("no service left: 409 with the reason", () => {
    expect(() =>
      clampAtApproval(
        { durationSeconds: 600, services: asked },
        { siteMaxMinutes: 120, platformSeconds: 7200, enabled: [] },
      ),
    ).toThrow(StateError);
  });
});

describe("a request's minutes", () => {
  const platform = { remoteSessionSeconds: 3600 };
  const refusal = (minutes: number, siteMax: number) => {
    try {
      durationOf(minutes, siteMax, platform);
    } catch (error) {
      return error instanceof ValidationError ? `${error.field}: ${error.message}` : String(error);
    }
    return "accepted";
  };

  test("above a site maximum set higher than the platform's limit: the platform's limit is named", () => {
    expect(durationOf(undefined, 120, platform)).toBe(3600);
    expect(durationOf(60, 120, platform)).toBe(3600);
    expect(refusal(61, 120)).toContain("at most 60 minutes (the platform's maximum)");
  });

  test("above a lower site maximum: the site's is named", () => {
    expect(refusal(31, 30)).toContain("at most 30 minutes (the site's maximum)");
    expect(durationOf(undefined, 30, platform)).toBe(1800);
  });
});

// What a technician's request may ask for: a subset of the machine's enabled services and a
// duration up to the site's (and the platform's) maximum; and the one-time profile of a session
// that may connect.
import type { GrantedService, RequestMode, services } from "../db/index.ts";
import { StateError, ValidationError } from "../shared/index.ts";
import type { ServerInstance } from "./data-plane.ts";
import type { RemoteSession } from "./model.ts";
import { oneTimeProfile, type ProfilePki } from "./profiles.ts";

type Service = typeof services.$inferSelect;

/**
 * The services a request reaches: those named (each must be an enabled service of the machine —
 * 400 on `services` naming the one that is not), or every enabled one when none are named.
 */
export function chosenServices(enabled: Service[], asked: string[] | undefined): Service[] {
  if (!asked) return enabled;
  const chosen: Service[] = [];
  for (const id of asked) {
    const service = enabled.find((s) => s.id === id);
    if (!service)
      throw new ValidationError(
        "services",
        `${id} is not an enabled service of this machine: choose among ${enabled.map((s) => `${s.name} (${s.protocol}/${s.port})`).join(", ")}`,
      );
    if (!chosen.includes(service)) chosen.push(service);
  }
  return chosen;
}

/** The IANA port of Modbus/TCP. */
export const MODBUS_PORT = 502;

/**
 * Whether a read-only request may cover this service: Modbus/TCP, which Meetpoint knows by TCP on
 * port 502, or by a service its admin marked read-only Modbus already (Modbus on another port).
 */
export function modbusService(service: Pick<Service, "protocol" | "port" | "mode">): boolean {
  return (
    service.protocol === "tcp" &&
    (service.port === MODBUS_PORT || service.mode === "modbus-read-only")
  );
}

/**
 * The services a session grants, each with the mode the gateway forwards it in: as the service is
 * marked for a full request; "modbus-read-only" for every service of a read-only request. A
 * read-only request on a service that is not Modbus/TCP (see `modbusService`), or through a
 * workstation (no gateway agent to filter), is a 400 on `mode` naming the service.
 */
export function grantedServices(
  chosen: Service[],
  mode: RequestMode,
  gatewayKind: string,
): GrantedService[] {
  if (mode === "read_only" && gatewayKind === "workstation")
    throw new ValidationError(
      "mode",
      "read_only needs a connect gateway to filter Modbus: this machine is a workstation, only full access is possible",
    );
  return chosen.map((s) => {
    if (mode === "read_only" && !modbusService(s))
      throw new ValidationError(
        "mode",
        `read_only covers Modbus/TCP services only (TCP port ${MODBUS_PORT}, or a service marked read-only Modbus): ${s.name} (${s.protocol}/${s.port}) is not — leave it out or ask for full access`,
      );
    return {
      serviceId: s.id,
      name: s.name,
      protocol: s.protocol,
      port: s.port,
      mode: mode === "read_only" ? "modbus-read-only" : s.mode,
    };
  });
}

/**
 * How long a session lasts, in seconds: `minutes` as asked, or the longest allowed — the site's
 * maximum, or the platform's (MEETPOINT_REMOTE_SESSION_MINUTES) where that is shorter. Above it:
 * 400 on `minutes`, saying the maximum and whose it is.
 */
export function durationOf(
  minutes: number | undefined,
  siteMaxMinutes: number,
  platform: { remoteSessionSeconds: number },
): number {
  const platformMax = Math.floor(platform.remoteSessionSeconds / 60);
  const max = Math.min(siteMaxMinutes, platformMax);
  if (minutes === undefined) return max * 60;
  if (minutes > max)
    throw new ValidationError(
      "minutes",
      `at most ${max} minutes (the ${siteMaxMinutes <= platformMax ? "site's" : "platform's"} maximum)`,
    );
  return minutes * 60;
}

/** What an approval grants after `clampAtApproval`, and what it took away (in words; empty: none). */
export interface ClampedGrant {
  durationSeconds: number;
  services: GrantedService[];
  clamped: string[];
}

/**
 * A request as the site and machine allow it at its approval, which may come long after the
 * request: the duration cut to the site's current maximum (and the platform's,
 * `platformSeconds`), the services cut to those still enabled (`enabled`: the machine's enabled
 * services now) — a service marked read-only Modbus since is granted read-only. 409
 * ERR_NO_SERVICE_LEFT when none of the requested services is still enabled.
 */
export function clampAtApproval(
  asked: { durationSeconds: number | null; services: GrantedService[] },
  current: { siteMaxMinutes: number; platformSeconds: number; enabled: Service[] },
): ClampedGrant {
  const clamped: string[] = [];
  const maxSeconds = Math.min(current.siteMaxMinutes * 60, current.platformSeconds);
  const askedSeconds = asked.durationSeconds ?? maxSeconds;
  const durationSeconds = Math.min(askedSeconds, maxSeconds);
  if (durationSeconds < askedSeconds)
    clamped.push(
      `duration cut from ${askedSeconds / 60} to ${durationSeconds / 60} minutes (the ${current.siteMaxMinutes * 60 <= current.platformSeconds ? "site's" : "platform's"} maximum now)`,
    );
  const services: GrantedService[] = [];
  for (const granted of asked.services) {
    const now = current.enabled.find((s) => s.id === granted.serviceId);
    const label = `${granted.name} (${granted.protocol}/${granted.port})`;
    if (!now || now.protocol !== granted.protocol || now.port !== granted.port) {
      clamped.push(`${label} not granted: no longer an enabled service of the machine`);
      continue;
    }
    if (granted.mode !== "modbus-read-only" && now.mode === "modbus-read-only") {
      clamped.push(`${label} granted read-only: marked read-only Modbus since the request`);
      services.push({ ...granted, mode: "modbus-read-only" });
      continue;
    }
    services.push(granted);
  }
  if (services.length === 0)
    throw new StateError(
      "ERR_NO_SERVICE_LEFT",
      `None of the requested services is still enabled (${clamped.join("; ")}): nothing can be allowed. The technician must request access again.`,
    );
  return { durationSeconds, services, clamped };
}

/** The one-time .ovpn of a session that may connect: valid until its config and session expire. */
export async function technicianProfile(
  pki: ProfilePki,
  vpnHost: string,
  instance: ServerInstance,
  session: RemoteSession,
): Promise<string> {
  const { profile } = await oneTimeProfile(
    pki,
    vpnHost,
    {
      kind: "technician",
      id: session.id,
      firstUseBy: session.configExpiresAt,
      endsAt: session.endsAt,
    },
    instance,
    [session.proxyAddress],
    session.clientProxy ?? null,
  );
  return profile;
}

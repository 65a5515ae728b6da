// The SIEM destinations: read from a JSON file (MEETPOINT_SIEM_CONFIG) and validated whole at
// start; a bad file stops the platform with the field at fault.
import { readFileSync } from "node:fs";
import { ConfigError } from "@meetpoint/common";
import { z } from "zod";
import { AUDIT_ACTION_NAMES } from "../audit/index.ts";

const uuid = z.uuid({ error: "must be a customer id (uuid)" });

/** An action name, or a prefix ending in "." that selects a group ("remote_session."). */
const actionPattern = z
  .string()
  .refine(
    (v) =>
      (AUDIT_ACTION_NAMES as string[]).includes(v) ||
      (v.endsWith(".") && AUDIT_ACTION_NAMES.some((a) => a.startsWith(v))),
    "is not an audit action (docs/audit-actions.md) nor a prefix of one ending in '.'",
  );

export const destinationSchema = z
  .object({
    /** Unique name: the spool's cursor is kept under it. */
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, "lower-case letters, digits, - and _"),
    /** tls://host:port (RFC 5425, default port 6514), tcp://host:port or udp://host:port (514). */
    url: z
      .string()
      .regex(
        /^(tls|tcp|udp):\/\/[^/\s:]+(:\d{1,5})?$/,
        "must be tls://, tcp:// or udp://host[:port]",
      ),
    format: z.enum(["rfc5424", "cef"]).default("rfc5424"),
    /** PEM file of the CA that signed the collector's certificate (tls); default the system's. */
    ca: z.string().optional(),
    /** Client certificate and key (PEM files) when the collector wants mutual TLS. */
    cert: z.string().optional(),
    key: z.string().optional(),
    /** Name to check the collector's certificate against; default the URL's host. */
    serverName: z.string().optional(),
    /** RFC 5424 facility 0-23; default 13 (log audit). */
    facility: z.number().int().min(0).max(23).default(13),
    /** Only these actions (names or "prefix."); default all. */
    actions: z.array(actionPattern).optional(),
    /** Only entries of these customers; default all (including platform-wide entries). */
    customers: z.array(uuid).optional(),
  })
  .strict()
  .refine((d) => (d.cert === undefined) === (d.key === undefined), {
    message: "cert and key go together",
    path: ["cert"],
  });

export const siemConfigSchema = z
  .object({
    destinations: z.array(destinationSchema).max(20),
    /** Alarm when a destination's spool holds more than this many entries; default 10,000. */
    alarmBacklog: z.number().int().min(1).default(10_000),
  })
  .strict()
  .refine((c) => new Set(c.destinations.map((d) => d.name)).size === c.destinations.length, {
    message: "destination names must be unique",
    path: ["destinations"],
  });

export type DestinationConfig = z.infer<typeof destinationSchema>;
export type SiemConfig = z.infer<typeof siemConfigSchema>;

export interface Endpoint {
  transport: "tls" | "tcp" | "udp";
  host: string;
  port: number;
}

export function endpointOf(destination: DestinationConfig): Endpoint {
  const match = destination.url.match(/^(tls|tcp|udp):\/\/([^/:]+)(?::(\d+))?$/);
  if (!match) throw new Error(`not a syslog URL: ${destination.url}`);
  const transport = match[1] as Endpoint["transport"];
  const port = match[3] ? Number(match[3]) : transport === "tls" ? 6514 : 514;
  return { transport, host: match[2] ?? "", port };
}

/** Whether a destination's filter lets an entry through. */
export function selects(
  destination: Pick<DestinationConfig, "actions" | "customers">,
  entry: { action: string; customerId: string | null },
): boolean {
  if (
    destination.actions &&
    !destination.actions.some(
      (a) => a === entry.action || (a.endsWith(".") && entry.action.startsWith(a)),
    )
  )
    return false;
  if (
    destination.customers &&
    !(entry.customerId && destination.customers.includes(entry.customerId))
  )
    return false;
  return true;
}

/** Parses a SIEM configuration; throws ConfigError naming `variable` and the field at fault. */
export function parseSiemConfig(text: string, variable = "MEETPOINT_SIEM_CONFIG"): SiemConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError(variable, "the file is not JSON");
  }
  const result = siemConfigSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ConfigError(variable, `${issue?.path.join(".") || "file"}: ${issue?.message}`);
  }
  for (const d of result.data.destinations) {
    const { port } = endpointOf(d);
    if (port < 1 || port > 65535)
      throw new ConfigError(variable, `destinations.${d.name}.url: port must be 1-65535`);
  }
  return result.data;
}

/** Reads and parses the file at `path` (the value of MEETPOINT_SIEM_CONFIG). */
export function readSiemConfig(path: string): SiemConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(
      "MEETPOINT_SIEM_CONFIG",
      `cannot read ${path}: ${(error as Error).message}`,
    );
  }
  return parseSiemConfig(text);
}

// What `nft -j list set inet meetpoint service_grants` prints, parsed against the shape we expect
// (nftables 1.0.6 JSON): a shape we do not know is an error that says what was unexpected — never
// counters silently read as zero.
import { z } from "zod";
import { GRANTS_SET, TABLE, WORKSTATIONS_MAP } from "./ruleset.ts";

export interface GrantCounter {
  packets: number;
  bytes: number;
}

const count = z.number().int().nonnegative();

/** nft names protocols from /etc/protocols; without that file it prints their numbers. */
const PROTOCOL_NUMBERS: Record<number, string> = { 6: "tcp", 17: "udp" };

/** One element of the grants set: the set is declared with `counter`, so every element has one. */
const elementSchema = z
  .object({
    elem: z
      .object({
        val: z
          .object({
            concat: z.tuple([
              z.string(),
              z.string(),
              z.union([z.string(), z.number().int()]),
              z.number().int(),
            ]),
          })
          .strict(),
        counter: z.object({ packets: count, bytes: count }).strict(),
      })
      // timeout, expires or comment are nothing we use, and no reason to refuse.
      .loose(),
  })
  .strict();

const setSchema = z
  .object({
    family: z.literal("inet"),
    table: z.literal(TABLE),
    name: z.literal(GRANTS_SET),
    // nft leaves "elem" out when the set is empty.
    elem: z.array(elementSchema).optional(),
  })
  .loose();

const listSetSchema = z
  .object({
    nftables: z.array(
      z.object({ metainfo: z.object({}).loose().optional(), set: setSchema.optional() }).strict(),
    ),
  })
  .strict();

const listMapSchema = z
  .object({
    nftables: z.array(
      z
        .object({
          metainfo: z.object({}).loose().optional(),
          map: z
            .object({
              family: z.literal("inet"),
              table: z.literal(TABLE),
              name: z.literal(WORKSTATIONS_MAP),
              // nft leaves "elem" out when the map is empty.
              elem: z.array(z.tuple([z.string(), z.string()])).optional(),
            })
            .loose()
            .optional(),
        })
        .strict(),
    ),
  })
  .strict();

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "invalid";
  const where = issue.path.join(".") || "the output";
  if (issue.code === "unrecognized_keys")
    return `${where}: unexpected field(s) ${issue.keys.join(", ")}`;
  return `${where}: ${issue.message}`;
}

/**
 * Packets and bytes per grant element ("tech . proxy . proto . port", as `grantElement` writes it)
 * from the JSON of `nft -j list set inet meetpoint service_grants`; throws saying what was unexpected.
 */
export function parseGrantCounters(json: string): Map<string, GrantCounter> {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (cause) {
    throw new Error("nft -j list set: the output is not JSON", { cause });
  }
  const parsed = listSetSchema.safeParse(data);
  if (!parsed.success)
    throw new Error(`nft -j list set: unexpected output, ${describe(parsed.error)}`);
  const sets = parsed.data.nftables.flatMap((item) => (item.set ? [item.set] : []));
  if (sets.length !== 1)
    throw new Error(`nft -j list set: expected the set ${GRANTS_SET}, found ${sets.length} sets`);
  const counters = new Map<string, GrantCounter>();
  for (const { elem } of sets[0]?.elem ?? []) {
    const [technician, proxy, protocol, port] = elem.val.concat;
    const name =
      typeof protocol === "number" ? (PROTOCOL_NUMBERS[protocol] ?? String(protocol)) : protocol;
    counters.set(`${technician} . ${proxy} . ${name} . ${port}`, {
      packets: elem.counter.packets,
      bytes: elem.counter.bytes,
    });
  }
  return counters;
}

/**
 * Proxy address → tunnel address of the translated workstations, from the JSON of
 * `nft -j list map inet meetpoint workstation_addresses`; throws saying what was unexpected.
 */
export function parseWorkstationMap(json: string): Map<string, string> {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (cause) {
    throw new Error("nft -j list map: the output is not JSON", { cause });
  }
  const parsed = listMapSchema.safeParse(data);
  if (!parsed.success)
    throw new Error(`nft -j list map: unexpected output, ${describe(parsed.error)}`);
  const maps = parsed.data.nftables.flatMap((item) => (item.map ? [item.map] : []));
  if (maps.length !== 1)
    throw new Error(`nft -j list map: expected the map ${WORKSTATIONS_MAP}, found ${maps.length}`);
  return new Map(maps[0]?.elem ?? []);
}

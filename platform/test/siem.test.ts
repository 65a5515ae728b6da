// SIEM export against a real rsyslog on 127.0.0.1: RFC 5424 over TLS (RFC 5425 framing), CEF over
// plain TCP with a filter, UDP; and a collector stopped for a while during sign-ins and sessions:
// the spool grows, the alarm is raised, the platform keeps working, and after the restart every
// entry arrives, in order (what was sent just before the collector closed, again).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { waitFor } from "@meetpoint/common";
import { asc, eq } from "drizzle-orm";
import { prerequisite } from "../../common/test/support/prerequisite.ts";
import { recordAuditAlone } from "../src/audit/index.ts";
import { auditEntries } from "../src/db/index.ts";
import { createCustomer } from "../src/masterdata/index.ts";
import { type SiemConfig, SiemExport } from "../src/siem/index.ts";
import { arrangeMachine } from "./support/arrange.ts";
import { dataChannelProfile, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { Browser } from "./support/portal.ts";
import { rsyslogAvailable, startRsyslog } from "./support/rsyslog.ts";
import { type TlsFiles, tlsFiles } from "./support/tls-files.ts";

/** How long the collector stays down in the outage test; the issue asks for a minute. */
const OUTAGE_MS = Number(process.env.MEETPOINT_TEST_SIEM_OUTAGE_SECONDS ?? 60) * 1000;

const missing = prerequisite(
  "the SIEM tests",
  rsyslogAvailable() ? null : "rsyslogd is not installed (apt-get install rsyslog rsyslog-gnutls)",
);

let p: TlsFiles;
let platform: TestPlatform;
/** Collectors and exporters started, stopped after the tests even when one fails half-way. */
const started: { stop(): Promise<void> }[] = [];

async function collectorFor(transport: "tls" | "tcp" | "udp") {
  const collector = await startRsyslog(p, transport);
  started.push(collector);
  return collector;
}

/** The audit sequence numbers in a collector's messages, in the order they arrived. */
function seqs(lines: string[]): number[] {
  return lines.map((line) => Number(line.match(/ seq="(\d+)"/)?.[1] ?? Number.NaN));
}

async function allSeqs(): Promise<number[]> {
  const rows = await platform.database.db
    .select({ seq: auditEntries.seq })
    .from(auditEntries)
    .orderBy(asc(auditEntries.seq));
  return rows.map((r) => r.seq);
}

function exporter(...args: Parameters<typeof newExporter>) {
  const siem = newExporter(...args);
  started.push(siem);
  return siem;
}

function newExporter(
  config: SiemConfig,
  extra: Partial<ConstructorParameters<typeof SiemExport>[0]> = {},
) {
  return new SiemExport({
    db: platform.database.db,
    clock: platform.clock,
    config,
    identity: { hostname: "platform.lab.test" },
    version: "test",
    instance: "test-instance",
    pollMs: 50,
    ...extra,
  });
}

describe.skipIf(missing !== null)("SIEM export to a real rsyslog", () => {
  beforeAll(async () => {
    p = await tlsFiles("siem");
    platform = await testPlatform();
  }, 60_000);
  afterAll(async () => {
    for (const thing of started.reverse()) await thing.stop().catch(() => {});
    await platform?.dispose();
    p?.dispose();
  });

  test("RFC 5424 over TLS (RFC 5425 framing): every entry arrives in order, with its fields", async () => {
    const collector = await collectorFor("tls");
    const siem = exporter({
      alarmBacklog: 1000,
      destinations: [
        {
          name: "soc",
          url: `tls://127.0.0.1:${collector.port}`,
          format: "rfc5424",
          ca: p.ca,
          facility: 13,
        },
      ],
    });
    siem.start();
    try {
      await createCustomer(platform.adminCtx, { name: 'Quote "and] back\\slash' });
      const expected = await allSeqs();
      expect(
        await waitFor(() => seqs(collector.received()).length >= expected.length, {
          timeoutMs: 10_000,
        }),
      ).toBe(true);
      expect(seqs(collector.received())).toEqual(expected);
      const line = collector.received().find((l) => l.includes("customer.create")) ?? "";
      // <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] BOM MSG; facility 13 × 8 + severity 6.
      expect(line).toMatch(
        /^<110>1 \d{4}-\d\d-\d\dT[\d:.]+Z platform\.lab\.test meetpoint - customer\.create \[meetpoint@32473 seq="\d+" action="customer\.create" result="ok" actor="admin"/,
      );
      const json = JSON.parse(line.slice(line.indexOf("{")));
      expect(json.detail.name).toBe('Quote "and] back\\slash');
    } finally {
      await siem.stop();
      await collector.stop();
    }
  }, 60_000);

  test(
    "the collector stopped during sign-ins and sessions: the spool grows, the alarm is raised, the platform keeps working, and after the restart every entry arrives, in order (a repeat only of what was sent just before the collector closed)",
    async () => {
      const collector = await collectorFor("tls");
      const alarms: boolean[] = [];
      const siem = exporter(
        {
          alarmBacklog: 20,
          destinations: [
            {
              name: "outage",
              url: `tls://127.0.0.1:${collector.port}`,
              format: "rfc5424",
              ca: p.ca,
              facility: 13,
            },
          ],
        },
        {
          onAlarm: async (change) => {
            alarms.push(change.raised);
            await recordAuditAlone(platform.database.db, platform.clock, {
              actor: { id: null, name: "system", ip: null },
              action: "siem.alarm",
              result: change.raised ? "failed" : "ok",
              detail: {
                destination: change.destination,
                backlog: change.backlog,
                error: change.lastError,
              },
            });
          },
        },
      );
      siem.start();
      const scene = await arrangeMachine(platform, [
        { name: "Web", protocol: "tcp", port: 80, enabled: true },
      ]);
      const before = await allSeqs();
      expect(
        await waitFor(() => seqs(collector.received()).length >= before.length, {
          timeoutMs: 10_000,
        }),
      ).toBe(true);

      await collector.stop();
      const beforeOutage = seqs(collector.received());
      // Sign-ins (refused and accepted) and remote sessions while the collector is away.
      const access = platform.access;
      const stopAt = Date.now() + OUTAGE_MS;
      let round = 0;
      while (Date.now() < stopAt || round < 3) {
        round++;
        const browser = new Browser(platform.app, `198.18.7.${(round % 200) + 1}`);
        await browser.get("/sign-in");
        const refused = await browser.post("/sign-in", {
          username: "nobody",
          password: `wrong-${round}`,
        });
        expect(refused.status).toBeLessThan(500);
        const page = await platform.admin.get("/machines");
        expect(page.status).toBe(200); // the platform keeps working
        const { envelope } = await access.dataChannels.request(scene.gatewayId);
        const profile = await dataChannelProfile(platform, scene.gatewayId, envelope);
        const gateway = await access.connections.decide(`0:${round * 2}`, serialOf(profile));
        expect(gateway.allow).toBe(true);
        const { session, profile: technicianProfile } = await access.remoteSessions.request(
          scene.technician,
          scene.machineId,
          { reason: `ticket ${round}` },
        );
        const technician = await access.connections.decide(
          `0:${round * 2 + 1}`,
          serialOf(technicianProfile),
        );
        expect(technician.allow).toBe(true);
        await access.remoteSessions.disconnect(scene.technician, session.id);
        await Bun.sleep(Math.min(1000, Math.max(0, OUTAGE_MS / 20)));
      }
      expect(await waitFor(() => alarms.includes(true), { timeoutMs: 10_000 })).toBe(true);
      expect(siem.status()[0]).toMatchObject({ connected: false, alarm: true });
      expect(siem.status()[0]?.backlog).toBeGreaterThan(20);

      await collector.start();
      const expected = await allSeqs();
      expect(
        await waitFor(() => seqs(collector.received()).length >= expected.length, {
          timeoutMs: 60_000,
        }),
      ).toBe(true);
      expect(await waitFor(() => alarms.at(-1) === false, { timeoutMs: 10_000 })).toBe(true);
      await siem.stop();
      await collector.stop();
      const arrived = seqs(collector.received());
      const all = await allSeqs();
      // In order: the log's sequence (the alarm's own entries included). A batch written within
      // the confirmation time before the collector closed may have reached it after its close, so
      // it is sent again: after the restart, a tail of what had arrived, then the rest.
      const after = arrived.slice(beforeOutage.length);
      const repeated = after.filter((seq) => beforeOutage.includes(seq)).length;
      expect(arrived.slice(0, beforeOutage.length)).toEqual(all.slice(0, beforeOutage.length));
      expect(after).toEqual([
        ...beforeOutage.slice(beforeOutage.length - repeated),
        ...all.slice(beforeOutage.length),
      ]);
      const [raised] = await platform.database.db
        .select()
        .from(auditEntries)
        .where(eq(auditEntries.action, "siem.alarm"));
      expect(raised?.result).toBe("failed");
    },
    OUTAGE_MS + 120_000,
  );

  test("the collector stopped twice while entries stream in: nothing lost, first arrivals in order, repeats only of what was unconfirmed when it closed (recognisable by their seq)", async () => {
    const collector = await collectorFor("tcp");
    const siem = exporter({
      alarmBacklog: 1_000_000,
      destinations: [
        {
          name: "streaming",
          url: `tcp://127.0.0.1:${collector.port}`,
          format: "rfc5424",
          facility: 13,
        },
      ],
    });
    siem.start();
    let writing = true;
    const writer = (async () => {
      while (writing) {
        for (let i = 0; i < 10; i++)
          await recordAuditAlone(platform.database.db, platform.clock, {
            actor: { id: null, name: "load", ip: null },
            action: "sign_in",
            result: "denied",
            detail: { reason: "load" },
          });
        await Bun.sleep(1);
      }
    })();
    const count = async () => (await allSeqs()).length;
    const start = await count();
    for (const pause of [1, 2]) {
      expect(
        await waitFor(async () => (await count()) > start + 200 * pause, { timeoutMs: 20_000 }),
      ).toBe(true);
      await collector.stop();
      const during = await count();
      expect(await waitFor(async () => (await count()) > during + 100, { timeoutMs: 20_000 })).toBe(
        true,
      );
      await collector.start();
    }
    writing = false;
    await writer;
    const all = await allSeqs();
    // After a long outage the forwarder retries at most every 30 s (its back-off): wait past that.
    const complete = await waitFor(() => new Set(seqs(collector.received())).size >= all.length, {
      timeoutMs: 90_000,
    });
    const missing = all.filter((seq) => !seqs(collector.received()).includes(seq));
    expect({ complete, missing }).toEqual({ complete: true, missing: [] });
    await siem.stop();
    await collector.stop();
    const arrived = seqs(collector.received());
    const firsts = arrived.filter((seq, i) => arrived.indexOf(seq) === i);
    expect(firsts).toEqual(all);
    const repeats = arrived.length - firsts.length;
    console.log(`streaming outage: ${all.length} entries, ${repeats} sent again after a close`);
  }, 180_000);

  test("CEF over plain TCP, filtered by action and customer; RFC 5424 over UDP", async () => {
    const tcp = await collectorFor("tcp");
    const udp = await collectorFor("udp");
    const acme = await createCustomer(platform.adminCtx, { name: "Filtered ACME" });
    const bolt = await createCustomer(platform.adminCtx, { name: "Filtered BOLT" });
    const from = (await allSeqs()).at(-1) ?? 0;
    const siem = exporter({
      alarmBacklog: 1000,
      destinations: [
        {
          name: "cef",
          url: `tcp://127.0.0.1:${tcp.port}`,
          format: "cef",
          facility: 10,
          actions: ["site.", "customer.update"],
          customers: [acme.id],
        },
        // UDP is best effort (RFC 5426): a burst of the whole log could overflow the receiver's
        // buffer, so this one sends only ACME's entries.
        {
          name: "udp",
          url: `udp://127.0.0.1:${udp.port}`,
          format: "rfc5424",
          facility: 13,
          customers: [acme.id],
        },
      ],
    });
    siem.start();
    try {
      const { createSite, renameCustomer } = await import("../src/masterdata/index.ts");
      await createSite(platform.adminCtx, acme.id, { name: "Hall|A=1" });
      await createSite(platform.adminCtx, bolt.id, { name: "Hall B" });
      await renameCustomer(platform.adminCtx, acme.id, { name: "ACME renamed" });
      const acmeRows = await platform.database.db
        .select({ seq: auditEntries.seq })
        .from(auditEntries)
        .where(eq(auditEntries.customerId, acme.id))
        .orderBy(asc(auditEntries.seq));
      const all = acmeRows.map((r) => r.seq);
      expect(all).toHaveLength(3); // customer, site, rename
      expect(
        await waitFor(() => seqs(udp.received()).length >= all.length, { timeoutMs: 10_000 }),
      ).toBe(true);
      expect(seqs(udp.received())).toEqual(all);
      expect(await waitFor(() => tcp.received().length >= 2, { timeoutMs: 10_000 })).toBe(true);
      const cefLines = tcp.received().filter((l) => l.includes("CEF:0"));
      expect(cefLines.map((l) => l.split("|")[4])).toEqual(["site.create", "customer.update"]);
      expect(cefLines[0]).toMatch(/^<86>1 /); // facility 10 (authpriv) × 8 + 6
      expect(cefLines[0]).toContain(
        "CEF:0|Meetpoint|Meetpoint platform|test|site.create|a site was created|3|",
      );
      expect(cefLines[0]).toContain(`cs1=${acme.id}`);
      expect(cefLines[0]).toContain("Hall|A\\=1");
      expect(Number(cefLines[0]?.match(/externalId=(\d+)/)?.[1])).toBeGreaterThan(from);
      // The filter moved the cursor past what it skipped: nothing waits.
      expect(
        await waitFor(() => siem.status().every((s) => s.backlog === 0), { timeoutMs: 10_000 }),
      ).toBe(true);
    } finally {
      await siem.stop();
      await tcp.stop();
      await udp.stop();
    }
  }, 60_000);
});

// Benchmark: audit entries exported per second to a real rsyslog on 127.0.0.1 (RFC 5424 over TLS,
// RFC 5425 framing), and the spool catching up after the collector was stopped while entries
// kept coming. Entries are written as a valid chain in batches (the export reads them as the
// platform writes them).

import { waitFor } from "@meetpoint/common";
import { desc } from "drizzle-orm";
import { entryHash, GENESIS_HASH } from "../src/audit/index.ts";
import { auditEntries, type Db } from "../src/db/index.ts";
import { systemClock } from "../src/shared/index.ts";
import { SiemExport } from "../src/siem/index.ts";
import { testDatabase } from "../test/support/database.ts";
import { rsyslogAvailable, startRsyslog } from "../test/support/rsyslog.ts";
import { tlsFiles } from "../test/support/tls-files.ts";

export interface SiemFigures {
  database: string;
  entries: number;
  entriesPerSecond: number;
  outage: { entries: number; catchUpSeconds: number; entriesPerSecond: number };
  /** Entries that never arrived, and arrivals of an entry that had arrived before. */
  lost: number;
  repeated: number;
}

/** Appends `count` chained entries in batches of 1000. */
async function append(db: Db, count: number): Promise<void> {
  const [last] = await db
    .select({ hash: auditEntries.hash })
    .from(auditEntries)
    .orderBy(desc(auditEntries.seq))
    .limit(1);
  let prevHash = last?.hash ?? GENESIS_HASH;
  for (let done = 0; done < count; done += 1000) {
    const rows = [];
    for (let i = done; i < Math.min(count, done + 1000); i++) {
      const fields = {
        at: new Date(),
        actorId: null,
        actorName: `tech${i % 50}`,
        action: i % 2 ? "sign_in" : "remote_session.request",
        targetType: "machine",
        targetId: `m${i}`,
        customerId: null,
        ip: "198.18.0.9",
        result: "ok" as const,
        detail: { reason: `ticket ${i}` },
        prevHash,
      };
      const hash = entryHash(fields);
      rows.push({ ...fields, hash });
      prevHash = hash;
    }
    await db.insert(auditEntries).values(rows);
  }
}

const seqsIn = (lines: string[]) => lines.map((l) => Number(l.match(/ seq="(\d+)"/)?.[1]));
/** Distinct entries a collector received (a repeat after its restart counts once). */
const distinct = (received: () => string[]) => new Set(seqsIn(received())).size;

export async function benchSiem(options: {
  entries: number;
  outageEntries: number;
  databaseUrl: string | null;
}): Promise<SiemFigures | { skipped: string }> {
  if (!rsyslogAvailable())
    return { skipped: "rsyslogd is not installed (apt-get install rsyslog rsyslog-gnutls)" };
  const files = await tlsFiles("bench-siem");
  // A database of its own, dropped at the end: a bench never fills the server's named database.
  const database = await testDatabase({ server: options.databaseUrl ?? undefined });
  const collector = await startRsyslog(files, "tls");
  const siem = new SiemExport({
    db: database.db,
    clock: systemClock,
    config: {
      alarmBacklog: 1_000_000,
      destinations: [
        {
          name: "bench",
          url: `tls://127.0.0.1:${collector.port}`,
          format: "rfc5424",
          ca: files.ca,
          facility: 13,
        },
      ],
    },
    identity: { hostname: "platform.bench" },
    version: "bench",
    instance: "bench",
    pollMs: 50,
  });
  try {
    await append(database.db, options.entries);
    const started = performance.now();
    siem.start();
    await waitFor(() => distinct(collector.received) >= options.entries, {
      timeoutMs: 600_000,
      intervalMs: 100,
    });
    const seconds = (performance.now() - started) / 1000;

    await collector.stop();
    await append(database.db, options.outageEntries);
    await waitFor(() => (siem.status()[0]?.backlog ?? 0) >= options.outageEntries, {
      timeoutMs: 60_000,
    });
    const restarted = performance.now();
    await collector.start();
    const total = options.entries + options.outageEntries;
    await waitFor(() => distinct(collector.received) >= total, {
      timeoutMs: 600_000,
      intervalMs: 100,
    });
    const catchUp = (performance.now() - restarted) / 1000;
    await siem.stop();
    const seqs = seqsIn(collector.received());
    const unique = new Set(seqs);
    return {
      database: database.driver,
      entries: options.entries,
      entriesPerSecond: options.entries / seconds,
      outage: {
        entries: options.outageEntries,
        catchUpSeconds: catchUp,
        entriesPerSecond: options.outageEntries / catchUp,
      },
      lost: total - unique.size,
      repeated: seqs.length - unique.size,
    };
  } finally {
    await siem.stop();
    await collector.stop();
    await database.dispose();
    files.dispose();
  }
}

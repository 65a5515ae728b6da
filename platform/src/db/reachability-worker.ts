// The database probe's thread (see reachability.ts): its own postgres.js connection, `select 1`
// every interval; each answer's time goes into the shared slot. A probe past its deadline counts
// as unanswered and its connection is dropped, so a server gone silent cannot hold the next one.
import { workerData } from "node:worker_threads";
import postgres from "postgres";
import { writableTarget } from "./postgres-url.ts";

interface ProbeStart {
  url: string;
  shared: SharedArrayBuffer;
  intervalMs: number;
  deadlineMs: number;
}

const open = (url: string, deadlineMs: number) =>
  // Only the server the platform writes to counts as answering: never a standby (postgres-url.ts).
  postgres(writableTarget(url), {
    max: 1,
    connect_timeout: Math.ceil(deadlineMs / 1000),
    idle_timeout: 0,
    onnotice: () => {},
  });

async function probe({ url, shared, intervalMs, deadlineMs }: ProbeStart): Promise<never> {
  const last = new BigInt64Array(shared);
  let sql = open(url, deadlineMs);
  for (;;) {
    const started = Date.now();
    const answered = await Promise.race([
      sql`select 1`.then(
        () => true,
        () => false,
      ),
      Bun.sleep(deadlineMs).then(() => false),
    ]);
    if (answered) Atomics.store(last, 0, BigInt(Date.now()));
    else {
      void sql.end({ timeout: 0 }).catch(() => {});
      sql = open(url, deadlineMs);
    }
    await Bun.sleep(Math.max(0, intervalMs - (Date.now() - started)));
  }
}

void probe(workerData as ProbeStart);

// When the SIEM forwarder counts a batch as delivered: syslog over TCP has no acknowledgement, so a
// batch counts once the connection carried it for the confirmation time. A collector that closes
// cleanly (its FIN) read what reached it before its close — but a batch written just before may
// have reached the closed socket, whose reset can come after our side has closed: the project's CI
// lost 30 entries that way when rsyslog was stopped mid-stream. Driven round by round here, with a
// connection that records what it was handed and ends when told.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { recordAuditAlone } from "../src/audit/index.ts";
import { SiemForwarder, type SyslogConnection } from "../src/siem/index.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

const CONFIRM_MS = 200;

class HandedOver implements SyslogConnection {
  ended: SyslogConnection["ended"] = null;
  readonly datagrams = false;
  private readonly handed: Buffer[] = [];
  async write(data: Buffer): Promise<void> {
    this.handed.push(data);
  }
  close(): void {}
  /** The audit sequence numbers handed to this connection, in order. */
  seqs(): number[] {
    const text = Buffer.concat(this.handed).toString("utf8");
    return [...text.matchAll(/ seq="(\d+)"/g)].map((m) => Number(m[1]));
  }
  /** The collector closes its side now: a FIN, no reset. */
  fin(): void {
    this.ended = { clean: true, at: performance.now() };
  }
}

let platform: TestPlatform;
const connections: HandedOver[] = [];
let forwarder: SiemForwarder;

const record = (n: number) =>
  Promise.all(
    Array.from({ length: n }, () =>
      recordAuditAlone(platform.database.db, platform.clock, {
        actor: { id: null, name: "load", ip: null },
        action: "sign_in",
        result: "denied",
        detail: { reason: "load" },
      }),
    ),
  );

beforeAll(async () => {
  platform = await testPlatform();
  forwarder = new SiemForwarder({
    db: platform.database.db,
    clock: platform.clock,
    destination: { name: "scripted", url: "tcp://127.0.0.1:6514", format: "rfc5424", facility: 13 },
    identity: { hostname: "platform.lab.test" },
    version: "test",
    instance: "test-instance",
    alarmBacklog: 1_000_000,
    confirmMs: CONFIRM_MS,
    connect: async () => {
      const connection = new HandedOver();
      connections.push(connection);
      return connection;
    },
  });
});
afterAll(() => platform?.dispose());

test("a batch written just before the collector's FIN is sent again; one the connection carried for the confirmation time is not", async () => {
  await record(3);
  expect(await forwarder.round()).toBe("sent");
  const first = connections[0] as HandedOver;
  const batch = first.seqs();
  expect(batch.length).toBeGreaterThanOrEqual(3);
  // The FIN arrives right after the batch was written: it may not have been read. A close that
  // confirmed nothing counts as down (the export's back-off applies, no resend at once).
  first.fin();
  expect(await forwarder.round()).toBe("down");
  expect(forwarder.status().lastError).toContain(`within ${CONFIRM_MS} ms of a batch`);
  expect(connections).toHaveLength(1);
  expect(await forwarder.round()).toBe("sent");
  const second = connections[1] as HandedOver;
  expect(second.seqs()).toEqual(batch);
  expect(forwarder.status().deliveredSeq).toBeLessThan(batch.at(-1) as number);

  // The next batch stays on the open connection for the confirmation time, then the FIN comes.
  await Bun.sleep(CONFIRM_MS + 50);
  await record(2);
  expect(await forwarder.round()).toBe("sent");
  const later = second.seqs().slice(batch.length);
  expect(later.length).toBeGreaterThanOrEqual(2);
  await Bun.sleep(CONFIRM_MS + 50);
  second.fin();
  expect(await forwarder.round()).toBe("idle");
  expect(forwarder.status().deliveredSeq).toBe(later.at(-1) as number);
  expect(connections).toHaveLength(2);
});

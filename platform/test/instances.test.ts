// Several platform instances over one database: the registry's refusals (clock skew, overlapping
// tunnel pools, a second instance on PGlite), singleton jobs under leases, commands crossing
// instances through NOTIFY (and without it), and a lost instance's sessions ended by a survivor.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCidr, parseConfig } from "@meetpoint/common";
import { eq } from "drizzle-orm";
import postgres from "postgres";
import { SYSTEM_ACTOR, verifyAuditChain } from "../src/audit/index.ts";
import { readConfig } from "../src/config.ts";
import {
  auditEntries,
  type Database,
  gatewaySessions,
  openDatabase,
  platformInstances,
  remoteSessions,
} from "../src/db/index.ts";
import { GatewayCommands } from "../src/gateways/index.ts";
import {
  type InstanceIdentity,
  InstanceRefused,
  InstanceRegistry,
  JobLeases,
  STALE_MS,
  sweepLostInstances,
} from "../src/instances/index.ts";
import { StartRefused, startPlatform } from "../src/platform.ts";
import {
  createRemoteAccess,
  RecordingDataPlane,
  type RemoteAccess,
} from "../src/sessions/index.ts";
import type { Clock } from "../src/shared/index.ts";
import { arrangeMachine, type Scene } from "./support/arrange.ts";
import { dataChannelProfile, serialOf } from "./support/gateway.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";

/** The real clock shifted by `offset` ms (changeable), as another host's clock would be. */
function shiftedClock(offset = 0): Clock & { offset: number } {
  return {
    offset,
    now() {
      return new Date(Date.now() + this.offset);
    },
  };
}

function identity(id: string, pool: string): InstanceIdentity {
  const tunnelPool = parseCidr(pool);
  if (!tunnelPool) throw new Error(`bad pool ${pool}`);
  return {
    id,
    host: `${id}.hosts.test`,
    vpnHost: `vpn-${id}.lab.test`,
    vpnEndpoints: [`vpn-${id}.lab.test:tcp/443`],
    tunnelPool,
  };
}

let p: TestPlatform;
let scene: Scene;

beforeAll(async () => {
  p = await testPlatform();
  scene = await arrangeMachine(p, [{ name: "Web", protocol: "tcp", port: 443, enabled: true }]);
}, 60_000);
afterAll(() => p.dispose());

describe("instance registry", () => {
  test("an instance whose clock is off by more than the allowance is refused, saying by how much", async () => {
    const registry = new InstanceRegistry({
      db: p.database.db,
      clock: shiftedClock(-5000),
      self: identity("skewed", "100.120.0.0/16"),
      skewAllowanceMs: 2000,
    });
    const refused = await registry.register().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(InstanceRefused);
    expect((refused as InstanceRefused).code).toBe("ERR_CLOCK_SKEW");
    expect((refused as Error).message).toMatch(
      /instance skewed: this host's clock is (4\.\d|5\.\d) s behind the database's \(allowed: 2\.0 s/,
    );
    const rows = await p.database.db
      .select()
      .from(platformInstances)
      .where(eq(platformInstances.id, "skewed"));
    expect(rows).toHaveLength(0);
    // Within the allowance it serves.
    const fine = new InstanceRegistry({
      db: p.database.db,
      clock: shiftedClock(500),
      self: identity("fine", "100.121.0.0/16"),
      skewAllowanceMs: 2000,
    });
    await fine.register();
    await fine.stopped();
  });

  test("a clock that steps away while serving: the instance is told to stop after three refreshes in a row, saying why", async () => {
    const clock = shiftedClock(0);
    const registry = new InstanceRegistry({
      db: p.database.db,
      clock,
      self: identity("drifting", "100.123.0.0/16"),
      skewAllowanceMs: 2000,
    });
    await registry.register();
    expect(await registry.refresh()).toEqual({ registered: true, refusal: null });
    // NTP steps this host's clock 5 s ahead: one or two refreshes pass (a step that is corrected
    // at once is not a reason to cut every session here), the third says stop.
    clock.offset = 5000;
    expect((await registry.refresh()).refusal).toBeNull();
    expect((await registry.refresh()).refusal).toBeNull();
    expect((await registry.refresh()).refusal).toMatch(
      /instance drifting: this host's clock is (4\.\d|5\.\d) s ahead of the database's \(allowed: 2\.0 s, MEETPOINT_CLOCK_SKEW_ALLOWANCE_MS\).*start the instance again/,
    );
    // Back in step: the count starts over.
    clock.offset = 0;
    expect((await registry.refresh()).refusal).toBeNull();
    clock.offset = 5000;
    expect((await registry.refresh()).refusal).toBeNull();
    await registry.stopped();
  });

  test("one instance id, two instances: another host's live one refuses the newcomer; a process that took this host's id stops the older one", async () => {
    const clock = shiftedClock();
    const on = (host: string, takeOverWaitMs = 300) =>
      new InstanceRegistry({
        db: p.database.db,
        clock,
        self: { ...identity("twin", "100.124.0.0/16"), host },
        takeOverWaitMs,
      });
    const first = on("host-1");
    await first.register();
    // host-2 is configured with the same MEETPOINT_INSTANCE_ID while host-1 serves.
    const beating = setInterval(() => void first.refresh(), 50);
    const refused = await on("host-2")
      .register()
      .catch((error: unknown) => error);
    clearInterval(beating);
    expect((refused as InstanceRefused).code).toBe("ERR_INSTANCE_ID_IN_USE");
    expect((refused as Error).message).toContain("a live instance on host-1 has this id");
    expect((await first.refresh()).refusal).toBeNull();
    // host-1 crashes (stops refreshing): host-2 takes the id over after watching it.
    const second = on("host-2");
    await second.register();
    // The crashed run comes back (a stall, not a crash): its refresh learns the id is taken, and
    // it stops serving, saying why.
    const back = await first.refresh();
    expect(back.registered).toBe(false);
    expect(back.refusal).toContain("another process registered with this instance id (host host-2");
    expect((await second.refresh()).refusal).toBeNull();
    // The same host's own earlier run (a restart after a crash) is taken over at once.
    const started = performance.now();
    const restarted = on("host-2", 60_000);
    await restarted.register();
    expect(performance.now() - started).toBeLessThan(5000);
    expect((await second.refresh()).refusal).toContain("another process registered");
    await restarted.stopped();
  });

  test("a tunnel pool overlapping a live instance's is refused, naming it and both ranges; a stopped or lost one's is not", async () => {
    const clock = shiftedClock();
    const one = new InstanceRegistry({
      db: p.database.db,
      clock,
      self: identity("one", "100.122.0.0/16"),
    });
    await one.register();
    const two = new InstanceRegistry({
      db: p.database.db,
      clock,
      self: identity("two", "100.122.128.0/17"),
    });
    const refused = await two.register().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(InstanceRefused);
    expect((refused as Error).message).toBe(
      "instance two: MEETPOINT_TUNNEL_POOL 100.122.128.0/17 overlaps 100.122.0.0/16 of the live instance one (one.hosts.test): give each instance its own slice of the tunnel pool",
    );
    // Disjoint slices serve side by side.
    const three = new InstanceRegistry({
      db: p.database.db,
      clock,
      self: identity("three", "100.123.0.0/16"),
    });
    await three.register();
    expect((await three.live()).map((i) => i.id).sort()).toEqual(["one", "three"]);
    // Once "one" stops, its slice is free.
    await one.stopped();
    await two.register();
    await two.stopped();
    await three.stopped();
  });

  test("PGlite: a second platform on the same data directory is refused with the reason", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "meetpoint-instances-"));
    // Another live process holds the data directory, as a first platform would.
    const first = Bun.spawn(["sleep", "60"]);
    writeFileSync(join(dataDir, "meetpoint.pid"), `${first.pid}\nthe Meetpoint platform\n`);
    try {
      const config = readConfig({ MEETPOINT_DATA_DIR: dataDir, MEETPOINT_VPN_LISTEN: "off" });
      const refused = await startPlatform(config).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(StartRefused);
      expect((refused as Error).message).toContain(
        `is in use by the Meetpoint platform (pid ${first.pid})`,
      );
      expect((refused as Error).message).toContain(
        "PGlite is single-instance; use PostgreSQL to run several instances.",
      );
    } finally {
      first.kill();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe("singleton jobs", () => {
  test("one instance runs a job; the other takes it over when the first stops, or when its lease runs out", async () => {
    const clock = shiftedClock();
    const a = new JobLeases(p.database.db, clock, "instance-a", 10_000);
    const b = new JobLeases(p.database.db, clock, "instance-b", 10_000);
    const ran: string[] = [];
    const tick = async () => {
      // Both instances tick at once, as their timers would.
      await Promise.all([
        a.run("retention", async () => ran.push("a")),
        b.run("retention", async () => ran.push("b")),
      ]);
    };
    for (let i = 0; i < 5; i++) await tick();
    expect(ran).toHaveLength(5);
    expect(new Set(ran).size).toBe(1);
    const first = ran[0] === "a" ? a : b;
    const other = ran[0] === "a" ? "b" : "a";
    // A clean stop hands the job over at once.
    await first.releaseAll();
    ran.length = 0;
    await (first === a ? b : a).run("retention", async () => ran.push(other));
    for (let i = 0; i < 3; i++) await tick();
    expect(ran).toEqual([other, other, other, other]);
    // A holder that dies keeps its lease until it runs out; then the survivor takes it.
    ran.length = 0;
    const survivor = first;
    expect(await survivor.run("retention", async () => ran.push("survivor"))).toBe(false);
    clock.offset += 10_001;
    expect(await survivor.run("retention", async () => ran.push("survivor"))).toBe(true);
    expect(ran).toEqual(["survivor"]);
  });
});

describe("gateway commands across instances", () => {
  let second: Database | null = null;
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const stop of stops) await stop();
    await second?.close();
  });

  /** Two instances' command queues, each on its own database connection (PostgreSQL). */
  async function pair(options: { listen: boolean }) {
    const url = p.database.url;
    if (url && !second) second = openDatabase({ url, dataDir: null });
    const other = second ?? p.database;
    const a = new GatewayCommands(p.database.db, p.pki, p.clock);
    const b = new GatewayCommands(other.db, p.pki, p.clock);
    await a.start(options.listen ? p.database.listen : undefined);
    await b.start(options.listen ? other.listen : undefined);
    stops.push(
      () => a.stop(),
      () => b.stop(),
    );
    return { a, b };
  }

  test("a command enqueued on instance A wakes the long-poll waiting on instance B within 1 s (NOTIFY)", async () => {
    const { a, b } = await pair({ listen: true });
    const first = await b.next(scene.gatewayId, 0, 0);
    const started = performance.now();
    const waiting = b.next(scene.gatewayId, first.cursor, 20_000);
    await Bun.sleep(100);
    await a.send(scene.gatewayId, { command: "refresh", reason: "test", gatewaySessionId: null });
    const got = await waiting;
    const ms = performance.now() - started - 100;
    expect(got.commands).toHaveLength(1);
    expect(got.cursor).toBeGreaterThan(first.cursor);
    expect(ms).toBeLessThan(1000);
    // Delivered once: the next poll from the new cursor has nothing.
    expect((await b.next(scene.gatewayId, got.cursor, 0)).commands).toHaveLength(0);
  });

  test("a lost NOTIFY loses no command: the re-read wakes the long-poll within a few seconds", async () => {
    const { a, b } = await pair({ listen: false });
    const first = await b.next(scene.gatewayId, 0, 0);
    const started = performance.now();
    const waiting = b.next(scene.gatewayId, first.cursor, 20_000);
    await a.send(scene.gatewayId, {
      command: "disconnect",
      reason: "test",
      gatewaySessionId: null,
    });
    const got = await waiting;
    expect(got.commands).toHaveLength(1);
    expect(performance.now() - started).toBeLessThan(3000);
  });

  test("a command still in flight below another gateway's newer one is not skipped by the gateway's cursor", async () => {
    const url = p.database.url;
    if (!url) return; // PGlite: one connection, no transaction can be held open beside the poll
    const { a, b } = await pair({ listen: true });
    // The gateway's cursor comes from a command delivered after B began (above B's horizon).
    const before = (await b.next(scene.gatewayId, 0, 0)).cursor;
    await a.send(scene.gatewayId, { command: "refresh", reason: "first", gatewaySessionId: null });
    const first = await b.next(scene.gatewayId, before, 3000);
    expect(first.commands).toHaveLength(1);
    const start = first.cursor;
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      // This gateway's command draws its seq and stays uncommitted ...
      let commit: () => void = () => {};
      const held = sql.begin(async (tx) => {
        await tx`insert into gateway_commands (gateway_id, token) values (${scene.gatewayId}, 'held')`;
        await new Promise<void>((resolve) => {
          commit = resolve;
        });
      });
      await Bun.sleep(100);
      // ... while another gateway's command, with a higher seq, commits.
      await a.send(crypto.randomUUID(), {
        command: "refresh",
        reason: "other",
        gatewaySessionId: null,
      });
      const polled = await b.next(scene.gatewayId, start, 300);
      expect(polled.commands).toEqual([]);
      commit();
      await held;
      const got = await b.next(scene.gatewayId, polled.cursor, 3000);
      expect(got.commands).toEqual(["held"]);
    } finally {
      await sql.end();
    }
  });

  test("60 commands sent at once from two instances reach a polling gateway each exactly once", async () => {
    const { a, b } = await pair({ listen: true });
    let cursor = (await b.next(scene.gatewayId, 0, 0)).cursor;
    const received: string[] = [];
    let sending = true;
    const polling = (async () => {
      while (sending || received.length < 60) {
        const got = await b.next(scene.gatewayId, cursor, sending ? 200 : 0);
        cursor = got.cursor;
        received.push(...got.commands);
        if (!sending && got.commands.length === 0) break;
      }
    })();
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (i % 2 ? a : b).send(scene.gatewayId, {
          command: "refresh",
          reason: `burst ${i}`,
          gatewaySessionId: null,
        }),
      ),
    );
    sending = false;
    await polling;
    expect(received).toHaveLength(60);
    expect(new Set(received).size).toBe(60);
  });
});

describe("a lost instance", () => {
  let onA: RemoteAccess;
  let onB: RemoteAccess;
  let planeA: RecordingDataPlane;
  let planeB: RecordingDataPlane;
  const tunnelNetwork = parseCidr("100.127.0.0/20") ?? { base: 0, prefix: 0 };

  beforeAll(() => {
    const server = { index: 0, protocol: "tcp" as const, listenAddress: null, port: 443 };
    // Each instance's servers take their own slice of the tunnel pool (registry below).
    planeA = new RecordingDataPlane([
      { ...server, tunnelNetwork: parseCidr("100.126.0.0/20") ?? tunnelNetwork },
    ]);
    planeB = new RecordingDataPlane([{ ...server, tunnelNetwork }]);
    const base = { ...p.accessDeps, vpn: { ...p.accessDeps.vpn } };
    onA = createRemoteAccess({
      ...base,
      dataPlane: planeA,
      instanceId: "a",
      vpn: { host: "vpn-a.lab.test", remoteSessionSeconds: 3600 },
    });
    onB = createRemoteAccess({
      ...base,
      dataPlane: planeB,
      instanceId: "b",
      vpn: { host: "vpn-b.lab.test", remoteSessionSeconds: 3600 },
    });
  });

  test("a technician's config names the instance holding the gateway's channel; a survivor ends that instance's sessions as instance_lost, audited", async () => {
    const clock = shiftedClock();
    const registryA = new InstanceRegistry({
      db: p.database.db,
      clock,
      self: identity("a", "100.126.0.0/16"),
    });
    const registryB = new InstanceRegistry({
      db: p.database.db,
      clock,
      self: identity("b", "100.127.0.0/16"),
    });
    await registryA.register();
    await registryB.register();
    const sweepByA = () =>
      sweepLostInstances({
        db: p.database.db,
        clock,
        registry: registryA,
        ends: onA.ends,
        log: () => {},
      });
    // The gateway's data channel lands on instance B.
    const { envelope } = await onB.dataChannels.request(scene.gatewayId);
    const profile = await dataChannelProfile(p, scene.gatewayId, envelope);
    const decision = await onB.connections.decide("0:7", serialOf(profile));
    if (!decision.allow) throw new Error(decision.reason);
    // The technician's request is answered by instance A: the config names B's endpoint.
    const { session, profile: ovpn } = await onA.remoteSessions.request(
      scene.technician,
      scene.machineId,
      { reason: "fault 4711" },
    );
    expect(session.instanceId).toBe("b");
    const remotes = parseConfig(ovpn).directives.filter((d) => d.name === "remote");
    expect(remotes.map((d) => d.args.slice(0, 2))).toEqual([["vpn-b.lab.test", "443"]]);
    // Its tunnel address is in B's slice of the pool, where B's server pushes it.
    expect(session.tunnelAddress).toStartWith("100.127.0.");
    // Instance A restarting ends only its own sessions.
    expect(await onA.ends.endAll("platform_shutdown")).toBe(0);
    // B is alive: nothing to sweep.
    expect(await sweepByA()).toEqual([]);
    // B stops refreshing; A goes on. After three refresh periods B is lost.
    clock.offset += STALE_MS + 1;
    await registryA.refresh();
    const swept = await sweepByA();
    expect(swept).toEqual(["b"]);
    const [channel] = await p.database.db
      .select()
      .from(gatewaySessions)
      .where(eq(gatewaySessions.gatewayId, scene.gatewayId));
    expect(channel?.state).toBe("closed");
    expect(channel?.closeReason).toBe("instance_lost");
    const [remote] = await p.database.db
      .select()
      .from(remoteSessions)
      .where(eq(remoteSessions.id, session.id));
    expect(remote?.state).toBe("ended");
    expect(remote?.endReason).toBe("instance_lost");
    // A's kernel held none of it: nothing of A's was disconnected.
    expect(planeA.disconnected).toEqual([]);
    const [audit] = await p.database.db
      .select()
      .from(auditEntries)
      .where(eq(auditEntries.action, "instance.lost"));
    expect(audit?.detail).toMatchObject({
      instance: "b",
      dataChannels: 1,
      remoteSessions: 1,
      sweptBy: "a",
    });
    // Swept once.
    expect(await sweepByA()).toEqual([]);
    // B was only stalled: its next refresh learns it was taken for lost, and it is live again.
    expect((await registryB.refresh()).registered).toBe(false);
    expect((await registryB.refresh()).registered).toBe(true);
    // A sweeper that read B as lost just before B refreshed claims nothing.
    expect(await registryA.claimLost("b")).toBe(false);
    await registryA.stopped();
    await registryB.stopped();
  });

  test("a technician's end recorded on instance A is cut in instance B's kernel, which holds the tunnel", async () => {
    await onB.cuts?.start(p.database.listen);
    try {
      // The gateway connects a new data channel (after a fault it may): on instance B again.
      const { envelope } = await onB.dataChannels.request(scene.gatewayId);
      const channelProfile = await dataChannelProfile(p, scene.gatewayId, envelope);
      const online = await onB.connections.decide("0:8", serialOf(channelProfile));
      if (!online.allow) throw new Error(online.reason);
      // The request goes through A; the technician's tunnel lands on B, which grants the services.
      const { session, profile } = await onA.remoteSessions.request(
        scene.technician,
        scene.machineId,
        { reason: "fault 4712" },
      );
      const connected = await onB.connections.decide("0:9", serialOf(profile));
      if (!connected.allow) throw new Error(connected.reason);
      expect(planeB.grants.size).toBe(1);
      // The technician disconnects through the portal of instance A.
      const started = performance.now();
      await onA.ends.endRemoteSession(session.id, "technician", scene.technician.caller.actor);
      expect(planeA.disconnected).toEqual([]);
      // B learns it through NOTIFY: grants gone, both tunnels cut, well before its sweep (3 s).
      while (planeB.disconnected.length < 3 && performance.now() - started < 5000)
        await Bun.sleep(20);
      expect(performance.now() - started).toBeLessThan(1000);
      expect(planeB.grants.size).toBe(0);
      // 0:7 too: the channel a survivor ended as instance_lost while B was taken for lost — a B
      // that comes back (a partition, not a crash) cuts what was ended for it.
      expect(planeB.disconnected.sort()).toEqual(["0:7", "0:8", "0:9"]);
      expect(planeB.forgotten).toContainEqual({
        technicianAddress: connected.config[0]?.split(" ")[1] ?? "",
        proxyAddress: session.proxyAddress,
      });
      // Cut once: a later sweep finds nothing left to do.
      expect(await onB.cuts?.sweep()).toBe(0);
    } finally {
      await onB.cuts?.stop();
    }
  });

  test("an end recorded on A reaching B after the gateway reconnected on B: the old tunnel is cut, the new channel keeps its route", async () => {
    const open = async (connection: string) => {
      const { envelope } = await onB.dataChannels.request(scene.gatewayId);
      const profile = await dataChannelProfile(p, scene.gatewayId, envelope);
      const decision = await onB.connections.decide(connection, serialOf(profile));
      if (!decision.allow) throw new Error(decision.reason);
      const [row] = await p.database.db
        .select()
        .from(gatewaySessions)
        .where(eq(gatewaySessions.connection, connection));
      return row;
    };
    const old = await open("0:10");
    if (!old) throw new Error("the channel is not recorded online");
    const routed = [...planeB.routes.keys()];
    expect(routed).toHaveLength(1);
    // An admin closes the old channel through instance A; before B hears of it, the gateway has
    // connected its next channel on B (NOTIFY lost, B's sweep not yet run).
    await onA.ends.closeGatewaySession(old.id, "gateway_lost", SYSTEM_ACTOR);
    expect((await open("0:11"))?.state).toBe("online");
    const disconnected = planeB.disconnected.length;
    expect(await onB.cuts?.sweep()).toBeGreaterThanOrEqual(1);
    expect(planeB.disconnected.slice(disconnected)).toContain("0:10");
    // The proxy block stays routed: it is the new channel's now.
    expect([...planeB.routes.keys()]).toEqual(routed);
  });

  test("a restarted instance does not cut again what its earlier run ended: connection ids and proxy routes are this run's", async () => {
    // Instance b after a restart: the same id, a fresh process (its OpenVPN servers count
    // connections from 0 again, and the gateway's proxy block is routed to its new channel).
    p.clock.advance(1000);
    const plane = new RecordingDataPlane(planeB.instances);
    const restarted = createRemoteAccess({
      ...p.accessDeps,
      dataPlane: plane,
      instanceId: "b",
      vpn: { host: "vpn-b.lab.test", remoteSessionSeconds: 3600 },
    });
    // The sessions and channel the run before ended minutes ago are left alone.
    expect(await restarted.cuts?.sweep()).toBe(0);
    expect(plane.disconnected).toEqual([]);
  });
});

describe("the audit chain with several writers", () => {
  test("two instances writing concurrently make one valid chain: no fork, no duplicates", async () => {
    const url = p.database.url;
    const other = url ? openDatabase({ url, dataDir: null }) : p.database;
    try {
      const { recordAuditAlone } = await import("../src/audit/index.ts");
      const before = await p.database.db.select({ hash: auditEntries.hash }).from(auditEntries);
      const writes = Array.from({ length: 200 }, (_, i) =>
        recordAuditAlone(i % 2 === 0 ? p.database.db : other.db, p.clock, {
          actor: { ...SYSTEM_ACTOR, name: `writer ${i % 2 === 0 ? "a" : "b"}` },
          action: "pki.renewal",
          detail: { n: i },
        }),
      );
      await Promise.all(writes);
      const rows = await p.database.db
        .select({ hash: auditEntries.hash, prevHash: auditEntries.prevHash })
        .from(auditEntries);
      expect(rows.length).toBe(before.length + 200);
      // A fork would show as two entries linking to the same predecessor.
      expect(new Set(rows.map((r) => r.prevHash)).size).toBe(rows.length);
      expect(new Set(rows.map((r) => r.hash)).size).toBe(rows.length);
      const verified = await verifyAuditChain(p.database.db);
      expect(verified).toMatchObject({ ok: true, entries: rows.length });
    } finally {
      if (url) await other.close();
    }
  }, 60_000);
});

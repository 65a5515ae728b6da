// The workspace runtime against the real dockerd and the real meetpoint/workspace image: Start from
// the portal with live progress, the desktop's RFB handshake through the platform's relay, the
// container's hardening and home volume, a file in /home/desk surviving stop and start, two
// customers' workspaces unable to reach each other, the supervisor's reports moving the VPN state,
// idle stop by the injected clock, stop on a template change (at once; with a viewer, when it
// leaves), and failures that leave nothing behind (a missing image digest, a start timeout over
// both replicas). Every container, network and volume it made is removed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCidr, waitFor } from "@meetpoint/common";
import Docker from "dockerode";
import { prerequisite } from "../../common/test/support/prerequisite.ts";
import { buildWorkspaceImage, exec, prerequisiteMissing } from "../../workspace/test/support.ts";
import { HttpsListener } from "../src/web/index.ts";
import { SESSION_COOKIE } from "../src/web/middleware.ts";
import {
  containerName,
  databaseDisplays,
  homeVolumeName,
  networkName,
  rfbAnswers,
  setWorkspaceTemplate,
  sweepWorkspaces,
  VncRelay,
  WorkspaceRuntime,
} from "../src/workspaces/index.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import type { Browser } from "./support/portal.ts";
import { type TlsFiles, tlsFiles } from "./support/tls-files.ts";
import {
  approvedTemplate,
  changeTemplate,
  customerWorkspace,
  removeWorkspaceObjects,
  secondAdmin,
} from "./support/workspace-runtime.ts";

const docker = new Docker();

const missing = prerequisite("the workspace runtime tests", await prerequisiteMissing(docker));

const ORIGIN = "https://platform.lab.test";
let p: TestPlatform;
let runtime: WorkspaceRuntime;
let relay: VncRelay;
let listener: HttpsListener;
let reports: ReturnType<typeof Bun.serve> | undefined;
let files: TlsFiles;
let recordingsDir: string;
let image = "";
let templateId = "";
let approver: Awaited<ReturnType<typeof secondAdmin>>;
let a: Awaited<ReturnType<typeof customerWorkspace>>;
let b: Awaited<ReturnType<typeof customerWorkspace>>;
const workspaceIds: string[] = [];

function runtimeDeps(
  parts: {
    db: TestPlatform["database"]["db"];
    clock: TestPlatform["clock"];
    pki: TestPlatform["pki"];
  },
  startMs: number,
) {
  return {
    db: parts.db,
    clock: parts.clock,
    box: parts.pki,
    endpoints: [{ name: "unix:///var/run/docker.sock", docker }],
    startMs,
    // Beside Docker's own pools (198.19.0.0/17) and the image test's networks.
    networkPool: parseCidr("198.19.240.0/21") ?? { base: 0, prefix: 32 },
    networkPrefix: 28,
    reportUrl: `http://{gateway}:${reports?.port}/api/workspace/v1/report`,
  };
}

/** Runs `cmd` in the container `name` as `user`: its exit code. */
const execIn = async (name: string, user: string, cmd: string[]) =>
  (await exec(docker, docker.getContainer(name), user, cmd)).code;

const exists = async (kind: "container" | "network" | "volume", name: string) => {
  const object =
    kind === "container"
      ? docker.getContainer(name)
      : kind === "network"
        ? docker.getNetwork(name)
        : docker.getVolume(name);
  return object.inspect().then(
    () => true,
    () => false,
  );
};

/** Presses Start as the technician and waits (through the page's fragment) until it is done. */
async function startFromPortal(tech: Browser, workspaceId: string): Promise<string> {
  // Time passes between starts (the page shows the newest run).
  p.clock.advance(1000);
  await tech.get(`/workspaces/${workspaceId}`);
  const response = await tech.post(`/workspaces/${workspaceId}/start`);
  expect(response.status).toBe(303);
  const page = await (await tech.get(`/workspaces/${workspaceId}`)).text();
  // While it starts, the run's part polls itself every second.
  expect(page).toMatch(/hx-trigger="every 1s"|data-run-state="(running|failed)"/);
  let state = "";
  await waitFor(
    async () => {
      const fragment = await (await tech.get(`/workspaces/${workspaceId}/run`)).text();
      state = /data-run-state="([a-z_]+)"/.exec(fragment)?.[1] ?? "";
      return state === "running" || state === "failed";
    },
    { timeoutMs: 90_000, intervalMs: 250 },
  );
  return state;
}

async function stopFromPortal(tech: Browser, workspaceId: string) {
  await tech.get(`/workspaces/${workspaceId}`);
  const response = await tech.post(`/workspaces/${workspaceId}/stop`);
  expect(response.status).toBe(303);
}

/** A viewer's WebSocket through the platform's relay; resolves with the first 12 bytes. */
function openViewer(tech: Browser, workspaceId: string) {
  const ws = new WebSocket(`wss://127.0.0.1:${listener.port}/workspaces/${workspaceId}/vnc`, {
    headers: { Cookie: `${SESSION_COOKIE}=${tech.cookie(SESSION_COOKIE)}`, Origin: ORIGIN },
    tls: { rejectUnauthorized: false },
  } as unknown as string[]);
  ws.binaryType = "arraybuffer";
  const first = new Promise<string>((done, fail) => {
    let text = "";
    ws.onmessage = (e) => {
      text += Buffer.from(e.data as ArrayBuffer).toString("latin1");
      if (text.length >= 12) done(text.slice(0, 12));
    };
    ws.onerror = () => fail(new Error("WebSocket failed"));
  });
  return { ws, first };
}

async function containerIp(workspaceId: string): Promise<string> {
  const run = await runtime.latestRun(workspaceId);
  return run?.vncHost ?? "";
}

describe.skipIf(missing !== null)("workspace runtime on dockerd", () => {
  beforeAll(async () => {
    const tag = await buildWorkspaceImage();
    const id = (await docker.getImage(tag).inspect()).Id;
    // Pinned by digest: the image ID of the image built here (no registry digest).
    image = `meetpoint/workspace@${id}`;

    recordingsDir = mkdtempSync(join(tmpdir(), "meetpoint-recordings-"));
    // The supervisors' reports reach the platform on the network's gateway (this host).
    let app: TestPlatform["app"] | undefined;
    reports = Bun.serve({
      hostname: "0.0.0.0",
      port: 0,
      fetch: (request, server) =>
        app ? app.fetch(request, server) : new Response(null, { status: 503 }),
    });
    p = await testPlatform({
      extraDeps: ({ db, clock, pki }) => {
        relay = new VncRelay({ db, clock, displays: databaseDisplays(db, pki), recordingsDir });
        runtime = new WorkspaceRuntime(runtimeDeps({ db, clock, pki }, 60_000));
        return { workspaceRelay: relay, workspaceRuntime: runtime };
      },
    });
    app = p.app;
    approver = await secondAdmin(p);
    templateId = await approvedTemplate(p, approver, "Desk", image, { idleTimeoutMinutes: 30 });
    a = await customerWorkspace(p, "Acme", templateId);
    b = await customerWorkspace(p, "Beta", templateId);
    workspaceIds.push(a.workspaceId, b.workspaceId);
    files = await tlsFiles("runtime");
    listener = new HttpsListener(
      {
        port: 0,
        hostname: "127.0.0.1",
        idleTimeout: 30,
        fetch: p.app.fetch,
        websocket: relay.websocket,
      },
      { cert: await Bun.file(files.cert).text(), key: await Bun.file(files.key).text() },
      () => {},
    );
  }, 600_000);

  afterAll(async () => {
    await removeWorkspaceObjects(docker, workspaceIds);
    listener?.stop();
    reports?.stop(true);
    await relay?.stop();
    files?.dispose();
    await p?.dispose();
    if (recordingsDir) rmSync(recordingsDir, { recursive: true, force: true });
  });

  test("Start from the portal: live progress, then the desktop answers through the platform's relay", async () => {
    expect(await startFromPortal(a.technician, a.workspaceId)).toBe("running");
    const entry = await p.lastAudit("workspace.start");
    expect(entry?.result).toBe("ok");
    expect(entry?.actorName).toBe("tech-acme");
    const viewer = openViewer(a.technician, a.workspaceId);
    expect(await viewer.first).toBe("RFB 003.008\n");
    viewer.ws.close();
    await waitFor(async () => (await relay.viewerOf(a.workspaceId)) === null, {
      timeoutMs: 10_000,
    });
  }, 120_000);
  test("the container: hardening, the home volume, its own network with inter-container traffic off", async () => {
    const run = await runtime.latestRun(a.workspaceId);
    const name = run?.containerName ?? "";
    expect(name).toBe(containerName(a.workspaceId, 1));
    const info = await docker.getContainer(name).inspect();
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    expect(info.HostConfig.SecurityOpt).toEqual(["no-new-privileges"]);
    expect(info.HostConfig.CapDrop).toEqual(["ALL"]);
    expect(
      (info.HostConfig.CapAdd ?? []).map((c: string) => c.replace(/^CAP_/, "")).sort(),
    ).toEqual(["KILL", "NET_ADMIN", "NET_BIND_SERVICE", "SETGID", "SETUID"]);
    expect(info.HostConfig.Privileged).toBe(false);
    expect(info.HostConfig.Memory).toBe(1024 * 1024 ** 2);
    expect(info.Mounts).toContainEqual(
      expect.objectContaining({
        Type: "volume",
        Name: homeVolumeName(a.workspaceId),
        Destination: "/home/desk",
      }),
    );
    expect(JSON.stringify(info.Mounts)).not.toContain("docker.sock");
    expect(Object.keys(info.NetworkSettings.Networks)).toEqual([networkName(a.workspaceId)]);
    const network = await docker.getNetwork(networkName(a.workspaceId)).inspect();
    expect(network.Options?.["com.docker.network.bridge.enable_icc"]).toBe("false");
    expect(network.IPAM?.Config?.[0]?.Subnet).toMatch(/^198\.19\.24[0-7]\.\d+\/28$/);
    // The desktop user writes its home (the volume), not the root file system.
    expect(
      await execIn(name, "desk", ["sh", "-c", "touch /home/desk/.probe && ! touch /usr/probe"]),
    ).toBe(0);
    // Only hashes and sealed values are stored.
    expect(run?.reportTokenHash).toMatch(/^[0-9a-f]{64}$/);
    expect(run?.vncPasswordSealed).not.toBeNull();
  }, 60_000);

  test("the supervisor's reports move the run's VPN state (shown on the page); a wrong token is 401", async () => {
    const reported = await waitFor(
      async () => (await runtime.latestRun(a.workspaceId))?.vpn === "down",
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(reported).toBe(true);
    const run = await runtime.latestRun(a.workspaceId);
    expect(run?.vpnError ?? "").toMatch(/openvpn|Options error/i);
    const page = await (await a.technician.get(`/workspaces/${a.workspaceId}`)).text();
    expect(page).toContain("VPN: <strong>down</strong>");
    const wrong = await fetch(`http://127.0.0.1:${reports?.port}/api/workspace/v1/report`, {
      method: "POST",
      headers: { authorization: `Bearer ${"x".repeat(43)}`, "content-type": "application/json" },
      body: JSON.stringify({ vpn: "up", at: new Date().toISOString() }),
    });
    expect(wrong.status).toBe(401);
    expect((await runtime.latestRun(a.workspaceId))?.vpn).toBe("down");
    // The report port is the platform's HTTPS listener in production: only the supervisor (root)
    // may reach it, never the desktop user.
    const name = run?.containerName ?? "";
    const probe = `gw=$(ip route show default | cut -d' ' -f3); timeout 3 bash -c "exec 3<>/dev/tcp/$gw/${reports?.port}"`;
    expect(await execIn(name, "root", ["sh", "-c", probe])).toBe(0);
    expect(await execIn(name, "desk", ["sh", "-c", probe])).not.toBe(0);
  }, 60_000);

  test("two customers' workspaces cannot reach each other, not even with the workspace's firewall flushed", async () => {
    expect(await startFromPortal(b.technician, b.workspaceId)).toBe("running");
    const ipB = await containerIp(b.workspaceId);
    const ipA = await containerIp(a.workspaceId);
    expect(ipB).not.toBe(ipA);
    // B's desktop answers from the platform's side: the refusals below are the networks' doing.
    expect(await rfbAnswers(ipB, 5900)).toBe(true);
    const nameA = (await runtime.latestRun(a.workspaceId))?.containerName ?? "";
    const probe = `timeout 3 bash -c 'exec 3<>/dev/tcp/${ipB}/5900'`;
    expect(await execIn(nameA, "desk", ["sh", "-c", probe])).not.toBe(0);
    expect(
      await execIn(nameA, "root", ["sh", "-c", `/usr/sbin/nft flush ruleset && ${probe}`]),
    ).not.toBe(0);
  }, 120_000);

  test("a file in /home/desk survives Stop and Start; Stop removes container and network, audited", async () => {
    const before = await runtime.latestRun(a.workspaceId);
    const name = before?.containerName ?? "";
    expect(await execIn(name, "desk", ["sh", "-c", "echo kept > /home/desk/notes.txt"])).toBe(0);
    await stopFromPortal(a.technician, a.workspaceId);
    const stopped = await runtime.latestRun(a.workspaceId);
    expect(stopped?.state).toBe("stopped");
    expect(stopped?.stopReason).toBe("manual");
    expect(stopped?.vncPasswordSealed).toBeNull();
    expect(await exists("container", name)).toBe(false);
    expect(await exists("network", networkName(a.workspaceId))).toBe(false);
    expect(await exists("volume", homeVolumeName(a.workspaceId))).toBe(true);
    const entry = await p.lastAudit("workspace.stop");
    expect(entry?.actorName).toBe("tech-acme");
    expect(entry?.detail).toMatchObject({ reason: "manual", run: before?.id });
    expect(await startFromPortal(a.technician, a.workspaceId)).toBe("running");
    const again = (await runtime.latestRun(a.workspaceId))?.containerName ?? "";
    expect(await execIn(again, "desk", ["grep", "-qx", "kept", "/home/desk/notes.txt"])).toBe(0);
  }, 180_000);

  test("an approved template change stops a workspace nobody views at once, a viewed one when the viewer leaves", async () => {
    const viewer = openViewer(a.technician, a.workspaceId);
    expect(await viewer.first).toBe("RFB 003.008\n");
    await changeTemplate(p, approver, templateId, image, {
      memoryMib: 1536,
      idleTimeoutMinutes: 30,
    });
    const first = await sweepWorkspaces(runtime, 600_000);
    expect(first.stopped).toEqual([{ workspaceId: b.workspaceId, reason: "template_change" }]);
    expect((await runtime.latestRun(a.workspaceId))?.state).toBe("running");
    viewer.ws.close();
    await waitFor(async () => (await relay.viewerOf(a.workspaceId)) === null, {
      timeoutMs: 10_000,
    });
    const second = await sweepWorkspaces(runtime, 600_000);
    expect(second.stopped).toEqual([{ workspaceId: a.workspaceId, reason: "template_change" }]);
    const entry = await p.lastAudit("workspace.stop");
    expect(entry?.actorName).toBe("system");
    expect(entry?.detail).toMatchObject({ reason: "template_change" });
    // The next start runs with the approved values.
    expect(await startFromPortal(a.technician, a.workspaceId)).toBe("running");
    const name = (await runtime.latestRun(a.workspaceId))?.containerName ?? "";
    expect((await docker.getContainer(name).inspect()).HostConfig.Memory).toBe(1536 * 1024 ** 2);
  }, 240_000);

  test("an image digest the Docker host does not have: failed run with the reason, audited, nothing left", async () => {
    const missingImage = `meetpoint/workspace@sha256:${"0".repeat(64)}`;
    const other = await approvedTemplate(p, approver, "Missing image", missingImage);
    await setWorkspaceTemplate(p.adminCtx, b.workspaceId, { templateId: other });
    expect(await startFromPortal(b.technician, b.workspaceId)).toBe("failed");
    const run = await runtime.latestRun(b.workspaceId);
    expect(run?.message).toContain(`The image ${missingImage} is not on the Docker host`);
    const page = await (await b.technician.get(`/workspaces/${b.workspaceId}`)).text();
    expect(page).toContain("is not on the Docker host");
    const entry = await p.lastAudit("workspace.start");
    expect(entry?.result).toBe("failed");
    expect(JSON.stringify(entry?.detail)).toContain("is not on the Docker host");
    for (const replica of [1, 2])
      expect(await exists("container", containerName(b.workspaceId, replica))).toBe(false);
    expect(await exists("network", networkName(b.workspaceId))).toBe(false);
  }, 60_000);

  test("a start that times out tries both replicas, fails with the reason and leaves nothing", async () => {
    await setWorkspaceTemplate(p.adminCtx, b.workspaceId, { templateId });
    const hasty = new WorkspaceRuntime(
      // Less than the supervisor needs to bring Xvnc up (bun, the firewall, Xvnc): ~0.3 s here.
      runtimeDeps({ db: p.database.db, clock: p.clock, pki: p.pki }, 50),
    );
    p.clock.advance(1000);
    const run = await hasty.start(p.adminCtx, b.workspaceId);
    await hasty.settled(run.id);
    const failed = await hasty.latestRun(b.workspaceId);
    expect(failed?.state).toBe("failed");
    // One endpoint: both replicas on it, each named with it.
    const on = "on unix:///var/run/docker.sock: the desktop did not answer within 0.05 s";
    expect(failed?.message).toContain(`replica 1 ${on}`);
    expect(failed?.message).toContain(`replica 2 ${on}`);
    const entry = await p.lastAudit("workspace.start");
    expect(entry?.result).toBe("failed");
    expect(
      (entry?.detail as { failedReplicas?: unknown[] } | undefined)?.failedReplicas,
    ).toHaveLength(2);
    for (const replica of [1, 2])
      expect(await exists("container", containerName(b.workspaceId, replica))).toBe(false);
    expect(await exists("network", networkName(b.workspaceId))).toBe(false);
  }, 60_000);

  test("idle stop: no browser connection for the template's idle timeout, by the injected clock", async () => {
    expect((await runtime.latestRun(a.workspaceId))?.state).toBe("running");
    const name = (await runtime.latestRun(a.workspaceId))?.containerName ?? "";
    p.clock.advance(29 * 60_000);
    expect((await sweepWorkspaces(runtime, 6_000_000)).stopped).toEqual([]);
    p.clock.advance(2 * 60_000);
    const result = await sweepWorkspaces(runtime, 6_000_000);
    expect(result.stopped).toEqual([{ workspaceId: a.workspaceId, reason: "idle" }]);
    expect((await runtime.latestRun(a.workspaceId))?.stopReason).toBe("idle");
    expect(await exists("container", name)).toBe(false);
    const entry = await p.lastAudit("workspace.stop");
    expect(entry?.actorName).toBe("system");
    expect(entry?.detail).toMatchObject({ reason: "idle" });
  }, 60_000);

  test("a desktop whose container ended by itself is recorded as stopped (exited), not shown running", async () => {
    // (The idle test moved the clock past the technician's portal sign-in: started directly.)
    const started = await runtime.start(p.adminCtx, a.workspaceId);
    await runtime.settled(started.id);
    expect((await runtime.latestRun(a.workspaceId))?.state).toBe("running");
    const name = (await runtime.latestRun(a.workspaceId))?.containerName ?? "";
    // As an out-of-memory kill would.
    await docker.getContainer(name).kill();
    const result = await sweepWorkspaces(runtime, 6_000_000);
    expect(result.stopped).toEqual([{ workspaceId: a.workspaceId, reason: "exited" }]);
    const run = await runtime.latestRun(a.workspaceId);
    expect(run?.state).toBe("stopped");
    expect(run?.stopReason).toBe("exited");
    expect(await exists("container", name)).toBe(false);
    expect((await p.lastAudit("workspace.stop"))?.detail).toMatchObject({ reason: "exited" });
  }, 60_000);
});

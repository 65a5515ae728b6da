// What the workspace image tests share: their prerequisites, the scene they run in (image, network,
// report listener), commands run in a container through the Docker API, and a raw look at what a
// TCP server says first.
import { createConnection } from "node:net";
import { resolve } from "node:path";
import { PassThrough } from "node:stream";
import type { WorkspaceReport, WorkspaceSpec } from "@meetpoint/common";
import type Docker from "dockerode";
import { startWorkspace } from "../src/runtime.ts";

/** Why the workspace tests cannot run here (root, a reachable dockerd), or null. */
export async function prerequisiteMissing(docker: Docker): Promise<string | null> {
  if (process.getuid?.() !== 0) return "needs root (dockerd, nft)";
  try {
    await docker.ping();
  } catch {
    return "needs a running dockerd";
  }
  return null;
}
/** Runs `cmd` in `container` as `user`; its exit code and output. */
export async function exec(
  docker: Docker,
  container: Docker.Container,
  user: string,
  cmd: string[],
): Promise<{ code: number; output: string }> {
  const execution = await container.exec({
    Cmd: cmd,
    User: user,
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await execution.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  const sink = new PassThrough();
  sink.on("data", (chunk: Buffer) => chunks.push(chunk));
  // Docker's multiplexed stream: stdout and stderr, both kept.
  docker.modem.demuxStream(stream, sink, sink);
  await new Promise((done) => stream.on("end", done));
  const { ExitCode } = await execution.inspect();
  const output = Buffer.concat(chunks).toString();
  return { code: ExitCode ?? -1, output };
}

/** The first 12 bytes the server at host:port sends (an RFB server: its version). */
export function firstBytes(host: string, port: number): Promise<string> {
  return new Promise((done, fail) => {
    const socket = createConnection({ host, port });
    let data = "";
    socket.setTimeout(3000, () => {
      socket.destroy();
      fail(new Error(`no answer from ${host}:${port}`));
    });
    socket.on("data", (chunk) => {
      data += chunk.toString("latin1");
      if (data.length >= 12) {
        socket.destroy();
        done(data.slice(0, 12));
      }
    });
    socket.on("error", fail);
  });
}

/** A report the supervisor sent, with the Authorization header it came with. */
export interface Received {
  authorization: string | null;
  report: WorkspaceReport;
}

/**
 * What a workspace image test runs in: the image workspace/image.sh builds, a Docker network of
 * its own — the /24 `198.19.<octet>.0`, in 198.19.128.0/17: outside Docker's address pools
 * (198.19.0.0/17) and its default bridge (198.19.250.0/24), picked per run so that parallel runs
 * do not collide; `octet` is even, so the next /24 is free for a test's second network — and a
 * listener on the network's gateway that keeps every report the supervisors send.
 */
export interface WorkspaceScene {
  image: string;
  /** Names of what the scene makes start with it: `meetpoint-ws-test-<random>`. */
  name: string;
  network: Docker.Network;
  octet: number;
  subnet: string;
  gateway: string;
  reportPort: number;
  received: Received[];
  /** Containers removed with the scene: the workspaces `run` starts, and what a test adds. */
  containers: Docker.Container[];
  /** The reports sent with `token`, oldest first. */
  reports(token: string): WorkspaceReport[];
  /** Starts the image with `spec` on the network as `<name>-<suffix>` (limits: 1 GiB, 1 CPU, 256 pids; a report every 2 s). */
  run(spec: WorkspaceSpec, suffix: string): Promise<Docker.Container>;
  /** Removes the containers, the network and the listener. */
  remove(): Promise<void>;
}

/**
 * The jump workspace image's tag (`meetpoint/workspace:<hash>`), built by workspace/image.sh or
 * found built; throws with image.sh's error output.
 */
export async function buildWorkspaceImage(): Promise<string> {
  const tagFile = `/tmp/meetpoint-workspace-tag-${crypto.randomUUID()}`;
  const build = Bun.spawnSync(["bash", "workspace/image.sh"], {
    cwd: resolve(import.meta.dir, "../.."),
    env: { ...process.env, MEETPOINT_WORKSPACE_IMAGE_FILE: tagFile },
    stdout: "inherit",
    stderr: "pipe",
  });
  if (build.exitCode !== 0) throw new Error(`workspace/image.sh: ${build.stderr.toString()}`);
  const tag = (await Bun.file(tagFile).text()).trim();
  await Bun.file(tagFile).delete();
  return tag;
}

/** Builds the image (or finds it built) and makes the scene; throws with image.sh's error. */
export async function workspaceScene(docker: Docker): Promise<WorkspaceScene> {
  const name = `meetpoint-ws-test-${Math.random().toString(36).slice(2, 8)}`;
  const image = await buildWorkspaceImage();
  const octet = 130 + 2 * Math.floor(Math.random() * 49);
  const subnet = `198.19.${octet}.0/24`;
  const gateway = `198.19.${octet}.1`;
  const network = await docker.createNetwork({
    Name: name,
    Driver: "bridge",
    IPAM: { Config: [{ Subnet: subnet, Gateway: gateway }] },
  });
  const received: Received[] = [];
  const listener = Bun.serve({
    hostname: gateway,
    port: 0,
    async fetch(request) {
      received.push({
        authorization: request.headers.get("authorization"),
        report: await request.json(),
      });
      return new Response(null, { status: 204 });
    },
  });
  const containers: Docker.Container[] = [];
  return {
    image,
    name,
    network,
    octet,
    subnet,
    gateway,
    reportPort: listener.port ?? 0,
    received,
    containers,
    reports: (token) =>
      received.filter((r) => r.authorization === `Bearer ${token}`).map((r) => r.report),
    async run(spec, suffix) {
      const container = await startWorkspace(docker, {
        image,
        name: `${name}-${suffix}`,
        network: network.id,
        spec,
        limits: { memoryBytes: 1024 ** 3, cpus: 1, pids: 256 },
        reportSeconds: 2,
      });
      containers.push(container);
      return container;
    },
    async remove() {
      for (const container of containers) await container.remove({ force: true }).catch(() => {});
      await network.remove().catch(() => {});
      listener.stop(true);
    },
  };
}

/** The address of `container` on its (first) network. */
export async function containerIp(container: Docker.Container): Promise<string> {
  const info = await container.inspect();
  return Object.values(info.NetworkSettings.Networks)[0]?.IPAddress ?? "";
}

/** Both output streams of `container` so far. */
export async function logs(container: Docker.Container): Promise<string> {
  return (await container.logs({ stdout: true, stderr: true })).toString("latin1");
}

// The Compose lab's stack as code: docker-compose for what Compose does (validate, build, up,
// down), the Docker API (dockerode) for everything done to running containers — commands in them,
// their logs, health, memory, networks, restarts.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import Docker from "dockerode";
import { eventually } from "../src/netns.ts";

const ROOT = join(import.meta.dir, "../..");

export class ComposeStack {
  readonly docker = new Docker();

  /** `file`: the Compose file, relative to the repository root (default compose.yaml). */
  constructor(
    readonly project: string,
    readonly file = "compose.yaml",
  ) {}

  /** docker-compose on this stack's file under its project name; its output, or an error with why. */
  compose(...args: string[]): string {
    const result = spawnSync(
      "docker-compose",
      ["-p", this.project, "-f", join(ROOT, this.file), ...args],
      { cwd: ROOT, encoding: "utf8", maxBuffer: 64 << 20 },
    );
    if (result.error) throw new Error(`docker-compose: ${result.error.message}`);
    if (result.status !== 0)
      throw new Error(
        `docker-compose ${args.join(" ")}: exit ${result.status}\n${result.stderr.slice(-3000)}`,
      );
    return result.stdout;
  }

  container(service: string) {
    return this.docker.getContainer(`${this.project}_${service}_1`);
  }

  network(name: string) {
    return this.docker.getNetwork(`${this.project}_${name}`);
  }

  /** A command inside a service's container: its exit code and output (stdout and stderr). */
  run(service: string, cmd: string[], env: string[] = []) {
    return this.exec(this.container(service), cmd, { env });
  }

  /** A command inside any container (as `user`, default the image's): exit code and output. */
  async exec(
    container: Docker.Container,
    cmd: string[],
    options: { env?: string[]; user?: string } = {},
  ) {
    const exec = await container.exec({
      Cmd: cmd,
      Env: options.env ?? [],
      User: options.user ?? "",
      AttachStdout: true,
      AttachStderr: true,
    });
    const stream = await exec.start({ hijack: true, stdin: false });
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on("data", (chunk: Buffer) => chunks.push(chunk));
    this.docker.modem.demuxStream(stream, sink, sink);
    await new Promise((resolve) => stream.on("end", resolve));
    const code = (await exec.inspect()).ExitCode ?? -1;
    return { code, output: Buffer.concat(chunks).toString() };
  }

  /** A service's log (stdout and stderr), or any container's. */
  async logsOf(service: string | Docker.Container): Promise<string> {
    const container = typeof service === "string" ? this.container(service) : service;
    const raw = await container.logs({ stdout: true, stderr: true, follow: false });
    // Without a TTY each frame has an 8-byte header; keep only the payloads.
    const frames: Buffer[] = [];
    for (let at = 0; at + 8 <= raw.length; ) {
      const size = raw.readUInt32BE(at + 4);
      frames.push(raw.subarray(at + 8, at + 8 + size));
      at += 8 + size;
    }
    return Buffer.concat(frames).toString();
  }

  async healthy(service: string, ms = 120_000): Promise<void> {
    const ok = await eventually(
      async () => (await this.container(service).inspect()).State.Health?.Status === "healthy",
      ms,
      500,
    );
    if (!ok)
      throw new Error(
        `${service} not healthy within ${ms / 1000} s:\n${(await this.logsOf(service)).slice(-2000)}`,
      );
  }

  /** Resident memory of the container's main process (PID 1), MB. */
  async rssMb(service: string): Promise<number> {
    const status = await this.run(service, ["cat", "/proc/1/status"]);
    const kb = Number(status.output.match(/VmRSS:\s+(\d+)/)?.[1]);
    return Math.round((kb / 1024) * 10) / 10;
  }

  async imageMb(image: string): Promise<number> {
    return Math.round((await this.docker.getImage(image).inspect()).Size / 1e6);
  }
}

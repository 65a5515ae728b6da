// What the workspace image tests share: their prerequisites, commands run in a container through
// the Docker API, and a raw look at what a TCP server says first.
import { createConnection } from "node:net";
import { PassThrough } from "node:stream";
import type Docker from "dockerode";

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

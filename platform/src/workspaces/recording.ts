// A browser connection's recording in noVNC's playback format (the VNC_frame_data array its
// tests/playback.js reads, as websockify --record writes it): one frame per line, `{<ms>{<base64>`
// for bytes to the browser, `}<ms>{<base64>` for bytes from it, ms since the connection began,
// ending with 'EOF'. The SHA-256 is of the file's exact bytes, hashed as they are written.
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { FileSink } from "bun";

export const RECORDING_HEADER = "var VNC_frame_data = [\n";
export const RECORDING_END = "'EOF'];\n";

/** One frame of a recording: direction, ms since the start, the bytes. */
export interface RecordedFrame {
  fromClient: boolean;
  ms: number;
  data: Uint8Array;
}

/** Writes one recording to `path` (its directory is made); finish() returns size and SHA-256. */
export class RecordingWriter {
  private readonly sink: FileSink;
  private readonly hash = createHash("sha256");
  private size = 0;
  private finished: { sha256: string; size: number } | null = null;

  constructor(
    readonly path: string,
    private readonly startedMs: number,
    private readonly now: () => number = Date.now,
  ) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.sink = Bun.file(path).writer();
    this.write(RECORDING_HEADER);
  }

  /** Records bytes to the browser (`fromClient` false) or from it. */
  frame(fromClient: boolean, data: Uint8Array): void {
    if (this.finished || data.length === 0) return;
    const ms = Math.max(0, this.now() - this.startedMs);
    this.write(`'${fromClient ? "}" : "{"}${ms}{${Buffer.from(data).toString("base64")}',\n`);
  }

  /** Ends the file; idempotent. */
  async finish(): Promise<{ sha256: string; size: number }> {
    if (this.finished) return this.finished;
    this.write(RECORDING_END);
    this.finished = { sha256: this.hash.digest("hex"), size: this.size };
    await this.sink.end();
    return this.finished;
  }

  private write(text: string): void {
    const bytes = Buffer.from(text, "latin1");
    this.hash.update(bytes);
    this.size += bytes.length;
    this.sink.write(bytes);
  }
}

/**
 * Parses a recording's text into frames (noVNC's playback parser, without eval): lines of
 * `'{ms{b64',` / `'}ms{b64',` until 'EOF'. Throws naming the line when one is malformed.
 */
export function parseRecording(text: string): RecordedFrame[] {
  const frames: RecordedFrame[] = [];
  const lines = text.split("\n");
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line.startsWith("'EOF'")) return frames;
    if (line === "" && i === lines.length - 1) break;
    const match = /^'([{}])(\d+)\{([A-Za-z0-9+/=]*)',$/.exec(line);
    if (!match) throw new Error(`recording line ${i + 1} is not a frame`);
    frames.push({
      fromClient: match[1] === "}",
      ms: Number(match[2]),
      data: new Uint8Array(Buffer.from(match[3] ?? "", "base64")),
    });
  }
  throw new Error("recording has no EOF (cut short)");
}

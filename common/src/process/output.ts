// Reading a child process's output stream as text and as lines.

/**
 * How long a stream is still read after its process ended, in milliseconds: a grandchild that
 * inherited it may hold it open for ever.
 */
export const DRAIN_MS = 500;

export interface StreamHandlers {
  /** Every decoded chunk, as it arrives. */
  onText?: (text: string) => void;
  /** Every complete line without its newline; a last line without one is passed at the end. */
  onLine?: (line: string) => void;
}

/** Reads `stream` to its end (UTF-8); resolves when it closes, never rejects. */
export async function readStream(
  stream: ReadableStream<Uint8Array>,
  handlers: StreamHandlers,
): Promise<void> {
  const decoder = new TextDecoder();
  const reader = stream.getReader();
  let rest = "";
  const feed = (text: string) => {
    if (!text) return;
    handlers.onText?.(text);
    if (!handlers.onLine) return;
    const lines = (rest + text).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) handlers.onLine(line);
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      feed(decoder.decode(value, { stream: true }));
    }
  } catch {
    // A stream torn down with its process ends like a closed one.
  }
  feed(decoder.decode());
  if (rest) handlers.onLine?.(rest);
}

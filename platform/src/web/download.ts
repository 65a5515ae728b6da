// Downloads made of many lines (audit exports): read before the answer starts, so that the
// common failures become an error status, and cut off — not ended cleanly — when reading fails
// later, so that a partial file is never mistaken for a complete one.

/**
 * Reads the first item of `source` now and returns an iterable of all of them: a failure to read
 * the first (a refused query, an unreachable database) is thrown here, before any answer.
 */
export async function firstReadNow<T>(source: AsyncIterable<T>): Promise<AsyncIterable<T>> {
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next();
  return {
    async *[Symbol.asyncIterator]() {
      if (first.done) return;
      yield first.value;
      for (let next = await iterator.next(); !next.done; next = await iterator.next())
        yield next.value;
    },
  };
}

/**
 * A response body of `lines` (UTF-8). When reading them fails part-way, the stream errors: the
 * HTTP response ends without its last chunk and the client sees a failed transfer. `onError`
 * hears of the failure (to log it).
 */
export function lineStream(
  lines: AsyncIterable<string>,
  onError: (error: unknown) => void,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = lines[Symbol.asyncIterator]();
  return new ReadableStream({
    async pull(controller) {
      try {
        const next = await iterator.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      } catch (error) {
        onError(error);
        controller.error(error);
      }
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}

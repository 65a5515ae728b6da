import { describe, expect, test } from "bun:test";
import { firstReadNow, lineStream } from "./download.ts";

async function* lines(count: number, failAt: number | null) {
  for (let i = 0; i < count; i++) {
    if (i === failAt) throw new Error(`reading line ${i} failed`);
    yield `line ${i}\n`;
  }
}

describe("downloads of many lines", () => {
  test("all lines, in order, and a clean end", async () => {
    const text = await new Response(
      lineStream(await firstReadNow(lines(3, null)), () => {}),
    ).text();
    expect(text).toBe("line 0\nline 1\nline 2\n");
  });

  test("a failure before the first line is thrown before any answer", async () => {
    await expect(firstReadNow(lines(3, 0))).rejects.toThrow("reading line 0 failed");
  });

  test("a failure part-way cuts the body off: the reader gets an error, not a short file", async () => {
    const heard: unknown[] = [];
    const body = lineStream(await firstReadNow(lines(5, 2)), (error) => heard.push(error));
    await expect(new Response(body).text()).rejects.toThrow("reading line 2 failed");
    expect(heard).toHaveLength(1);
  });
});

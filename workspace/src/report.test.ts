import { afterAll, expect, test } from "bun:test";
import { createReporter } from "./report.ts";

const posts: { authorization: string | null; body: unknown }[] = [];
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(request) {
    posts.push({ authorization: request.headers.get("authorization"), body: await request.json() });
    return new Response(null, { status: request.url.endsWith("/refuse") ? 401 : 204 });
  },
});
afterAll(() => server.stop(true));

test("posts on a change and on each tick, with the bearer token; not when nothing changed", async () => {
  posts.length = 0;
  const at = new Date("2026-11-30T12:00:00Z");
  const reporter = createReporter(
    { url: `http://127.0.0.1:${server.port}/r`, token: "t0ken-0123456789" },
    () => {},
    () => at,
  );
  await reporter.set({ vpn: "connecting" });
  expect(posts).toEqual([]);
  await reporter.set({ vpn: "up" });
  await reporter.set({ vpn: "up" });
  await reporter.tick();
  expect(posts).toEqual([
    {
      authorization: "Bearer t0ken-0123456789",
      body: { vpn: "up", at: "2026-11-30T12:00:00.000Z" },
    },
    {
      authorization: "Bearer t0ken-0123456789",
      body: { vpn: "up", at: "2026-11-30T12:00:00.000Z" },
    },
  ]);
});

test("a refused or failed post is logged without the token", async () => {
  const lines: string[] = [];
  const refused = createReporter(
    { url: `http://127.0.0.1:${server.port}/refuse`, token: "t0ken-0123456789" },
    (l) => lines.push(l),
  );
  await refused.tick();
  const unreachable = createReporter(
    { url: "http://127.0.0.1:1/r", token: "t0ken-0123456789" },
    (l) => lines.push(l),
  );
  await unreachable.tick();
  expect(lines[0]).toBe("report: 401 from the platform");
  expect(lines).toHaveLength(2);
  expect(lines.join()).not.toContain("t0ken");
});

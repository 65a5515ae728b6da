import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

/** Runs `openssl` with each argv in a fresh directory holding `inputs`; returns `outputs`' text. */
function openssl(inputs: Record<string, string>, steps: string[][], outputs: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), "meetpoint-report-"));
  try {
    for (const [name, text] of Object.entries(inputs)) writeFileSync(join(dir, name), text);
    for (const args of steps) {
      const result = spawnSync("openssl", args, { cwd: dir });
      if (result.status !== 0) throw new Error(`openssl ${args[0]}: ${result.stderr}`);
    }
    return outputs.map((name) => readFileSync(join(dir, name), "utf8"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"];
// Certificates for the name platform.example only: the reports go to https://127.0.0.1, where the
// host-name check refuses them; only the pin can accept them.
const SAN = "subjectAltName=DNS:platform.example";

const selfSigned = () => {
  const [cert, key] = openssl(
    {},
    [["req", "-x509", ...EC, "-subj", "/CN=platform", "-addext", SAN, "-keyout", "k", "-out", "c"]],
    ["c", "k"],
  );
  return { cert: cert as string, key: key as string };
};

/** Like the platform's development certificate: a leaf from the platform CA, served with it. */
const caIssued = () => {
  const [leaf, ca, key] = openssl(
    { ext: `${SAN}\n` },
    [
      ["req", "-x509", ...EC, "-subj", "/CN=platform CA", "-keyout", "ca.key", "-out", "ca"],
      ["req", ...EC, "-subj", "/CN=platform", "-keyout", "k", "-out", "csr"],
      [
        "x509",
        "-req",
        "-in",
        "csr",
        "-CA",
        "ca",
        "-CAkey",
        "ca.key",
        "-extfile",
        "ext",
        "-out",
        "c",
      ],
    ],
    ["c", "ca", "k"],
  );
  return { cert: `${leaf}${ca}`, key: key as string };
};

/** Reports once to an HTTPS server with `served`, pinning `pinned`; the posts and the log lines. */
async function reportOverHttps(served: { cert: string; key: string }, pinned?: string) {
  const received: unknown[] = [];
  const https = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: served,
    async fetch(request) {
      received.push(await request.json());
      return new Response(null, { status: 204 });
    },
  });
  const lines: string[] = [];
  try {
    const url = `https://127.0.0.1:${https.port}/r`;
    const reporter = createReporter({ url, token: "t0ken-0123456789", certificate: pinned }, (l) =>
      lines.push(l),
    );
    await reporter.set({ vpn: "up" });
  } finally {
    await https.stop(true);
  }
  return { received, lines };
}

test("over https, the pinned certificate is trusted whatever the URL's host", async () => {
  const self = selfSigned();
  expect(await reportOverHttps(self, self.cert)).toEqual({
    received: [{ vpn: "up", at: expect.any(String) }],
    lines: [],
  });
  const issued = caIssued();
  expect(await reportOverHttps(issued, issued.cert)).toEqual({
    received: [{ vpn: "up", at: expect.any(String) }],
    lines: [],
  });
});

test("over https, another certificate pinned or none refuses the platform's, and says why", async () => {
  const self = selfSigned();
  const other = await reportOverHttps(self, selfSigned().cert);
  expect(other.received).toEqual([]);
  expect(other.lines).toEqual([expect.stringMatching(/^report: .*self[- ]signed/i)]);
  const unpinned = await reportOverHttps(self);
  expect(unpinned.received).toEqual([]);
  expect(unpinned.lines).toEqual([expect.stringMatching(/^report: .*self[- ]signed/i)]);
  // Trusted by its issuer, but neither pinned nor valid for 127.0.0.1.
  const issued = caIssued();
  const renewed = await reportOverHttps(
    { cert: issued.cert, key: issued.key },
    `${selfSigned().cert}${issued.cert.slice(issued.cert.indexOf("-----BEGIN", 10))}`,
  );
  expect(renewed.received).toEqual([]);
  expect(renewed.lines).toEqual([
    expect.stringMatching(/^report: not the platform's pinned certificate/),
  ]);
});

test("a certificate that does not parse is refused at once", () => {
  expect(() =>
    createReporter(
      {
        url: "https://127.0.0.1:1/r",
        token: "t0ken-0123456789",
        certificate: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
      },
      () => {},
    ),
  ).toThrow("report.certificate: not a PEM certificate");
});

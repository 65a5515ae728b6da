// Webhook targets (SSRF). Regressions: [::ffff:127.0.0.1] (rewritten by URL parsing to
// ::ffff:7f00:1), [64:ff9b::7f00:1], [2002:7f00:1::], 198.18.0.1 and 192.0.0.1 were accepted; the
// check and the delivery looked the name up separately (DNS rebinding); "is a unspecified address".
import { afterAll, describe, expect, test } from "bun:test";
import { checkWebhookTarget, specialRange } from "./ssrf.ts";
import { postWebhook } from "./webhook.ts";

describe("special-purpose addresses", () => {
  test("IPv4 in IPv6 spellings, benchmarking and IETF ranges are refused", async () => {
    const refused: [string, string][] = [
      ["https://[::ffff:127.0.0.1]:28999/hook", "IPv4-mapped"],
      ["https://[::ffff:7f00:1]/hook", "IPv4-mapped"],
      ["https://[64:ff9b::7f00:1]/hook", "NAT64"],
      ["https://[2002:7f00:1::]/hook", "6to4"],
      ["https://[2001::1]/hook", "Teredo"],
      ["https://[::7f00:1]/hook", "outside 2000::/3"],
      ["https://198.18.0.1/hook", "reserved"],
      ["https://192.0.0.1/hook", "reserved"],
      ["https://0.0.0.0/hook", "unspecified"],
      ["https://[::]/hook", "unspecified"],
      ["https://127.1/hook", "loopback"],
      ["https://0x7f000001/hook", "loopback"],
      ["https://100.64.0.1/hook", "shared (carrier-grade NAT)"],
      ["https://255.255.255.255/hook", "broadcast"],
      ["https://[fd00::1]/hook", "unique local"],
    ];
    for (const [target, words] of refused) {
      const attempt = checkWebhookTarget(target, false);
      await expect(attempt, target).rejects.toThrow(words);
      await expect(attempt).rejects.toThrow("special-purpose");
    }
  });

  test("public unicast addresses pass; the message has no broken grammar", async () => {
    expect(specialRange("93.184.216.34")).toBeNull();
    expect(specialRange("2606:4700::1111")).toBeNull();
    expect(specialRange("0.0.0.0")).toBe("unspecified");
    await expect(checkWebhookTarget("https://0.0.0.0/x", false)).rejects.not.toThrow(
      "a unspecified",
    );
  });

  test("a name resolved to a private address among public ones is refused", async () => {
    const resolve = async () => ["93.184.216.34", "::ffff:10.0.0.1"];
    await expect(
      checkWebhookTarget("https://hooks.example.test/x", false, resolve),
    ).rejects.toThrow("IPv4-mapped");
  });
});

describe("the delivery connects to the address that was checked", () => {
  const seen: { host: string | null; path: string }[] = [];
  const receiver = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(request) {
      seen.push({ host: request.headers.get("host"), path: new URL(request.url).pathname });
      return new Response("ok");
    },
  });
  afterAll(() => receiver.stop(true));

  test("one lookup: the name is kept for Host, the connection goes to the resolved address", async () => {
    let lookups = 0;
    // A rebinding resolver: the first answer is the one checked; any later one would differ.
    const resolve = async () => (lookups++ === 0 ? ["127.0.0.1"] : ["192.0.2.1"]);
    const target = await checkWebhookTarget(
      `http://hooks.lab.test:${receiver.port}/hook`,
      true,
      resolve,
    );
    await postWebhook({ target, key: "k", deliveryId: "d1", body: "{}", now: new Date() });
    expect(lookups).toBe(1);
    expect(seen).toEqual([{ host: `hooks.lab.test:${receiver.port}`, path: "/hook" }]);
  });
});

import { describe, expect, test } from "bun:test";
import { authorizedKeysFile, DropbearLog, dropbearArgs } from "./dropbear.ts";

describe("dropbear", () => {
  test("key-only, no forwarding, listening only on the given addresses", () => {
    const args = dropbearArgs({
      hostKey: "/data/ssh/host_ed25519",
      addresses: ["192.168.0.1", "100.127.0.2"],
      pidFile: "/data/run/dropbear.pid",
    });
    expect(args.slice(0, 7)).toEqual(["dropbear", "-F", "-E", "-s", "-j", "-k", "-m"]);
    expect(args.join(" ")).toContain("-p 192.168.0.1:22 -p 100.127.0.2:22");
    // Never a port without an address: that would listen on the WAN side too.
    expect(
      args.filter((_, i) => args[i - 1] === "-p").every((p) => /^\d+\.\d+\.\d+\.\d+:22$/.test(p)),
    ).toBe(true);
    expect(() => dropbearArgs({ hostKey: "k", addresses: [], pidFile: "p" })).toThrow();
  });

  test("authorized_keys: each key restricted, nothing but checked key lines", () => {
    const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO";
    expect(authorizedKeysFile([key, key])).toEndWith(
      `\nno-port-forwarding,no-agent-forwarding,no-X11-forwarding ${key}\n`,
    );
    expect(() => authorizedKeysFile([`${key}\ncommand="sh" ${key}`])).toThrow();
  });

  test("its log, as dropbear 2022.83 writes it, becomes login and failure events", () => {
    const log = new DropbearLog(() => new Date("2026-01-01T00:00:00Z"));
    const lines = [
      "[24730] Nov 30 13:42:08 Child connection from 127.0.0.1:58538",
      "[24730] Nov 30 13:42:08 Pubkey auth succeeded for 'root' with ssh-ed25519 key SHA256:a3kagddo3u0wp5ErtFvMdGPFxI0cJeBiWDYxA8xSmrM from 127.0.0.1:58538",
      "[24730] Nov 30 13:42:08 Exit (root) from <127.0.0.1:58538>: Exited normally",
      "[24736] Nov 30 13:42:08 Exit before auth from <198.18.0.9:58548>: (user 'root', 2 fails): Max auth tries reached",
      "[24748] Nov 30 13:42:08 Login attempt for nonexistent user",
      "[24748] Nov 30 13:42:08 Exit before auth from <127.0.0.1:58580>: Exited normally",
    ];
    const events = lines.map((line) => log.read(line)).filter((e) => e !== null);
    expect(events).toEqual([
      {
        at: "2026-01-01T00:00:00.000Z",
        kind: "login",
        user: "root",
        from: "127.0.0.1:58538",
        fingerprint: "SHA256:a3kagddo3u0wp5ErtFvMdGPFxI0cJeBiWDYxA8xSmrM",
        detail: "ssh-ed25519 key accepted",
      },
      {
        at: "2026-01-01T00:00:00.000Z",
        kind: "failed",
        user: "root",
        from: "198.18.0.9:58548",
        fingerprint: null,
        detail: "2 failed tries; not authenticated (Max auth tries reached)",
      },
      {
        at: "2026-01-01T00:00:00.000Z",
        kind: "failed",
        user: null,
        from: "127.0.0.1:58580",
        fingerprint: null,
        detail: "no such user; not authenticated (Exited normally)",
      },
    ]);
  });
});

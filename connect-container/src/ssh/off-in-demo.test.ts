import { expect, test } from "bun:test";
import { SshOffInDemo } from "./off-in-demo.ts";

test("demo mode: SSH asked on is refused with the reason; off is fine; nothing listens", async () => {
  const ssh = new SshOffInDemo();
  await expect(ssh.apply({ enabled: true, keys: [], addresses: ["127.0.0.1"] })).rejects.toThrow(
    "SSH server stays off in demo mode",
  );
  await ssh.apply({ enabled: false, keys: [], addresses: [] });
  expect(ssh.listening).toEqual([]);
  expect(ssh.hostKey).toBeNull();
});

import { describe, expect, test } from "bun:test";
import { parseSshPublicKey } from "./public-key.ts";

// Made with ssh-keygen (OpenSSH 9.2); the fingerprints are what `ssh-keygen -l` printed for them.
const ed25519 =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOIynV9TyTr45rQOJ2UlAv6KHCO/uTnUbHj81K3IA6zk admin@corp";
const rsa2048 =
  "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCbS9hUYqSEBT1vEU/G6i9axQEWpPmaQcQItsPKd8m45uS8uFphQQzl8yUxsj1Fj3ZWnuFDSUjJhuHjvyLa2NP90QyCdv0TfwwfDO8yqZpzac5Qq/X9zY094+vSlatTfP8FiEUTy0rOs+o6sSy1DoIH1F6uLWHJghuECR/tkahqJcQ+dhIxX2fpvBkNSKnF5i2uMmvOObWTB6d5Ae4Gzx7C3vVIwgqJUOdbeclFUhcEk4NtGHGMVJzj03VlgnyL8kXOUVtBQ2hxa/Ef53l/5g2NspKKYOzMjK2m/5T91epM6B8ih7zgzVcdOYrJwu2IYuj24AljGmVzt+E566dPxVct root@vm";
const rsa3072 =
  "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQDLsiTykDX6ZDjm6dZR4H493ty7NTQgROb7n6qjDEwwOhoDKk2xx3AQY7mOJhKQYw21UP0eIgmAKnMFy5rOvP2zCwar/vt+YCNVy22PaTgiUPaeBqXj4bPvTJOJyw1lvCp6uHJo4CxkqZ6O5aTWEz3WMutL0Waa/RhYQJq3qGQACfIvz1fvrPu3uWA12EuPSbx4lJHdHsk7k4ZJnHteJ4yLtbbKyssvJ7DVqEcA2mteF5O0EDe2oRCttwM9tVHXZObo+RdsmIF589mNWMBAlZ99r2Hw7vItdCtJrkvSSRSuBAQNhxBC6lmYbagH7KUs0g6dlXo4FWlzdb0petflEujFNWJOjrWGJXcRVhYXE++WOb7FsZgiUQREIwHjupiyMuiIAzCRz1q1V1vDl3L+YrQwNAhTk0+4a7Fgrc/31bCZGJTa+t7bWADn+6WYGCLPe9odLVrREXbyMtgtjbYWU9LV17SKQYJlzBqspf/rm375+Po8Lf3/H/8tXo3tVifiAqM= root@vm";
const ecdsa384 =
  "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBHaPUO35EMiVtIGB6JFpXFlAWwNwGJRlB9tgU81t7Ecs6qu76h7YAIOovbx+aHVEFnjmbkBgnXk5EgFdGph0mH1afgjqA7aQXiuW3954+HAwHUadGyQPH4PbgMvu5DuGJw== root@vm";

describe("SSH public keys", () => {
  test("accepted kinds: type, size and the fingerprint ssh-keygen prints", () => {
    const cases: [string, string, number, string][] = [
      [ed25519, "ssh-ed25519", 256, "SHA256:a3kagddo3u0wp5ErtFvMdGPFxI0cJeBiWDYxA8xSmrM"],
      [rsa3072, "ssh-rsa", 3072, "SHA256:eEnL38CC0Mi21mIE56EvCPvLsLo6vc9eCxio1bQF0LY"],
      [ecdsa384, "ecdsa-sha2-nistp384", 384, "SHA256:R8hu8Frkcw9l8/3WYbiOgRroAhSYana3x2ge3hVk2T0"],
    ];
    for (const [text, type, bits, fingerprint] of cases) {
      const result = parseSshPublicKey(`  ${text}\n`);
      if (!result.ok) throw new Error(result.reason);
      expect(result.key).toMatchObject({ type, bits, fingerprint });
      // The comment is kept for display, never written into authorized_keys.
      expect(result.key.line.split(" ")).toHaveLength(2);
    }
    const ok = parseSshPublicKey(ed25519);
    expect(ok.ok && ok.key.comment).toBe("admin@corp");
  });

  test("refused with the reason: RSA under 3072 bits, DSA, PEM, options, damage, two lines", () => {
    const [type, blob] = ed25519.split(" ") as [string, string];
    const cases: [string, string][] = [
      [rsa2048, "RSA key of 2048 bits: at least 3072"],
      [`ssh-dss ${blob}`, "DSA keys (ssh-dss) are refused"],
      ["-----BEGIN OPENSSH PRIVATE KEY-----", "that is a PEM file"],
      [`command="/bin/sh" ${ed25519}`, "options before the key are not allowed"],
      [`${type} ${blob.slice(0, -3)}`, "damaged"],
      [`${type} ${blob.slice(0, -8)}`, "not a valid ssh-ed25519 key"],
      [`ssh-rsa ${blob}`, "the key data names another type"],
      [`${ed25519}\n${ed25519}`, "one key per entry"],
      [`${type} ${blob} evil\u0007`, "comment"],
      ["", "empty"],
      ["hello world", "not a public key"],
    ];
    for (const [text, reason] of cases) {
      const result = parseSshPublicKey(text);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toContain(reason);
    }
  });
});

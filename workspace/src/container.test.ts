import { expect, test } from "bun:test";
import type { WorkspaceSpec } from "@meetpoint/common";
import { workspaceContainerOptions } from "./container.ts";

const spec: WorkspaceSpec = {
  vnc: { password: "Vnc-7x2q" },
  profile: { kind: "openvpn", config: "client\n" },
  firewall: "table inet meetpoint_workspace { }",
  report: { url: "https://platform.example/r", token: "0123456789abcdef" },
};

test("the hardening of issue 17: read-only root, no-new-privileges, four capabilities, tun only", () => {
  const options = workspaceContainerOptions({
    image: "meetpoint/workspace@sha256:00",
    name: "ws",
    network: "net",
  });
  const host = options.HostConfig ?? {};
  expect(host.ReadonlyRootfs).toBe(true);
  expect(host.SecurityOpt).toEqual(["no-new-privileges"]);
  expect(host.CapDrop).toEqual(["ALL"]);
  expect(host.CapAdd).toEqual(["NET_ADMIN", "NET_BIND_SERVICE", "SETUID", "SETGID", "KILL"]);
  expect(host.Devices?.map((device: { PathOnHost: string }) => device.PathOnHost)).toEqual([
    "/dev/net/tun",
  ]);
  expect(host.Privileged).toBeUndefined();
  expect(host.Binds).toBeUndefined();
  expect(host.PortBindings).toBeUndefined();
  expect(Object.keys(host.Tmpfs ?? {})).toEqual(["/tmp", "/run", "/home/desk"]);
  expect(host.NetworkMode).toBe("net");
  // No router, and the desktop user binds no port below 1024 (IKE's 500/4500 stay charon's).
  expect(host.Sysctls).toEqual({
    "net.ipv4.ip_forward": "0",
    "net.ipv6.conf.all.forwarding": "0",
    "net.ipv4.conf.all.rp_filter": "1",
    "net.ipv4.ip_unprivileged_port_start": "1024",
  });
  // The spec (secrets) goes to stdin, never into the container's config.
  expect(JSON.stringify(options)).not.toContain(spec.vnc.password);
  expect(options.Env).toEqual(["MEETPOINT_WORKSPACE_SPEC_STDIN=1"]);
  expect(options).toMatchObject({ OpenStdin: true, StdinOnce: true });
});

test("limits: defaults of 2 GiB without swap, 2 CPUs, 512 processes; a template's own", () => {
  const base = { image: "i", name: "ws", network: "net" };
  expect(workspaceContainerOptions(base).HostConfig).toMatchObject({
    Memory: 2 * 1024 ** 3,
    MemorySwap: 2 * 1024 ** 3,
    NanoCpus: 2e9,
    PidsLimit: 512,
  });
  expect(
    workspaceContainerOptions({ ...base, limits: { memoryBytes: 1e9, cpus: 0.5, pids: 100 } })
      .HostConfig,
  ).toMatchObject({ Memory: 1e9, MemorySwap: 1e9, NanoCpus: 5e8, PidsLimit: 100 });
});

test("a home volume replaces the home tmpfs: a named volume at /home/desk, nothing from the host", () => {
  const host =
    workspaceContainerOptions({
      image: "i",
      name: "ws",
      network: "net",
      homeVolume: "meetpoint-home-w1",
    }).HostConfig ?? {};
  expect(Object.keys(host.Tmpfs ?? {})).toEqual(["/tmp", "/run"]);
  expect(host.Mounts).toEqual([
    { Type: "volume", Source: "meetpoint-home-w1", Target: "/home/desk", ReadOnly: false },
  ]);
  expect(host.Binds).toBeUndefined();
});

test("resolvers: the allow-list's DNS servers as Docker's Dns, none left as Docker's default", () => {
  const base = { image: "i", name: "ws", network: "net" };
  expect(workspaceContainerOptions(base).HostConfig?.Dns).toBeUndefined();
  expect(workspaceContainerOptions({ ...base, dns: [] }).HostConfig?.Dns).toBeUndefined();
  expect(workspaceContainerOptions({ ...base, dns: ["10.1.2.3"] }).HostConfig?.Dns).toEqual([
    "10.1.2.3",
  ]);
});

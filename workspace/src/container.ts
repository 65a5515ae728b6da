// The jump workspace's container as the Docker Engine API takes it (dockerode's
// ContainerCreateOptions): a pure function of the template's image and limits, carrying the
// hardening of issue 17. The runtime (runtime.ts) creates and starts it; tests and benchmarks too.
import type Docker from "dockerode";
import { SPEC_STDIN_ENV } from "./spec.ts";

/** Resource limits of a workspace (a template's). */
export interface WorkspaceLimits {
  /** Bytes of memory (and memory + swap: no swap); default 2 GiB. */
  memoryBytes?: number;
  /** CPUs, fractions allowed; default 2. */
  cpus?: number;
  /** Processes and threads; default 512 (Firefox alone runs ~100 threads). */
  pids?: number;
}

export interface WorkspaceContainer {
  /** The image, by digest in production (meetpoint/workspace@sha256:…). */
  image: string;
  name: string;
  /** The customer's own Docker network (its id or name). */
  network: string;
  limits?: WorkspaceLimits;
  /** Seconds between unchanged reports; default the supervisor's (30). */
  reportSeconds?: number;
  /** Docker labels, e.g. the customer and workspace ids the runtime finds its containers by. */
  labels?: Record<string, string>;
  /**
   * A named Docker volume mounted at /home/desk (the workspace's home, kept across stops); absent:
   * a tmpfs the desktop user owns, gone at stop.
   */
  homeVolume?: string;
  /**
   * The resolvers Docker's embedded DNS (127.0.0.11) forwards to, from the container's own network
   * namespace (so through its egress rules); absent or empty: Docker's default, the host's.
   */
  dns?: string[];
}

/**
 * Capabilities the supervisor keeps, in the container's own namespaces: NET_ADMIN (nft, the tun
 * device, routes, IPsec states), NET_BIND_SERVICE (charon's IKE sockets on UDP 500 and 4500:
 * strongSwan's socket-default plugin refuses to load without it, whatever Docker allows root to
 * bind), SETUID/SETGID (starting Xvnc and the desktop under their own users), KILL (stopping
 * them). Processes lose them when they change user; no-new-privileges and an image
 * without setuid files keep them from coming back.
 */
export const WORKSPACE_CAPABILITIES = [
  "NET_ADMIN",
  "NET_BIND_SERVICE",
  "SETUID",
  "SETGID",
  "KILL",
] as const;

/** The VNC port the platform's relay connects to, on the workspace network. */
export const WORKSPACE_VNC_PORT = 5900;

/**
 * The create options of a workspace container (no Docker socket, no host path, no port
 * published). The spec is not in them: it goes to the supervisor's stdin (startWorkspace).
 */
export function workspaceContainerOptions(
  input: WorkspaceContainer,
): Docker.ContainerCreateOptions {
  const memory = input.limits?.memoryBytes ?? 2 * 1024 ** 3;
  return {
    name: input.name,
    Image: input.image,
    Env: [
      `${SPEC_STDIN_ENV}=1`,
      ...(input.reportSeconds ? [`MEETPOINT_WORKSPACE_REPORT_SECONDS=${input.reportSeconds}`] : []),
    ],
    Labels: input.labels ?? {},
    // stdin stays open until the runtime's one attach has written the spec and closed it.
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    ExposedPorts: { [`${WORKSPACE_VNC_PORT}/tcp`]: {} },
    HostConfig: {
      NetworkMode: input.network,
      // The workspace is no router (Docker hosts forward, and a container inherits it): nothing
      // from the customer's tunnel reaches the host's networks through it; strict reverse path.
      Sysctls: {
        "net.ipv4.ip_forward": "0",
        "net.ipv6.conf.all.forwarding": "0",
        "net.ipv4.conf.all.rp_filter": "1",
        // Docker lets anyone bind any port: the desktop user must not take IKE's 500/4500 first.
        "net.ipv4.ip_unprivileged_port_start": "1024",
      },
      ...(input.dns?.length ? { Dns: input.dns } : {}),
      ReadonlyRootfs: true,
      Tmpfs: {
        // noexec: nothing the desktop user downloads runs from here.
        "/tmp": "rw,nosuid,nodev,noexec,mode=1777,size=512m",
        "/run": "rw,nosuid,nodev,noexec,mode=0755,size=16m",
        ...(input.homeVolume
          ? {}
          : { "/home/desk": "rw,nosuid,nodev,uid=1000,gid=1000,mode=0700,size=512m" }),
      },
      // A new volume takes the image's /home/desk (owner desk) on its first mount.
      Mounts: input.homeVolume
        ? [{ Type: "volume", Source: input.homeVolume, Target: "/home/desk", ReadOnly: false }]
        : [],
      SecurityOpt: ["no-new-privileges"],
      CapDrop: ["ALL"],
      CapAdd: [...WORKSPACE_CAPABILITIES],
      Devices: [
        { PathOnHost: "/dev/net/tun", PathInContainer: "/dev/net/tun", CgroupPermissions: "rwm" },
      ],
      Memory: memory,
      MemorySwap: memory,
      NanoCpus: Math.round((input.limits?.cpus ?? 2) * 1e9),
      PidsLimit: input.limits?.pids ?? 512,
      // Firefox's content processes need more than Docker's 64 MiB default.
      ShmSize: 256 * 1024 ** 2,
      RestartPolicy: { Name: "no" },
      Init: false,
    },
  };
}

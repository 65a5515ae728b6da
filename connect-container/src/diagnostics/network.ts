// Checks of the gateway's own network: both interfaces up with an address, the default route, and
// the route towards the platform leaving through the WAN side.
import type { Runner } from "@meetpoint/common";
import { type DiagnosticLine, line } from "./line.ts";

/** The JSON list `ip -j …` prints; empty when it printed nothing readable. */
async function ipJson<T>(run: Runner, args: string[]): Promise<{ list: T[]; stderr: string }> {
  const result = await run(["ip", "-j", ...args]);
  try {
    return { list: JSON.parse(result.stdout || "[]"), stderr: result.stderr };
  } catch {
    return { list: [], stderr: result.stderr };
  }
}

/** The WAN and LAN interfaces: present, up, with an IPv4 address. */
export async function interfaceChecks(
  run: Runner,
  wanInterface: string,
  lanInterface: string,
): Promise<DiagnosticLine[]> {
  const { list: links } = await ipJson<{
    ifname: string;
    operstate: string;
    addr_info?: { family: string; local: string; prefixlen: number }[];
  }>(run, ["addr", "show"]);
  return (
    [
      ["WAN", wanInterface],
      ["LAN", lanInterface],
    ] as const
  ).map(([role, name]) => {
    const found = links.find((l) => l.ifname === name);
    const v4 = (found?.addr_info ?? [])
      .filter((a) => a.family === "inet")
      .map((a) => `${a.local}/${a.prefixlen}`);
    return !found
      ? line(
          `${role} interface ${name}`,
          "fail",
          "not present",
          `Check MEETPOINT_${role}_INTERFACE and the container's networks.`,
          "plant IT",
        )
      : v4.length === 0
        ? line(
            `${role} interface ${name}`,
            "fail",
            `${found.operstate}, no IPv4 address`,
            "Give the interface an address (DHCP or static).",
            "plant IT",
          )
        : line(
            `${role} interface ${name}`,
            found.operstate === "DOWN" ? "fail" : "ok",
            `${found.operstate}, ${v4.join(", ")}`,
            found.operstate === "DOWN" ? "Connect the cable, or bring the link up." : null,
            found.operstate === "DOWN" ? "plant IT" : null,
          );
  });
}

/** The default route: present, and not into the machine LAN. */
export async function defaultRouteCheck(
  run: Runner,
  lanInterface: string,
): Promise<DiagnosticLine> {
  const { list: routes } = await ipJson<{ dst: string; gateway?: string; dev: string }>(run, [
    "route",
    "show",
  ]);
  const defaultRoute = routes.find((r) => r.dst === "default");
  return defaultRoute
    ? line(
        "Default route",
        defaultRoute.dev === lanInterface ? "warn" : "ok",
        `via ${defaultRoute.gateway ?? "(direct)"} dev ${defaultRoute.dev}`,
        defaultRoute.dev === lanInterface
          ? "The default route leads into the machine LAN: the platform should be reached through the WAN."
          : null,
        defaultRoute.dev === lanInterface ? "plant IT" : null,
        false,
      )
    : line(
        "Default route",
        "warn",
        "none",
        "Without a default route only directly connected platforms are reachable.",
        "plant IT",
        false,
      );
}

/** The route the kernel picks towards the platform's address: it must leave through the WAN. */
export async function routeToPlatformCheck(
  run: Runner,
  address: string,
  wanInterface: string,
): Promise<DiagnosticLine> {
  const { list: via, stderr } = await ipJson<{ dev?: string; gateway?: string }>(run, [
    "route",
    "get",
    address,
  ]);
  const dev = via[0]?.dev;
  return dev === wanInterface
    ? line(
        `Route to ${address}`,
        "ok",
        `dev ${dev}${via[0]?.gateway ? ` via ${via[0].gateway}` : ""}`,
      )
    : line(
        `Route to ${address}`,
        "fail",
        dev ? `dev ${dev} (not the WAN side)` : stderr.trim() || "no route",
        "The platform must be reached through the WAN interface.",
        "plant IT",
      );
}

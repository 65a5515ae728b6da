// Keeps the kernel firewall in line with the agent's status: open towards the machines only while
// online, and only for the services of the platform's remote sessions.
import type { FirewallPort } from "../firewall/kernel.ts";
import type { ForwardedService, GatewayFirewall } from "../firewall/ruleset.ts";
import { TUNNEL_DEVICE } from "../vpn/openvpn.ts";
import type { AgentStatus } from "./status.ts";

/** Services the firewall lets through: those of the platform's remote sessions, while online. */
function forwardedServices(status: AgentStatus): ForwardedService[] {
  if (status.state !== "online") return [];
  return status.remoteSessions.flatMap((session) =>
    session.services.map((service) => ({
      proxyAddress: session.proxyAddress,
      lanAddress: session.lanAddress,
      protocol: service.protocol,
      port: service.port,
    })),
  );
}

/** The gateway ruleset the status asks for (pure). */
export function firewallFor(status: AgentStatus, lanInterface: string): GatewayFirewall {
  return {
    lanInterface,
    tunnelInterface: status.state === "online" ? TUNNEL_DEVICE : null,
    services: forwardedServices(status),
  };
}

export class FirewallSync {
  private applied = "";
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly firewall: FirewallPort,
    private readonly lanInterface: string,
    private readonly status: () => AgentStatus,
  ) {}

  /**
   * Brings the kernel in line with the status. Applies run one after another and each reads the
   * status when it runs, so the last one always matches the latest state (a slow "closed" can
   * never land after an "open").
   */
  apply(): Promise<void> {
    const run = this.queue.then(async () => {
      const model = firewallFor(this.status(), this.lanInterface);
      const key = JSON.stringify(model);
      if (key === this.applied) return;
      this.applied = "";
      await this.firewall.apply(model);
      this.applied = key;
    });
    this.queue = run.catch(() => {});
    return run;
  }
}

// The SSH server of demo mode (MEETPOINT_FIREWALL=dry-run): always off. Without the gateway's
// firewall dropbear would listen on the laptop's own addresses and the agent would write root's
// authorized_keys, so a platform admin's "SSH on" is refused here with that reason (the agent
// logs it once in Events), and nothing on the host changes.
import type { SshEvent } from "@meetpoint/common";
import type { SshDesired, SshPort } from "./server.ts";

export class SshOffInDemo implements SshPort {
  readonly hostKey = null;
  readonly listening: string[] = [];
  onEvent: (event: SshEvent) => void = () => {};

  async apply(desired: SshDesired): Promise<void> {
    if (desired.enabled)
      throw new Error(
        "SSH server stays off in demo mode (MEETPOINT_FIREWALL=dry-run): without the gateway's firewall it would be open on this host",
      );
  }

  async stop(): Promise<void> {}
}

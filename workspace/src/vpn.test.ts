import { describe, expect, test } from "bun:test";
import {
  charonLineError,
  espProbeArgs,
  ipsecBackendFor,
  openvpnArgs,
  openvpnLineEvent,
  strongswanConf,
  swanctlLoadArgs,
  swanctlSasState,
} from "./vpn.ts";

describe("openvpnLineEvent", () => {
  test("up once the initialization sequence completed", () => {
    expect(openvpnLineEvent("2026-11-30 23:43:20 Initialization Sequence Completed")).toEqual({
      vpn: "up",
    });
  });
  test("connecting again on a restart, with its reason", () => {
    expect(
      openvpnLineEvent("2026-11-30 SIGUSR1[soft,ping-restart] received, process restarting"),
    ).toEqual({ vpn: "connecting", lastError: "openvpn: restarting (ping-restart)" });
  });
  test("the options error OpenVPN exits with, and TLS errors", () => {
    expect(openvpnLineEvent("Options error: You must define CA file (--ca)")?.lastError).toBe(
      "openvpn: Options error: You must define CA file (--ca)",
    );
    expect(
      openvpnLineEvent(
        "2026 TLS Error: TLS key negotiation failed to occur within 60 seconds (check your network connectivity)",
      )?.lastError,
    ).toBe(
      "openvpn: TLS Error: TLS key negotiation failed to occur within 60 seconds (check your network connectivity)",
    );
    expect(openvpnLineEvent("2026 AUTH: Received control message: AUTH_FAILED")).toEqual({
      vpn: "connecting",
      lastError: "openvpn: AUTH_FAILED",
    });
  });
  test("ordinary lines change nothing", () => {
    expect(openvpnLineEvent("2026 TUN/TAP device tun0 opened")).toBeNull();
  });
});

describe("swanctlSasState", () => {
  test("up with an established IKE SA and an installed CHILD SA", () => {
    const listing = `home: #1, ESTABLISHED, IKEv2, 1234_i* 5678_r
  local  'client' @ 100.64.1.2[4500]
  net: #1, reqid 1, INSTALLED, TUNNEL, ESP:AES_GCM_16-256`;
    expect(swanctlSasState(listing)).toBe("up");
  });
  test("connecting while the IKE SA is still being set up, or none exists", () => {
    expect(swanctlSasState("home: #1, CONNECTING, IKEv2")).toBe("connecting");
    expect(swanctlSasState("")).toBe("connecting");
    expect(swanctlSasState("home: #1, CONNECTING, IKEv2", true)).toBe("connecting");
  });
  test("down when no SA is left after a failure charon logged", () => {
    expect(swanctlSasState("", true)).toBe("down");
    expect(swanctlSasState("\n", true)).toBe("down");
  });
});

test("the clients' argv: no scripts for OpenVPN, the tmpfs profile for swanctl", () => {
  expect(openvpnArgs("/run/x.ovpn")).toEqual([
    "openvpn",
    "--config",
    "/run/x.ovpn",
    "--script-security",
    "1",
    "--verb",
    "3",
  ]);
  expect(swanctlLoadArgs("/run/s.conf")).toEqual([
    "env",
    "STRONGSWAN_CONF=/run/meetpoint/vpn/strongswan.conf",
    "swanctl",
    "--load-all",
    "--noprompt",
    "--file",
    "/run/s.conf",
  ]);
});

describe("charonLineError", () => {
  test("the failures a technician can act on, in words", () => {
    expect(charonLineError("12[IKE] received AUTHENTICATION_FAILED notify error")).toBe(
      "ipsec: authentication failed",
    );
    expect(charonLineError("05[IKE] giving up after 5 retransmits")).toBe(
      "ipsec: no answer from the peer (gave up after 5 retransmits)",
    );
    expect(charonLineError("09[IKE] received NO_PROPOSAL_CHOSEN notify error")).toBe(
      "ipsec: no proposal chosen (algorithms do not match)",
    );
    expect(charonLineError("09[IKE] no shared key found for 'a' - 'b'")).toBe(
      "ipsec: no shared key for 'a'",
    );
    expect(
      charonLineError("14[CFG] no trusted ECDSA public key found for 'concentrator.example'"),
    ).toBe(
      "ipsec: authentication failed: no trusted certificate for 'concentrator.example' (not issued by the remote CA, or for another identity)",
    );
    expect(charonLineError("14[IKE] no private key found for 'ws@vendor.example'")).toBe(
      "ipsec: no private key for 'ws@vendor.example'",
    );
  });
  test("other lines are no error", () => {
    expect(charonLineError("07[IKE] initiating IKE_SA customer[1] to 198.19.130.10")).toBeNull();
  });
});

test("strongSwan's config: Debian's plugins by absolute path, the log on stderr", () => {
  const conf = strongswanConf();
  expect(conf).toContain("include /etc/strongswan.d/charon/*.conf");
  expect(conf).toContain("include /etc/strongswan.d/*.conf");
  expect(conf).toMatch(/filelog \{\s+stderr \{\s+default = 1/);
  // Kernel ESP by default: the userspace backend stays unloaded whatever Debian's file says.
  expect(conf).toMatch(/kernel-libipsec \{\s+load = no\s+\}/);
  expect(strongswanConf("kernel")).toBe(conf);
  // Userspace: loaded before kernel-netlink (priority 2 > its 1), after the included files.
  const userspace = strongswanConf("libipsec");
  expect(userspace).toMatch(/kernel-libipsec \{\s+load = 2\s+\}/);
  expect(userspace.indexOf("kernel-libipsec")).toBeGreaterThan(
    userspace.indexOf("include /etc/strongswan.d/charon/*.conf"),
  );
});

describe("ipsecBackendFor", () => {
  test("kernel ESP when the probe's state was accepted", () => {
    expect(ipsecBackendFor({ code: 0, stderr: "" }).backend).toBe("kernel");
  });
  test("userspace IPsec when the kernel has no ESP, with ip's words", () => {
    expect(
      ipsecBackendFor({ code: 2, stderr: "RTNETLINK answers: Protocol not supported\n" }),
    ).toEqual({
      backend: "libipsec",
      reason: "no ESP in this kernel (ip xfrm: RTNETLINK answers: Protocol not supported)",
    });
  });
  test("newer kernels' words for EPROTONOSUPPORT (extack)", () => {
    expect(ipsecBackendFor({ code: 2, stderr: "Error: Requested type not found.\n" }).reason).toBe(
      "no ESP in this kernel (ip xfrm: Error: Requested type not found.)",
    );
  });
  test("userspace IPsec on any other refusal too, saying which", () => {
    const other = ipsecBackendFor({
      code: 2,
      stderr: "RTNETLINK answers: Function not implemented",
    });
    expect(other.backend).toBe("libipsec");
    expect(other.reason).toBe(
      "the kernel refused an ESP state (ip xfrm: RTNETLINK answers: Function not implemented)",
    );
    expect(ipsecBackendFor({ code: 127, stderr: "" }).reason).toContain("exit 127");
  });
  test("the probe adds and deletes the same ESP state", () => {
    const { add, delete: del } = espProbeArgs();
    expect(add.slice(0, 4)).toEqual(["ip", "xfrm", "state", "add"]);
    expect(del.slice(0, 4)).toEqual(["ip", "xfrm", "state", "delete"]);
    expect(add.join(" ")).toContain(del.slice(4).join(" "));
    expect(add).toContain("esp");
  });
});

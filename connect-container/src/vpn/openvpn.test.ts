import { expect, test } from "bun:test";
import { clientArgs, TUNNEL_DEVICE } from "./openvpn.ts";

test("OpenVPN runs the verified profile on the gateway's tun device, managed over a Unix socket, routing nothing", () => {
  const args = clientArgs({ profile: "/data/run/dc.ovpn", management: "/data/run/openvpn.sock" });
  expect(args.slice(0, 3)).toEqual(["openvpn", "--config", "/data/run/dc.ovpn"]);
  const pairs = args.join(" ");
  expect(pairs).toContain(`--dev ${TUNNEL_DEVICE} --dev-type tun`);
  expect(pairs).toContain("--management /data/run/openvpn.sock unix");
  expect(pairs).toContain("--script-security 1");
  for (const option of ["redirect-gateway", "route", "dhcp-option"])
    expect(pairs).toContain(`--pull-filter ignore ${option}`);
  // Options after --config override the profile's.
  expect(args.indexOf("--dev")).toBeGreaterThan(args.indexOf("--config"));
});

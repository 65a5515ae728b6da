// `bun run lab`: the whole system for a person to try — both gateways enrolled and online, what to
// open and which commands to run as technician and operator — torn down on Ctrl-C.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { labUnavailable } from "./netns.ts";
import { PLATFORM_NAME, PORTAL, startLab, TECHNICIANS } from "./topology.ts";

const missing = labUnavailable(["openvpn", "nft", "conntrack", "dnsmasq", "chronyd", "dropbear"]);
if (missing) {
  console.error(`The lab cannot start here: it ${missing}.`);
  console.error(
    "On Debian, as root: apt-get install iproute2 openvpn nftables conntrack dnsmasq-base chrony dropbear-bin",
  );
  process.exit(2);
}

console.log("Building the lab (namespaces, platform, identity provider, two factories)…");
const lab = await startLab({ log: (line) => console.log(`  ${line}`) });
for (const site of lab.sites) {
  writeFileSync(
    join(lab.dir, `gateway-${site.name.toLowerCase().slice(0, 4)}`, "import", "bundle.jws"),
    site.bundle,
  );
}
for (const site of lab.sites) {
  for (let i = 0; i < 50 && (await site.local("POST", "/connect")).status !== 200; i++)
    await Bun.sleep(200);
}
const [a, b] = lab.sites;
const tech = lab.technicianNs.name;
const tina = TECHNICIANS[0];
console.log(`
The lab is up. Both gateways are enrolled and their operators pressed Connect.

Portal        ${PORTAL}
              this host reaches it at ${lab.hosts[PLATFORM_NAME]}: add "${lab.hosts[PLATFORM_NAME]} ${PLATFORM_NAME}" to /etc/hosts
              (the lab changes nothing outside its namespaces), or: curl -k --resolve ${PLATFORM_NAME}:8443:${lab.hosts[PLATFORM_NAME]} ${PORTAL}/healthz
Technician    "Sign in with Lab Service ID" as ${tina?.username} / ${tina?.password} (groups: ACME and BOLT technicians, MFA asserted)
Admin         admin / ${lab.adminCredentials.password}, TOTP key ${lab.adminCredentials.totpKey}
Operator UIs  ACME ${a.operatorUrl}   BOLT ${b.operatorUrl}   (passwords Operator-ACME-pw, Operator-BOLT-pw)
Local API     curl -k -H "Authorization: Bearer ${a.apiToken}" ${a.operatorUrl}/api/local/v1/state

As the technician: open a machine (ACME press, ${a.proxyAddress}; BOLT press, ${b.proxyAddress} — both are
192.168.0.10 on their own LAN), press Connect, save the .ovpn, then on this host:

  ip netns exec ${tech} openvpn --config ~/Downloads/<file>.ovpn
  ip netns exec ${tech} curl http://${a.proxyAddress}/            # the machine's web UI
  ip netns exec ${tech} curl --max-time 3 telnet://${a.proxyAddress}:22   # SSH is not enabled: nothing

Press Disconnect at the operator UI (or in the portal) and watch the curl stop.
Ctrl-C tears everything down.
`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  console.log("\nTearing the lab down…");
  await lab.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
await new Promise(() => {});

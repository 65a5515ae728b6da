// The lab OpenID provider as a service of its own (the Compose lab's "idp"): the lab technicians,
// one client for the platform. Prints its certificate, which the platform must trust for it.
// Run: bun lab/idp/serve.ts <issuer host> <port> <portal URL>
import { platformAsClient } from "../src/master-data.ts";
import { TECHNICIANS } from "../src/topology.ts";
import { startLabIdp } from "./provider.ts";

const [hostname = "idp.lab.test", port = "9443", portal = "https://platform.lab.test:8443"] =
  process.argv.slice(2);
const client = platformAsClient(portal);
const idp = await startLabIdp({
  hostname,
  port: Number(port),
  listen: "0.0.0.0",
  users: TECHNICIANS,
  clients: [client],
});
console.log(
  `Lab OpenID provider: issuer ${idp.issuer}, client "${client.clientId}" / "${client.clientSecret}"`,
);
console.log(`Users: ${TECHNICIANS.map((t) => `${t.username} / ${t.password}`).join(", ")}`);
console.log(`Its certificate (the platform must trust it):\n${idp.caPem}`);
process.on("SIGTERM", async () => {
  await idp.stop();
  process.exit(0);
});

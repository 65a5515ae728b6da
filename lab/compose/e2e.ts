// `bun run lab:compose`: the Compose lab end to end. Builds the images, brings compose.yaml up,
// enters both sites through the portal and the operator UIs, runs the core scenario (enroll,
// operator Connect, the technician reaches enabled services, a disabled port stays shut, operator
// Disconnect cuts it) and faults driven through the Docker API (a gateway pulled off the WAN and
// put back, the platform container restarted, PostgreSQL stopped), prints the connect image size
// and both idle RSS figures against DESIGN §10 — then tears everything down. Exit 0 only if all held.
// Without a registry: MEETPOINT_BASE_IMAGE=meetpoint/bun:1.4.5-slim (lab/compose/base-image.sh).
import { eventually } from "../src/netns.ts";
import { PortalClient } from "../src/portal.ts";
import { TECHNICIANS } from "../src/topology.ts";
import { E2eRun } from "./e2e-run.ts";
import { ComposeStack } from "./stack.ts";
import { workspaceScenario } from "./workspace-scenario.ts";

const PROJECT = "meetpoint-e2e";
const PORTAL = "https://platform.lab.test:8443";
const HOSTS = { "platform.lab.test": "127.0.0.1", "idp.lab.test": "127.0.0.1" };
const MACHINE_ADDRESS = "198.18.171.10";
const TARGET = { imageMb: 250, agentRssMb: 80, platformRssMb: 1024 };

const stack = new ComposeStack(PROJECT);
const run = new E2eRun(stack);
const { figures } = run;
const log = run.log.bind(run);
const check = run.check.bind(run);
const timeUntil = run.timeUntil.bind(run);
const webUi = run.webUi.bind(run);
const banner = run.banner.bind(run);
const startTunnel = run.startTunnel.bind(run);
const stopTunnel = run.stopTunnel.bind(run);

async function main(): Promise<void> {
  await stack.docker.ping().catch((error) => {
    throw new Error(
      `no Docker engine (${error.message}): start dockerd, or run as a user in the docker group`,
    );
  });
  stack.compose("config", "-q");
  check(true, "compose.yaml is valid (docker-compose config)");

  log(`building the images (base ${process.env.MEETPOINT_BASE_IMAGE ?? "oven/bun:1.4.5-slim"})`);
  stack.compose("build", "-q");
  const connectMb = await stack.imageMb("meetpoint/connect:dev");
  figures.push(`connect image: ${connectMb} MB (target ≤ ${TARGET.imageMb} MB)`);
  figures.push(
    `platform image: ${await stack.imageMb("meetpoint/platform:dev")} MB, lab image: ${await stack.imageMb("meetpoint/lab:dev")} MB`,
  );
  check(connectMb <= TARGET.imageMb, `connect image ${connectMb} MB ≤ ${TARGET.imageMb} MB`);

  stack.compose("down", "-v", "--remove-orphans");
  stack.compose("up", "-d");
  for (const service of ["platform", "gateway-acme", "gateway-bolt"]) await stack.healthy(service);
  check(true, "platform and both gateways healthy");
  const shipped = await stack.run("gateway-acme", [
    "sh",
    "-c",
    "ls /opt/meetpoint /opt/meetpoint/node_modules/.bun",
  ]);
  check(
    shipped.code === 0 &&
      !/^platform$|pglite|drizzle|openid-client|postgres@|oidc-provider/m.test(shipped.output),
    "the connect image holds no platform code and none of the platform's or the lab's dependencies",
  );

  // ---- master data and operators, as people enter them ----------------------------------------
  const { admin, sites } = await run.enterSites({
    portal: PORTAL,
    hosts: HOSTS,
    bootstrap: "platform",
    issuer: "https://idp.lab.test:9443",
    machineAddress: MACHINE_ADDRESS,
    sites: [
      ["ACME", "acme-service", 8441],
      ["BOLT", "bolt-service", 8442],
    ],
  });
  check(
    true,
    "admin entered the provider, two customers, sites, gateways, machines; operators set their passwords",
  );

  // ---- core scenario ---------------------------------------------------------------------------
  const state = run.state.bind(run);
  for (const site of sites) await run.enrollAndConnect(site);
  const [acme, bolt] = sites as [(typeof sites)[number], (typeof sites)[number]];
  const tina = TECHNICIANS[0];
  const technician = new PortalClient(PORTAL, HOSTS);
  await technician.signInWithProvider("lab", tina?.username ?? "", tina?.password ?? "");
  check(true, "technician signed in through the lab OpenID provider");

  await startTunnel(await technician.connect(acme.machineId, "Compose lab: ACME press"), "acme");
  check(
    (await webUi(acme.proxyAddress)) === "machine ACME web UI",
    `ACME machine's web UI at ${acme.proxyAddress}`,
  );
  check((await banner(acme.proxyAddress, 22)) === null, "ACME SSH (not enabled) is shut");
  check(
    (await webUi(MACHINE_ADDRESS)) === null,
    `the LAN address ${MACHINE_ADDRESS} itself is not reachable`,
  );
  const disconnect = await acme.local("POST", "/disconnect");
  check(disconnect.status === 200, "ACME operator pressed Disconnect");
  await timeUntil(
    "operator Disconnect → ACME machine unreachable",
    async () => (await webUi(acme.proxyAddress)) === null,
    5000,
  );
  await stopTunnel("acme");
  check((await state(bolt)) === "online", "BOLT stays online through ACME's Disconnect");
  // One openvpn client at a time: each technician config routes the whole proxy pool.
  await startTunnel(await technician.connect(bolt.machineId, "Compose lab: BOLT press"), "bolt");
  check(
    (await webUi(bolt.proxyAddress)) === "machine BOLT web UI",
    `BOLT machine (the same LAN address ${MACHINE_ADDRESS}) at ${bolt.proxyAddress}`,
  );

  /**
   * The technician's tunnel closed — which ends the remote session and, when it was still open,
   * returns the gateway to idle — then a new config, as soon as the platform offers one: the
   * operator presses Connect whenever the gateway is idle (only the operator re-arms).
   */
  const againAtBolt = async (reason: string, from = performance.now()) => {
    const open = (await bolt.local("GET", "/state")).body.remoteSessionActive === true;
    await stopTunnel("bolt");
    // The platform records the end first (technician's portal: no open session left) …
    await timeUntil(`${reason}: the technician's session recorded as ended`, async () => {
      const page = await technician.page("/sessions");
      return !/action="\/sessions\/[0-9a-f-]{36}\/disconnect"/.test(page);
    });
    // … and closes the gateway's channel when the session was still open then: a Connect asked
    // before the gateway has gone idle would be refused with it.
    if (open) await eventually(async () => (await state(bolt)) === "idle", 5000, 100);
    let profile = "";
    let refusal = "";
    await timeUntil(
      `${reason}: the platform offers a config for BOLT`,
      async () => {
        // … then the gateway follows (idle after a technician's end; back online by itself
        // after a platform restart or a database cut).
        if ((await state(bolt)) === "idle") await bolt.local("POST", "/connect");
        profile = await technician
          .connect(bolt.machineId, `Compose lab: ${reason}`)
          .catch((error: Error) => {
            refusal = error.message;
            return "";
          });
        return profile !== "";
      },
      60_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}; the last refusal: ${refusal}`);
    });
    await startTunnel(profile, "bolt");
    check(
      (await webUi(bolt.proxyAddress)) === "machine BOLT web UI",
      `BOLT machine reachable ${reason}`,
    );
    figures.push(
      `${reason}: technician at the BOLT machine again after ${Math.round(performance.now() - from)} ms`,
    );
  };

  // ---- fault: the BOLT gateway pulled off the WAN and put back -----------------------------------
  const wan = stack.network("wan");
  const boltId = (await stack.container("gateway-bolt").inspect()).Id;
  const reachable = async () =>
    ((await bolt.local("GET", "/state")).body.platform as { reachable?: boolean } | null)
      ?.reachable;
  const wanName = async () =>
    (
      await stack.run("gateway-bolt", ["sh", "-c", "ip -o -4 addr show to 198.18.160.0/24"])
    ).output.split(" ")[1];
  const wanBefore = await wanName();
  await wan.disconnect({ Container: boltId });
  await timeUntil(
    "BOLT off the WAN → its control channel sees the cut",
    async () => (await reachable()) === false,
  );
  check(
    (await webUi(bolt.proxyAddress)) === null,
    "BOLT machine unreachable while its gateway is off the WAN",
  );
  await wan.connect({ Container: boltId });
  await timeUntil(
    "BOLT back on the WAN → online",
    async () => (await state(bolt)) === "online" && (await reachable()) === true,
    120_000,
  );
  const boltWan = (await stack.container("gateway-bolt").inspect()).NetworkSettings.Networks[
    `${PROJECT}_wan`
  ]?.IPAddress;
  log(`BOLT's WAN interface was ${wanBefore}, is now ${await wanName()}`);
  check(
    (await stack.run("technician", ["curl", "-sk", "--max-time", "2", `https://${boltWan}/`]))
      .code !== 0,
    `BOLT's operator UI stays closed on its re-attached (renamed) WAN interface ${boltWan}`,
  );
  await againAtBolt("after the WAN cut");

  // ---- fault: the platform container restarted ---------------------------------------------------
  const platformRestarted = performance.now();
  await stack.container("platform").restart();
  await stack.healthy("platform");
  await againAtBolt("after the platform restart", platformRestarted);

  // ---- fault: PostgreSQL stopped -------------------------------------------------------------------
  await stack.container("postgres").stop();
  await timeUntil(
    "PostgreSQL stopped → no traffic to the BOLT machine",
    async () => (await webUi(bolt.proxyAddress)) === null,
    15_000,
  );
  const asked = performance.now();
  const portal = await fetch("https://127.0.0.1:8443/", {
    headers: { host: "platform.lab.test:8443" },
    tls: { rejectUnauthorized: false },
  });
  const answered = Math.round(performance.now() - asked);
  figures.push(`portal without its database: HTTP ${portal.status} after ${answered} ms`);
  check(portal.status === 503, `portal answers 503 without its database (${portal.status})`);
  const postgresStarted = performance.now();
  await stack.container("postgres").start();
  await stack.healthy("postgres", 60_000);
  await againAtBolt("after the database came back", postgresStarted);
  await stopTunnel("bolt");

  // ---- the third customer: no gateway, a jump workspace into its own VPN ---------------------------
  await workspaceScenario(run, admin, { url: PORTAL, hosts: HOSTS });

  // ---- idle memory ---------------------------------------------------------------------------------
  await acme.local("POST", "/disconnect");
  await bolt.local("POST", "/disconnect");
  await Bun.sleep(5000);
  const agentMb = await stack.rssMb("gateway-acme");
  const platformMb = await stack.rssMb("platform");
  figures.push(`connect agent idle RSS: ${agentMb} MB (target ≤ ${TARGET.agentRssMb} MB)`);
  figures.push(
    `platform idle RSS (PostgreSQL, 2 gateways): ${platformMb} MB (target ≤ ${TARGET.platformRssMb} MB)`,
  );
  check(
    agentMb <= TARGET.agentRssMb,
    `connect agent idle RSS ${agentMb} MB ≤ ${TARGET.agentRssMb} MB`,
  );
  check(
    platformMb <= TARGET.platformRssMb,
    `platform idle RSS ${platformMb} MB ≤ ${TARGET.platformRssMb} MB`,
  );
}

await run.finish("Compose lab", main, ["platform", "gateway-acme", "gateway-bolt"]);

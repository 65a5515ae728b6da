// `bun run lab:compose`: the Compose lab end to end. Builds the images, brings compose.yaml up,
// enters both sites through the portal and the operator UIs, runs the core scenario (enroll,
// operator Connect, the technician reaches enabled services, a disabled port stays shut, operator
// Disconnect cuts it) and faults driven through the Docker API (a gateway pulled off the WAN and
// put back, the platform container restarted, PostgreSQL stopped), prints the connect image size
// and both idle RSS figures against DESIGN §10 — then tears everything down. Exit 0 only if all held.
// Without a registry: MEETPOINT_BASE_IMAGE=meetpoint/bun:1.4.5-slim (lab/compose/base-image.sh).
import {
  type EnteredSite,
  enterLabProvider,
  enterSite,
  localApi,
  setUpOperator,
} from "../src/master-data.ts";
import { eventually } from "../src/netns.ts";
import { PortalClient } from "../src/portal.ts";
import { TECHNICIANS } from "../src/topology.ts";
import { ComposeStack } from "./stack.ts";

const PROJECT = "meetpoint-e2e";
const PORTAL = "https://platform.lab.test:8443";
const HOSTS = { "platform.lab.test": "127.0.0.1", "idp.lab.test": "127.0.0.1" };
const MACHINE_ADDRESS = "198.18.171.10";
const TARGET = { imageMb: 250, agentRssMb: 80, platformRssMb: 1024 };

const stack = new ComposeStack(PROJECT);
const figures: string[] = [];
const started = performance.now();

function log(line: string) {
  console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
  log(`ok  ${what}`);
}

/** The machine's web UI as the technician's host sees it through `proxy`, or null. */
async function webUi(proxy: string): Promise<string | null> {
  const result = await stack.run("technician", [
    "curl",
    "-s",
    "--max-time",
    "0.5",
    `http://${proxy}/`,
  ]);
  return result.code === 0 ? result.output.trim() : null;
}

/** What a TCP port says first (an SSH banner), or null when nothing answers. */
async function banner(host: string, port: number): Promise<string | null> {
  const result = await stack.run("technician", [
    "sh",
    "-c",
    `curl -s --max-time 2 telnet://${host}:${port} </dev/null`,
  ]);
  return result.output.trim() || null;
}

async function timeUntil(
  what: string,
  condition: () => Promise<boolean>,
  ms = 30_000,
): Promise<number> {
  const from = performance.now();
  if (!(await eventually(condition, ms, 100)))
    throw new Error(`${what}: not within ${ms / 1000} s`);
  const took = Math.round(performance.now() - from);
  figures.push(`${what}: ${took} ms`);
  log(`ok  ${what} after ${took} ms`);
  return took;
}

async function startTunnel(profile: string, name: string): Promise<void> {
  const started = await stack.run(
    "technician",
    [
      "sh",
      "-c",
      `printf %s "$PROFILE" >/tmp/${name}.ovpn && openvpn --config /tmp/${name}.ovpn --daemon --log /tmp/${name}.log --writepid /tmp/${name}.pid`,
    ],
    [`PROFILE=${profile}`],
  );
  if (started.code !== 0) throw new Error(`openvpn ${name}: ${started.output}`);
  const up = await eventually(
    async () =>
      (await stack.run("technician", ["cat", `/tmp/${name}.log`])).output.includes(
        "Initialization Sequence Completed",
      ),
    30_000,
    200,
  );
  if (!up)
    throw new Error(
      `openvpn ${name} did not connect:\n${(await stack.run("technician", ["cat", `/tmp/${name}.log`])).output.slice(-1500)}`,
    );
}

async function stopTunnel(name: string): Promise<void> {
  await stack.run("technician", [
    "sh",
    "-c",
    `kill $(cat /tmp/${name}.pid) 2>/dev/null; rm -f /tmp/${name}.*`,
  ]);
}

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
  const oneTime = (await stack.logsOf("platform")).match(/one-time password\n\n {4}(\S+)/)?.[1];
  if (!oneTime) throw new Error("the platform printed no one-time admin password");
  const admin = new PortalClient(PORTAL, HOSTS);
  await admin.firstSignIn("admin", oneTime);
  const caPem = (await stack.logsOf("idp")).match(
    /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/,
  )?.[0];
  if (!caPem) throw new Error("the lab OpenID provider printed no certificate");
  const providerId = await enterLabProvider(admin, { issuer: "https://idp.lab.test:9443", caPem });
  const sites: (EnteredSite & {
    name: string;
    service: string;
    local: (method: "GET" | "POST", path: string) => ReturnType<typeof localApi>;
  })[] = [];
  for (const [name, group, port] of [
    ["ACME", "acme-service", 8441],
    ["BOLT", "bolt-service", 8442],
  ] as const) {
    const entered = await enterSite(admin, {
      name,
      group,
      providerId,
      machineAddress: MACHINE_ADDRESS,
    });
    const operatorUrl = `https://127.0.0.1:${port}`;
    const token = await setUpOperator(operatorUrl, name);
    const service = `gateway-${name.toLowerCase()}`;
    const local = (method: "GET" | "POST", path: string) =>
      localApi(operatorUrl, token, method, path);
    sites.push({ name, service, ...entered, local });
  }
  check(
    true,
    "admin entered the provider, two customers, sites, gateways, machines; operators set their passwords",
  );

  // ---- core scenario ---------------------------------------------------------------------------
  const state = async (site: (typeof sites)[number]) =>
    String((await site.local("GET", "/state")).body.state);
  for (const site of sites) {
    const written = await stack.run(
      site.service,
      ["sh", "-c", 'printf %s "$BUNDLE" >/import/bundle.jws'],
      [`BUNDLE=${site.bundle}`],
    );
    if (written.code !== 0) throw new Error(`bundle into ${site.service}: ${written.output}`);
    await timeUntil(`${site.name} enrolled from its import directory`, async () => {
      const connect = await site.local("POST", "/connect");
      return connect.status === 200;
    });
    await timeUntil(
      `${site.name} operator Connect → online`,
      async () => (await state(site)) === "online",
    );
  }
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

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  console.error(`\nFAILED: ${error instanceof Error ? error.message : error}`);
  // The services' own words: every line that is not a stack trace, the last 60 of each.
  for (const service of ["platform", "gateway-acme", "gateway-bolt"]) {
    const lines = (await stack.logsOf(service).catch(() => ""))
      .split("\n")
      .filter((line) => line.trim() && !/^\s+(at |\d+ \||\^)/.test(line));
    if (lines.length) console.error(`\n--- ${service} ---\n${lines.slice(-60).join("\n")}`);
  }
} finally {
  log("tearing down (containers, networks, volumes)");
  try {
    stack.compose("down", "-v", "--remove-orphans");
  } catch (error) {
    failed = true;
    console.error(error instanceof Error ? error.message : error);
  }
}
console.log(`\nCompose lab figures:\n${figures.map((f) => `  ${f}`).join("\n")}`);
console.log(
  `${failed ? "FAILED" : "passed"} in ${Math.round((performance.now() - started) / 1000)} s`,
);
process.exit(failed ? 1 : 0);

// What the Compose labs' end-to-end scripts share (e2e.ts on compose.yaml, ha-e2e.ts on ha.yaml):
// the timed log, checks and measured figures, the technician's openvpn client and what it reaches,
// entering the sites through the portal and the operator UIs, and the run itself — the services'
// own words on failure, the teardown always, the figures and the exit code.
import {
  type EnteredSite,
  enterLabProvider,
  enterSite,
  localApi,
  setUpOperator,
} from "../src/master-data.ts";
import { eventually } from "../src/netns.ts";
import { PortalClient } from "../src/portal.ts";
import type { ComposeStack } from "./stack.ts";

/** A site entered in the portal, with its gateway's service and its operator's local API. */
export type LabSite = EnteredSite & {
  name: string;
  /** The Compose service of its gateway ("gateway-acme"). */
  service: string;
  local: (method: "GET" | "POST", path: string) => ReturnType<typeof localApi>;
};

export class E2eRun {
  /** Measured figures, printed at the end ("what: 123 ms"). */
  readonly figures: string[] = [];
  readonly started = performance.now();

  constructor(readonly stack: ComposeStack) {}

  log(line: string): void {
    console.log(
      `[${((performance.now() - this.started) / 1000).toFixed(1).padStart(6)} s] ${line}`,
    );
  }

  /** Throws `what` unless `ok`; logs it otherwise. */
  check(ok: boolean, what: string): void {
    if (!ok) throw new Error(what);
    this.log(`ok  ${what}`);
  }

  /** Milliseconds until `condition` holds (polled every 100 ms), recorded as a figure; throws after `ms`. */
  async timeUntil(what: string, condition: () => Promise<boolean>, ms = 30_000): Promise<number> {
    const from = performance.now();
    if (!(await eventually(condition, ms, 100)))
      throw new Error(`${what}: not within ${ms / 1000} s`);
    const took = Math.round(performance.now() - from);
    this.figures.push(`${what}: ${took} ms`);
    this.log(`ok  ${what} after ${took} ms`);
    return took;
  }

  /** The machine's web UI as the technician's host sees it through `proxy`, or null. */
  async webUi(proxy: string): Promise<string | null> {
    const result = await this.stack.run("technician", [
      "curl",
      "-s",
      "--max-time",
      "0.5",
      `http://${proxy}/`,
    ]);
    return result.code === 0 ? result.output.trim() : null;
  }

  /** What a TCP port says first (an SSH banner), or null when nothing answers. */
  async banner(host: string, port: number): Promise<string | null> {
    const result = await this.stack.run("technician", [
      "sh",
      "-c",
      `curl -s --max-time 2 telnet://${host}:${port} </dev/null`,
    ]);
    return result.output.trim() || null;
  }

  /** Starts the stock openvpn client on the technician's host with `profile`; resolves once connected. */
  async startTunnel(profile: string, name: string): Promise<void> {
    const started = await this.stack.run(
      "technician",
      [
        "sh",
        "-c",
        `printf %s "$PROFILE" >/tmp/${name}.ovpn && openvpn --config /tmp/${name}.ovpn --daemon --log /tmp/${name}.log --writepid /tmp/${name}.pid`,
      ],
      [`PROFILE=${profile}`],
    );
    if (started.code !== 0) throw new Error(`openvpn ${name}: ${started.output}`);
    const logOf = async () =>
      (await this.stack.run("technician", ["cat", `/tmp/${name}.log`])).output;
    const up = await eventually(
      async () => (await logOf()).includes("Initialization Sequence Completed"),
      30_000,
      200,
    );
    if (!up) throw new Error(`openvpn ${name} did not connect:\n${(await logOf()).slice(-1500)}`);
  }

  async stopTunnel(name: string): Promise<void> {
    await this.stack.run("technician", [
      "sh",
      "-c",
      `kill $(cat /tmp/${name}.pid) 2>/dev/null; rm -f /tmp/${name}.*`,
    ]);
  }

  /**
   * The admin's first sign-in (the one-time password `bootstrap` printed), the lab OpenID provider
   * entered, then per site a customer, site, gateway, machine and services, and the operator's
   * first sign-in at its operator UI. Returns the admin's portal client and the sites.
   */
  async enterSites(options: {
    portal: string;
    hosts: Record<string, string>;
    /** The service whose log holds the one-time admin password. */
    bootstrap: string;
    issuer: string;
    machineAddress: string;
    /** [name, group mapped to the technician role, operator UI port on this host]. */
    sites: (readonly [string, string, number])[];
  }): Promise<{ admin: PortalClient; sites: LabSite[] }> {
    const logs = await this.stack.logsOf(options.bootstrap);
    const oneTime = logs.match(/one-time password\n\n {4}(\S+)/)?.[1];
    if (!oneTime) throw new Error(`${options.bootstrap} printed no one-time admin password`);
    const admin = new PortalClient(options.portal, options.hosts);
    await admin.firstSignIn("admin", oneTime);
    const idpLog = await this.stack.logsOf("idp");
    const caPem = idpLog.match(
      /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/,
    )?.[0];
    if (!caPem)
      throw new Error(
        `the lab OpenID provider printed no certificate; its log:\n${idpLog.slice(-1500)}`,
      );
    const providerId = await enterLabProvider(admin, { issuer: options.issuer, caPem });
    const sites: LabSite[] = [];
    for (const [name, group, port] of options.sites) {
      const entered = await enterSite(admin, {
        name,
        group,
        providerId,
        machineAddress: options.machineAddress,
      });
      const operatorUrl = `https://127.0.0.1:${port}`;
      const token = await setUpOperator(operatorUrl, name);
      const local = (method: "GET" | "POST", path: string) =>
        localApi(operatorUrl, token, method, path);
      sites.push({ name, service: `gateway-${name.toLowerCase()}`, ...entered, local });
    }
    return { admin, sites };
  }

  /** The gateway's state as its operator UI reports it ("idle", "online", …). */
  async state(site: LabSite): Promise<string> {
    return String((await site.local("GET", "/state")).body.state);
  }

  /** Writes the site's enrollment bundle into its gateway's import directory; times enrolment and Connect → online. */
  async enrollAndConnect(site: LabSite): Promise<void> {
    const written = await this.stack.run(
      site.service,
      ["sh", "-c", 'printf %s "$BUNDLE" >/import/bundle.jws'],
      [`BUNDLE=${site.bundle}`],
    );
    if (written.code !== 0) throw new Error(`bundle into ${site.service}: ${written.output}`);
    await this.timeUntil(`${site.name} enrolled from its import directory`, async () => {
      const connect = await site.local("POST", "/connect");
      return connect.status === 200;
    });
    await this.timeUntil(
      `${site.name} operator Connect → online`,
      async () => (await this.state(site)) === "online",
    );
  }

  /**
   * Runs `main`; on failure prints the last 60 non-stack-trace lines of each of `services`' logs;
   * always tears the project down (containers, networks, volumes), prints the figures and exits
   * 0 only if `main` and the teardown succeeded.
   */
  async finish(title: string, main: () => Promise<void>, services: string[]): Promise<never> {
    let failed = false;
    try {
      await main();
    } catch (error) {
      failed = true;
      console.error(`\nFAILED: ${error instanceof Error ? error.message : error}`);
      for (const service of services) {
        const lines = (await this.stack.logsOf(service).catch(() => ""))
          .split("\n")
          .filter((line) => line.trim() && !/^\s+(at |\d+ \||\^)/.test(line));
        if (lines.length) console.error(`\n--- ${service} ---\n${lines.slice(-60).join("\n")}`);
      }
    } finally {
      // MEETPOINT_LAB_KEEP=1 leaves a failed stack up for a look (tear it down by hand then).
      const keep = failed && process.env.MEETPOINT_LAB_KEEP === "1";
      this.log(
        keep ? "kept up (MEETPOINT_LAB_KEEP=1)" : "tearing down (containers, networks, volumes)",
      );
      if (!keep)
        try {
          this.stack.compose("down", "-v", "--remove-orphans");
        } catch (error) {
          failed = true;
          console.error(error instanceof Error ? error.message : error);
        }
    }
    console.log(`\n${title} figures:\n${this.figures.map((f) => `  ${f}`).join("\n")}`);
    console.log(
      `${failed ? "FAILED" : "passed"} in ${Math.round((performance.now() - this.started) / 1000)} s`,
    );
    process.exit(failed ? 1 : 0);
  }
}

// The connect agent's entry point: configuration, state volume, the agent's loops, the operator UI
// over HTTPS (plus an HTTP redirect), and a clean stop that closes the tunnel and the firewall.
import { join } from "node:path";
import { configOrExit, privateDataDirectory, run } from "@meetpoint/common";
import { Agent } from "./agent/agent.ts";
import { EventLog } from "./agent/events.ts";
import { ProxySetting } from "./agent/proxy-setting.ts";
import { interfaceAddresses } from "./agent/ssh-sync.ts";
import { readConfig } from "./config.ts";
import { ControlClient } from "./control/client.ts";
import { runDiagnostics } from "./diagnostics/report.ts";
import { KernelFirewall } from "./firewall/kernel.ts";
import { RecordingFirewall } from "./firewall/recording.ts";
import { SshOffInDemo } from "./ssh/off-in-demo.ts";
import { DropbearServer } from "./ssh/server.ts";
import { Store } from "./state/store.ts";
import { createUiApp } from "./ui/app.tsx";
import { OperatorAuth } from "./ui/auth.ts";
import { serveOperatorUi } from "./ui/serve.ts";
import { uiCertificate } from "./ui/tls.ts";
import { OpenvpnClient } from "./vpn/openvpn.ts";

const config = configOrExit(() => {
  const read = readConfig(process.env);
  privateDataDirectory("MEETPOINT_DATA_DIR", read.dataDir);
  return read;
});
const store = new Store(config.dataDir);
const events = new EventLog(config.dataDir, undefined, (line) => console.log(line));
// One explicit proxy for both channels: fetch() would otherwise obey HTTPS_PROXY for the control
// channel alone, quietly, while OpenVPN went direct.
for (const name of config.ignoredProxyVariables) {
  delete process.env[name];
  events.add("warn", `${name} is ignored: set MEETPOINT_HTTP_PROXY (or the Proxy page) instead`);
}
const proxy = new ProxySetting({
  store,
  environment: config.httpProxy,
  log: (level, text) => events.add(level, text),
});
const demo = config.firewall === "dry-run";
if (demo) {
  const warning =
    "DEMO MODE (MEETPOINT_FIREWALL=dry-run): this gateway PROTECTS NOTHING. Its firewall only records what it would do; the host's firewall is not touched. Never connect it to a real machine network.";
  console.warn(`\n${"!".repeat(78)}\n${warning}\n${"!".repeat(78)}\n`);
  events.add("warn", warning);
}
const control = new ControlClient(
  () => store.enrollment(),
  () => proxy.current(),
);
const agent = new Agent({
  store,
  events,
  control,
  windowsApi: control,
  // OpenVPN's own lines go to the container's log: what IT reads when a tunnel misbehaves.
  vpn: new OpenvpnClient(join(config.dataDir, "run"), (line) => console.log(line)),
  firewall: demo
    ? new RecordingFirewall((text) => events.add("warn", text))
    : new KernelFirewall(run),
  ssh: demo
    ? new SshOffInDemo()
    : new DropbearServer({
        dir: join(config.dataDir, "ssh"),
        user: config.sshUser,
        run,
        log: (level, text) => events.add(level, text),
      }),
  lanInterface: config.lanInterface,
  lanAddresses: () => interfaceAddresses(run, config.lanInterface),
  uiPorts: [config.httpsPort, config.httpPort].filter((port) => port > 0),
  proxy: () => proxy.current(),
  importDir: config.importDir,
  heartbeatMs: config.heartbeatMs,
  lampPath: config.requestLampPath,
});
const auth = new OperatorAuth(store, config.initialPassword);
const app = createUiApp({
  agent,
  auth,
  events,
  proxy,
  demo,
  diagnostics: (progress) =>
    runDiagnostics(
      {
        agent,
        run,
        wanInterface: config.wanInterface,
        lanInterface: config.lanInterface,
        ntpServers: config.ntpServers,
        firewall: config.firewall,
        proxy: () => proxy.effective(),
      },
      progress,
    ),
});

await agent.start();
const tls = await uiCertificate(config.dataDir);
const https = serveOperatorUi(app, {
  hostname: config.uiAddress,
  port: config.httpsPort,
  certificate: tls,
});
const http =
  config.httpPort === 0
    ? null
    : Bun.serve({
        hostname: config.uiAddress,
        port: config.httpPort,
        fetch(request) {
          const url = new URL(request.url);
          const port = https.port === 443 ? "" : `:${https.port}`;
          return Response.redirect(
            `https://${url.hostname}${port}${url.pathname}${url.search}`,
            308,
          );
        },
      });
console.log(
  `Meetpoint gateway: operator UI on https://${config.uiAddress}:${https.port}/ (certificate SHA-256 ${tls.fingerprint})${http ? `, HTTP ${http.port} redirects` : ""}`,
);
console.log(`Import directory: ${config.importDir}`);

const stop = async () => {
  await agent.stop();
  https.stop();
  http?.stop();
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

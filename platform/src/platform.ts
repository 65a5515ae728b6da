// The platform assembled and started from its configuration: database, PKI, data plane, timers,
// the HTTPS and redirect servers. main.ts runs it as the service; the control-plane benchmark runs
// it in its own process beside its simulated gateways.
import { existsSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { configOrExit } from "@meetpoint/common";
import { Alerts, createMailer } from "./alerts/index.ts";
import { recordAuditAlone, SYSTEM_ACTOR } from "./audit/index.ts";
import type { Config } from "./config.ts";
import {
  certificateAuthorities,
  DataDirectoryInUseError,
  inProcessDatabase,
  lockDataDirectory,
  openDatabase,
  probePostgres,
} from "./db/index.ts";
import { createAdmin, forgetStaleLogins, hasAdmin, OidcClients } from "./identity/index.ts";
import {
  InstanceRefused,
  InstanceRegistry,
  JobLeases,
  REFRESH_MS,
  STALE_MS,
  sweepLostInstances,
} from "./instances/index.ts";
import { PlatformMetrics } from "./metrics/index.ts";
import {
  type CertificateSource,
  ConfiguredCertificate,
  DevelopmentCertificate,
  loadKek,
  Pki,
} from "./pki/index.ts";
import { auditSigner, RetentionSchedule } from "./retention/index.ts";
import { createRemoteAccess, DatabaseWatch } from "./sessions/index.ts";
import { systemClock } from "./shared/index.ts";
import { readSiemConfig, SiemExport } from "./siem/index.ts";
import { commandRunner } from "./system/index.ts";
import { KernelDataPlane } from "./vpn/index.ts";
import { AuthFailures, createApp, HttpsListener } from "./web/index.ts";
import {
  databaseDisplays,
  startWorkspaceBackups,
  sweepWorkspaces,
  VncRelay,
  viewerCheck,
  WorkspaceRuntime,
  workspaceEndpoints,
} from "./workspaces/index.ts";

/** The platform's version, as CEF headers and /metrics report it. */
const PLATFORM_VERSION = "0.1.0";

/** Why the platform will not start, in one line for its operator (main.ts prints it, exits 2). */
export class StartRefused extends Error {}

function refuseToStart(message: string): never {
  throw new StartRefused(message);
}

/** Seconds without the database before all remote access is cut. */
const DATABASE_GRACE_S = 5;

/** A started platform: its parts for a benchmark to drive, and stop() for a clean shutdown. */
export interface RunningPlatform {
  app: ReturnType<typeof createApp>;
  access: ReturnType<typeof createRemoteAccess>;
  db: ReturnType<typeof openDatabase>["db"];
  /** The HTTPS port listened on. */
  httpsPort: number;
  /** The first admin's one-time password when this start made the first admin, else null. */
  firstAdmin: string | null;
  /** Ends every session, stops timers and servers, closes the database. */
  stop(): Promise<void>;
  /**
   * Resolves with the reason when this instance must stop serving while running (its clock stepped
   * away from the database's: InstanceRegistry.refresh); main.ts stops it and exits with 2.
   */
  refused: Promise<string>;
}

/**
 * Starts the platform from `config` (config.ts readConfig). Throws StartRefused with a one-line
 * reason when it must not start (data directory in use, wrong or missing KEK).
 */
export async function startPlatform(config: Config): Promise<RunningPlatform> {
  const siemFile = config.operations.siemConfigFile;
  const siemConfig = siemFile ? configOrExit(() => readSiemConfig(siemFile)) : null;
  const clock = systemClock;
  /** This process among the platform instances (leases of singleton work carry it). */
  const instance = `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`;
  // PGlite serves one process: the data directory is this platform's while it runs (the command
  // line refuses it meanwhile, and a second platform does too).
  try {
    if (!config.databaseUrl) lockDataDirectory(config.dataDir, "the Meetpoint platform");
  } catch (error) {
    if (error instanceof DataDirectoryInUseError)
      refuseToStart(
        `${error.message} PGlite is single-instance; use PostgreSQL to run several instances.`,
      );
    throw error;
  }
  const database = openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  await database.migrate();
  const db = database.db;
  console.log(
    `Database: ${database.driver === "postgres" ? "PostgreSQL" : `PGlite in ${config.dataDir}`}, migrations applied.`,
  );
  // This instance in the registry: refused when its clock is off or its tunnel pool overlaps a
  // live instance's (several over PostgreSQL; over PGlite the data directory lock keeps it one).
  const registry = new InstanceRegistry({
    db,
    clock,
    self: {
      id: config.instance.id ?? hostname(),
      host: hostname(),
      vpnHost: config.vpn.host,
      vpnEndpoints: config.vpn.listen.map((l) => `${config.vpn.host}:${l.protocol}/${l.port}`),
      tunnelPool: config.vpn.tunnelPool,
    },
    skewAllowanceMs: config.instance.clockSkewAllowanceMs,
  });
  await registry.register().catch(async (error: unknown) => {
    if (!(error instanceof InstanceRefused)) throw error;
    await database.close();
    refuseToStart(error.message);
  });
  // Without the database this fails every 2 s: said once per outage (DatabaseWatch says the rest).
  let livenessFailing = false;
  let refuse: (reason: string) => void = () => {};
  const refused = new Promise<string>((resolve) => {
    refuse = resolve;
  });
  const liveness = setInterval(
    () =>
      registry.refresh().then(
        ({ registered, refusal }) => {
          livenessFailing = false;
          if (refusal) refuse(refusal);
          else if (!registered)
            console.error(
              `instance ${registry.id} was taken for lost by another instance (no liveness for ${STALE_MS / 1000} s): its sessions were ended as instance_lost and are cut here; serving on, registered anew`,
            );
        },
        (error) => {
          if (!livenessFailing) console.error("instance liveness:", error);
          livenessFailing = true;
        },
      ),
    REFRESH_MS,
  );
  const leases = new JobLeases(db, clock, instance);
  console.log(`Platform instance ${registry.id}.`);

  let firstAdmin: string | null = null;
  if (!(await hasAdmin(db)))
    firstAdmin = await createAdmin(db, clock, { username: "admin", via: "first start" });

  // A database whose CA exists was sealed with a KEK: a missing KEK file is not made anew (a new
  // key opens nothing and would stay behind, taken for the right one at the next start).
  const kekFile = "file" in config.kek ? config.kek.file : null;
  if (
    kekFile &&
    !existsSync(kekFile) &&
    (await db.select({ id: certificateAuthorities.id }).from(certificateAuthorities).limit(1))
      .length > 0
  )
    refuseToStart(
      `MEETPOINT_KEK_FILE: ${kekFile} is missing, but the database's CA and secrets are sealed with a key-encryption key: put the KEK that belongs to this database there (or set MEETPOINT_KEK). Restored from a backup? Use the KEK kept apart from it.`,
    );
  const kek = await loadKek(config.kek);
  const pki = await Pki.open({
    db,
    kek,
    clock,
    policy: config.certificates,
    trustDir: resolve(config.dataDir, "pki"),
  }).catch((error: unknown) => {
    if (error instanceof Error && error.message.includes("wrong key-encryption key"))
      refuseToStart(
        `${kekFile ? `MEETPOINT_KEK_FILE ${kekFile}` : "MEETPOINT_KEK"}: wrong key-encryption key — the database's CA was sealed with another one. Restored from a backup? Use the KEK kept apart from it.`,
      );
    throw error;
  });
  // CRLs are valid for an hour; renewing every ten minutes leaves room for a slow database. A
  // failure is audited (and so alerted) once, and so is the recovery. Not a singleton job: each
  // instance writes the CRL file its own OpenVPN servers read.
  let renewalFailing = false;
  const trustRefresh = setInterval(async () => {
    try {
      await pki.refreshTrustFiles();
      if (!renewalFailing) return;
      renewalFailing = false;
      await recordAuditAlone(db, clock, { actor: SYSTEM_ACTOR, action: "pki.renewal" });
    } catch (error) {
      console.error("renewing the CRL failed:", error);
      if (renewalFailing) return;
      renewalFailing = true;
      await recordAuditAlone(db, clock, {
        actor: SYSTEM_ACTOR,
        action: "pki.renewal",
        result: "failed",
        detail: { error: error instanceof Error ? error.message : String(error) },
      }).catch(() => {});
    }
  }, 10 * 60_000);
  // HTTPS: the operator's certificate (read again when its files change) or a development
  // certificate from the platform CA (kept across restarts, renewed 10 days before it expires).
  const certificate: CertificateSource = config.tls
    ? new ConfiguredCertificate(config.tls)
    : new DevelopmentCertificate(pki, clock, resolve(config.dataDir, "pki"), [
        config.publicUrl.hostname,
      ]);
  const served = await certificate.current();
  let servedUntil = served.notAfter;
  console.log(
    `HTTPS: ${config.tls ? "certificate from MEETPOINT_TLS_CERT" : "development certificate from the platform CA"}, valid until ${served.notAfter.toISOString()}, SHA-256 fingerprint\n  ${served.fingerprint}`,
  );

  const proxyPool = {
    pool: config.proxyPool,
    blockPrefix: config.gatewayBlockPrefix,
    reserved: [config.vpn.tunnelPool],
  };
  const dataPlane = new KernelDataPlane({
    commands: commandRunner(),
    runtimeDir: resolve(config.dataDir, "vpn"),
    pki,
    proxyPool: config.proxyPool,
    tunnelPool: config.vpn.tunnelPool,
    listen: config.vpn.listen,
    renegotiateSeconds: config.vpn.renegotiateSeconds,
    log: (line) => console.log(line),
  });
  const access = createRemoteAccess({
    db,
    clock,
    pki,
    dataPlane,
    proxyPool,
    vpn: config.vpn,
    instanceId: registry.id,
  });
  await access.commands.start(database.listen);
  await access.cuts?.start(database.listen);
  // Nothing of this instance survives a restart: sessions a crash left open are ended (and
  // audited) first; other instances' sessions are theirs.
  const leftovers = await access.ends.endAll("platform_shutdown");
  if (leftovers) console.log(`Ended ${leftovers} session(s) left open by the previous run.`);
  const siem = siemConfig
    ? new SiemExport({
        db,
        clock,
        config: siemConfig,
        identity: { hostname: config.publicUrl.hostname },
        version: PLATFORM_VERSION,
        instance,
        log: (line) => console.log(line),
        onAlarm: (change) =>
          recordAuditAlone(db, clock, {
            actor: SYSTEM_ACTOR,
            action: "siem.alarm",
            result: change.raised ? "failed" : "ok",
            detail: {
              destination: change.destination,
              backlog: change.backlog,
              error: change.lastError,
            },
          }),
      })
    : null;
  siem?.start();
  if (siemConfig)
    console.log(
      `SIEM export: ${siemConfig.destinations.map((d) => `${d.name} (${d.url}, ${d.format})`).join(", ")}`,
    );

  const ops = config.operations;
  const alerts = new Alerts({
    db,
    clock,
    instance,
    unsealSecret: (label, sealed) => pki.unsealSecret(label, sealed),
    mailer: ops.smtp ? createMailer(ops.smtp) : null,
    portalUrl: config.publicUrl.origin,
    allowPrivate: ops.webhookAllowPrivate,
    signInFailures: ops.signInAlertFailures,
    gatewayOfflineMs: ops.gatewayOfflineMs,
    log: (line) => console.error(line),
  });
  // Alerts: new audit entries routed and due deliveries sent every five seconds.
  let alerting = false;
  const alertTimer = setInterval(async () => {
    if (alerting) return;
    alerting = true;
    await alerts.tick().catch((error) => console.error("alerts:", error));
    alerting = false;
  }, 5000);

  const metrics = new PlatformMetrics({
    db,
    clock,
    dataPlane: () => dataPlane.status(),
    vpnServers: config.vpn.listen.length,
    certificates: async () => [
      ...(await pki.status()).map((ca) => ({
        name: `ca ${ca.fingerprint.slice(0, 23)}`,
        notAfter: ca.notAfter,
      })),
      { name: "https", notAfter: servedUntil },
      ...dataPlane
        .health()
        .servers.flatMap((s) =>
          s.state === "running"
            ? [{ name: `openvpn server ${s.index}`, notAfter: s.certificateNotAfter }]
            : [],
        ),
    ],
    crlWrittenAt: () => {
      const file = pki.trustFiles?.crl;
      return file && existsSync(file) ? statSync(file).mtime : null;
    },
    siem: () => siem?.status() ?? [],
    alertOutbox: () => alerts.outbox(),
  });
  const plane = await dataPlane.start(metrics.countDecisions(access.connections));
  const listen = config.vpn.listen.map((l) => `${l.protocol}/${l.port}`).join(", ");
  console.log(
    plane.on
      ? `Data plane: OpenVPN on ${listen}, firewall table inet meetpoint`
      : `Data plane OFF: ${plane.reason}`,
  );
  // Browser access to jump workspaces: the VNC relay, recording under <data dir>/recordings (one
  // directory for all instances — shared storage — so any of them plays and prunes). Each open
  // desktop connection's sign-in, access and run are checked again every 2 s.
  const recordingsDir = config.operations.recordingsDir ?? resolve(config.dataDir, "recordings");
  const displays = databaseDisplays(db, pki);
  const workspaceRelay = new VncRelay({
    db,
    clock,
    displays,
    recordingsDir,
    check: viewerCheck({ db, clock, session: config.session, displays }),
    log: (line) => console.error(line),
  });
  // Every second: session ends, and fail closed without the database (see DatabaseWatch), judged
  // by a probe on its own connection and thread, so that overload never reads as a lost database.
  const reachability = config.databaseUrl ? probePostgres(config.databaseUrl) : inProcessDatabase();
  const databaseWatch = new DatabaseWatch(
    metrics.watchDatabase({
      ...access.watched,
      // Desktop connections are remote access too: cut with the rest.
      async cutForLostDatabase() {
        await access.watched.cutForLostDatabase();
        await workspaceRelay.cutAll("the platform lost its database (fail closed)");
      },
    }),
    DATABASE_GRACE_S * 1000,
    () => reachability.lastAnswer(),
  );
  // Session end times stay with each instance (not a singleton job): an end cuts grants and
  // connections in the kernel holding the tunnel, which is this instance's for its own sessions.
  const ticker = setInterval(() => void databaseWatch.beat(), 1000);
  // A lost instance's sessions are ended by one survivor (lease "lost-instances").
  let sweeping = false;
  let sweepError = "";
  const lostSweep = setInterval(async () => {
    if (sweeping) return;
    sweeping = true;
    await leases
      .run("lost-instances", () =>
        sweepLostInstances({ db, clock, registry, ends: access.ends, log: console.error }),
      )
      .then(
        () => {
          sweepError = "";
        },
        (error) => {
          // Tried again in 2 s; the same failure (a database outage) is said once.
          if (String(error) !== sweepError) console.error("sweeping lost instances:", error);
          sweepError = String(error);
        },
      )
      .finally(() => {
        sweeping = false;
      });
  }, REFRESH_MS);
  // Retention, head exports and the chain's verification, when due (checked every minute).
  const retention = new RetentionSchedule({
    db,
    clock,
    signer: await auditSigner(db, pki),
    retentionDays: config.operations.retentionDays,
    recordings: {
      dir: recordingsDir,
      retentionDays: config.operations.recordingRetentionDays,
    },
    head: config.operations.auditHead,
    log: (line) => console.error(line),
  });
  // One instance at a time prunes, exports the head and verifies the chain (lease "retention").
  const retentionTick = () =>
    void leases
      .run("retention", () => retention.tick(), 150_000)
      .catch((error) => console.error("retention:", error));
  retentionTick();
  const retentionTimer = setInterval(retentionTick, 60_000);
  // Home volumes of the workspaces: archived every MEETPOINT_WORKSPACE_BACKUP_HOURS by one
  // instance (lease "workspace-backups"); the portal's Back up now / Restore use the same deps.
  const workspaceBackups = startWorkspaceBackups({ config, db, clock, leases });
  const loginSweeper = setInterval(
    () =>
      leases
        .run("login-sweeper", () => forgetStaleLogins(db, clock.now()), 15 * 60_000)
        .catch(() => {}),
    10 * 60_000,
  );

  const oidc = { db, clock, pki, clients: new OidcClients(pki, config.publicUrl.origin) };
  // Failed sign-ins, API tokens and gateway secrets: throttled per source, audited per interval.
  const authFailures = new AuthFailures(db, clock);
  const authFailuresAudit = setInterval(
    () =>
      authFailures
        .flush()
        .catch((error) => console.error("auditing failed authentications:", error)),
    10_000,
  );
  // Starting and stopping jump workspaces on the workspace Docker endpoint; the stop job (idle,
  // template change) runs on one instance at a time.
  const workspaceRuntime = new WorkspaceRuntime({
    db,
    clock,
    box: pki,
    endpoints: workspaceEndpoints(config.workspaceDocker),
    ...config.workspaceRuntime,
    // Read at each start, so a renewed certificate is pinned from the next start on; starts come
    // from requests, which the listener below serves.
    servingCertificate: () => https.certificate,
    log: (line) => console.error(line),
  });
  const workspaceStops = setInterval(
    () =>
      leases
        .run(
          "workspace-stops",
          () => sweepWorkspaces(workspaceRuntime, config.workspaceRuntime.startMs + 30_000),
          30_000,
        )
        .catch((error) => console.error("workspace stop job:", error)),
    10_000,
  );
  const app = createApp({
    workspaceRelay,
    workspaceBackups: workspaceBackups.deps ?? undefined,
    workspaceRuntime,
    db,
    clock,
    oidc,
    authFailures,
    localSignIn: config.localSignIn,
    session: config.session,
    proxyPool,
    access,
    pki,
    enrollment: { platformUrl: config.publicUrl.origin, validMs: config.enrollmentValidMs },
    metrics: { collector: metrics, access: config.operations.metrics },
    apiTokenMaxDays: ops.apiTokenMaxDays,
    webhookAllowPrivate: ops.webhookAllowPrivate,
    emailConfigured: ops.smtp !== null,
    siemStatus: () => siem?.status() ?? [],
  });
  const https = new HttpsListener(
    // Gateways long-poll for commands for up to 25 s.
    {
      port: config.httpsPort,
      hostname: config.listenAddress,
      idleTimeout: 60,
      fetch: app.fetch,
      websocket: workspaceRelay.websocket,
    },
    { cert: served.certificatePem, key: served.privateKeyPem },
  );
  const certificateRenewal = setInterval(async () => {
    try {
      const renewed = await certificate.renewIfDue();
      if (!renewed) return;
      https.swap({ cert: renewed.certificatePem, key: renewed.privateKeyPem });
      servedUntil = renewed.notAfter;
      console.log(
        `HTTPS: certificate renewed, valid until ${renewed.notAfter.toISOString()}, SHA-256 fingerprint\n  ${renewed.fingerprint}`,
      );
    } catch (error) {
      console.error("renewing the HTTPS certificate failed (the current one stays):", error);
    }
  }, 60 * 60_000);
  const http =
    config.httpPort === 0
      ? null
      : Bun.serve({
          port: config.httpPort,
          hostname: config.listenAddress,
          fetch(request) {
            const url = new URL(request.url);
            return Response.redirect(`${config.publicUrl.origin}${url.pathname}${url.search}`, 308);
          },
        });

  console.log(
    `Meetpoint portal: ${config.publicUrl.origin}/ (HTTPS on port ${https.port}${http ? `, HTTP ${http.port} redirects` : ""})`,
  );
  if (firstAdmin) {
    console.log(
      `\nFirst start: sign in as "admin" with the one-time password\n\n    ${firstAdmin}\n\nYou will choose your own password and set up a second factor (authenticator app).\n`,
    );
  }

  const stop = async () => {
    clearInterval(trustRefresh);
    clearInterval(certificateRenewal);
    clearInterval(ticker);
    reachability.stop();
    clearInterval(loginSweeper);
    clearInterval(workspaceStops);
    clearInterval(authFailuresAudit);
    await authFailures
      .flush({ all: true })
      .catch((error) => console.error("auditing failed authentications:", error));
    clearInterval(retentionTimer);
    workspaceBackups.stop();
    clearInterval(alertTimer);
    clearInterval(lostSweep);
    await access.commands.stop();
    await access.cuts?.stop();
    await access.ends
      .endAll("platform_shutdown")
      .catch((error) => console.error("ending sessions failed:", error));
    clearInterval(liveness);
    await registry
      .stopped()
      .then(() => leases.releaseAll())
      .catch((error) => console.error("leaving the instance registry:", error));
    await workspaceRelay
      .stop()
      .catch((error) => console.error("closing workspace connections failed:", error));
    await dataPlane.stop();
    await siem?.stop();
    https.stop();
    http?.stop();
    await database.close();
  };
  return { app, access, db, httpsPort: https.port, firstAdmin, stop, refused };
}

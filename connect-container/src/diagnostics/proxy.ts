// Checks of the plant's HTTP proxy, run before anything else when one is set: the proxy answers,
// opens an HTTP CONNECT tunnel (RFC 9110 §9.3.6, formerly RFC 7231 §4.3.6) to the platform with the
// credentials given, and what comes back through it is the platform's certificate — from the CA
// pinned at enrollment, not one a TLS-inspecting proxy made up. Every failure names the proxy;
// no line ever holds its credentials.
import { type Socket, connect as tcpConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { type HttpProxy, proxyAuthorization, proxyName } from "@meetpoint/common";
import { type DiagnosticLine, line } from "./line.ts";

/** Deadline of each step, in milliseconds. */
const STEP_MS = 4000;

type Step<T> = { ok: true; value: T } | { ok: false; error: string };

function withDeadline<T>(work: (done: (result: Step<T>) => void) => () => void): Promise<Step<T>> {
  return new Promise((resolve) => {
    let cleanup = () => {};
    const timer = setTimeout(() => {
      cleanup();
      resolve({ ok: false, error: `no answer within ${STEP_MS / 1000} s` });
    }, STEP_MS);
    cleanup = work((result) => {
      clearTimeout(timer);
      resolve(result);
    });
  });
}

/** TCP to the proxy, then CONNECT host:port; resolves with the tunnel's socket or why not. */
function openTunnel(
  proxy: HttpProxy,
  target: string,
): Promise<Step<{ socket: Socket; status: string }>> {
  return withDeadline((done) => {
    const socket = tcpConnect({ host: proxy.host, port: proxy.port }, () => {
      const auth = proxyAuthorization(proxy);
      socket.write(
        `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth ? `Proxy-Authorization: ${auth}\r\n` : ""}\r\n`,
      );
    });
    let head = "";
    const onData = (chunk: Buffer) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) {
        if (head.length > 16_384) done({ ok: false, error: "an answer without an end of headers" });
        return;
      }
      socket.off("data", onData);
      done({ ok: true, value: { socket, status: head.split("\r\n")[0] ?? "" } });
    };
    socket.on("data", onData);
    socket.on("error", (error: NodeJS.ErrnoException) =>
      done({ ok: false, error: error.code ?? error.message }),
    );
    return () => socket.destroy();
  });
}

/** TLS through the tunnel; whether the pinned CA verifies it, and who issued what came back. */
function tlsThrough(
  socket: Socket,
  servername: string,
  ca: string,
): Promise<Step<{ authorized: boolean; why: string | null; issuer: string; validTo: string }>> {
  return withDeadline((done) => {
    const tls = tlsConnect(
      {
        socket,
        servername: /^[\d.]+$/.test(servername) ? undefined : servername,
        ca,
        rejectUnauthorized: false,
      },
      () => {
        const peer = tls.getPeerCertificate();
        const issuer = Object.entries(peer.issuer ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(", ");
        done({
          ok: true,
          value: {
            authorized: tls.authorized,
            why: tls.authorizationError ? String(tls.authorizationError) : null,
            issuer,
            validTo: peer.valid_to,
          },
        });
        tls.destroy();
      },
    );
    tls.on("error", (error: NodeJS.ErrnoException) =>
      done({ ok: false, error: error.code ?? error.message }),
    );
    return () => tls.destroy();
  });
}

/**
 * The proxy's lines: reached, tunnel opened to `host:port`, TLS with the pinned CA through it.
 * Stops at the first that fails (the rest cannot be tried).
 */
export async function proxyChecks(
  proxy: HttpProxy,
  source: string,
  host: string,
  port: number,
  ca: string,
): Promise<DiagnosticLine[]> {
  const name = proxyName(proxy);
  const target = `${host}:${port}`;
  const lines: DiagnosticLine[] = [
    line("HTTP proxy", "ok", `${name}, set by the ${source}; both channels go through it`),
  ];
  const tunnel = await openTunnel(proxy, target);
  if (!tunnel.ok) {
    const refused = /ECONNREFUSED/.test(tunnel.error);
    lines.push(
      line(
        `proxy ${name}`,
        "fail",
        refused
          ? `the proxy ${name} refused the connection`
          : /ENOTFOUND|EAI_/.test(tunnel.error)
            ? `the proxy's name ${proxy.host} cannot be resolved`
            : `the proxy ${name} cannot be reached: ${tunnel.error}`,
        refused
          ? "Is the proxy running, and is this its port? Ask IT."
          : "Check the WAN link, DNS and the proxy's address with IT.",
      ),
    );
    return lines;
  }
  const { socket, status } = tunnel.value;
  const code = status.split(" ")[1] ?? "";
  if (code !== "200") {
    socket.destroy();
    const [detail, hint] =
      code === "407" || code === "401"
        ? proxy.username
          ? [
              `the proxy ${name} refused the credentials of user ${proxy.username} (${status})`,
              "Check the proxy's user and password.",
            ]
          : [
              `the proxy ${name} asks for credentials (${status})`,
              "Enter the proxy's user and password.",
            ]
        : code === "403"
          ? [
              `the proxy ${name} forbids CONNECT to ${target} (${status})`,
              `Ask IT to allow HTTPS (CONNECT) to ${target} through the proxy.`,
            ]
          : [
              `the proxy ${name} answered CONNECT ${target} with ${status || "nothing"}`,
              "Ask IT what the proxy expects.",
            ];
    lines.push(line(`proxy CONNECT ${target}`, "fail", detail, hint));
    return lines;
  }
  lines.push(line(`proxy CONNECT ${target}`, "ok", `the proxy ${name} opened the tunnel`));
  const tls = await tlsThrough(socket, host, ca);
  socket.destroy();
  if (!tls.ok) {
    lines.push(
      line(
        `TLS ${target} through the proxy`,
        "fail",
        `the TLS handshake through the proxy ${name} failed: ${tls.error}`,
        "The proxy may be tampering with the connection (TLS inspection); ask IT to exempt the platform.",
      ),
    );
    return lines;
  }
  lines.push(
    tls.value.authorized
      ? line(
          `TLS ${target} through the proxy`,
          "ok",
          `pinned CA verified; server certificate valid until ${tls.value.validTo}`,
        )
      : line(
          `TLS ${target} through the proxy`,
          "fail",
          `TLS interception detected: through the proxy ${name} the platform presents a certificate issued by "${tls.value.issuer}", not by the CA pinned at enrollment (${tls.value.why})`,
          `Ask IT to exempt ${host} from the proxy's TLS inspection: the gateway trusts only the platform's own CA.`,
        ),
  );
  return lines;
}

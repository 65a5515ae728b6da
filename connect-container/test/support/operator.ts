// The operator UI driven like a browser through app.request(): the cookie, the CSRF token, forms
// and uploads; and a UI over a test agent whose diagnostics see two interfaces (eth0 up, no eth1).
import { runDiagnostics } from "../../src/diagnostics/report.ts";
import { createUiApp } from "../../src/ui/app.tsx";
import { OperatorAuth } from "../../src/ui/auth.ts";
import { type TestAgent, testAgent } from "./fakes.ts";

export class Operator {
  cookie = "";
  csrf = "";
  html = "";
  constructor(
    readonly app: ReturnType<typeof createUiApp>,
    readonly ip = "192.168.0.50",
  ) {}

  async request(
    method: string,
    path: string,
    body?: Record<string, string> | FormData,
    headers: Record<string, string> = {},
  ) {
    const h: Record<string, string> = { ...headers };
    if (this.cookie) h.cookie = this.cookie;
    let payload: BodyInit | undefined;
    if (body instanceof FormData) payload = body;
    else if (body) {
      payload = new URLSearchParams({ _csrf: this.csrf, ...body }).toString();
      h["content-type"] = "application/x-www-form-urlencoded";
    }
    const response = await this.app.request(
      `https://gateway${path}`,
      { method, headers: h, body: payload },
      { clientIp: this.ip },
    );
    const set = response.headers.get("set-cookie");
    if (set) this.cookie = set.split(";")[0] ?? "";
    this.html = await response.text();
    this.csrf = this.html.match(/name="_csrf" value="([^"]+)"/)?.[1] ?? this.csrf;
    return {
      status: response.status,
      location: response.headers.get("location"),
      html: this.html,
      headers: response.headers,
    };
  }
}

/** A UI over a fresh test agent; the caller disposes of `t`. */
export async function ui(
  enrolled = true,
  agentOptions: Parameters<typeof testAgent>[0] = {},
): Promise<{ app: ReturnType<typeof createUiApp>; auth: OperatorAuth; t: TestAgent }> {
  const t = await testAgent({ ...agentOptions, enrolled });
  const auth = new OperatorAuth(t.store, "meetpoint");
  const app = createUiApp({
    agent: t.agent,
    auth,
    events: t.events,
    diagnostics: () =>
      runDiagnostics({
        agent: t.agent,
        run: async (args) =>
          args[2] === "addr"
            ? {
                code: 0,
                stderr: "",
                stdout: JSON.stringify([
                  {
                    ifname: "eth0",
                    operstate: "UP",
                    addr_info: [{ family: "inet", local: "198.18.1.2", prefixlen: 24 }],
                  },
                ]),
              }
            : args[2] === "route" && args[3] === "show"
              ? {
                  code: 0,
                  stderr: "",
                  stdout: JSON.stringify([
                    { dst: "default", gateway: "192.168.0.254", dev: "eth1" },
                  ]),
                }
              : { code: 0, stderr: "", stdout: "[]" },
        wanInterface: "eth0",
        lanInterface: "eth1",
        ntpServers: [],
      }),
  });
  return { app, auth, t };
}

/** An operator past the first sign-in (initial password replaced). */
export async function signedIn(app: ReturnType<typeof createUiApp>) {
  const op = new Operator(app);
  await op.request("POST", "/sign-in", { password: "meetpoint" });
  await op.request("GET", "/password");
  await op.request("POST", "/password", { current: "meetpoint", next: "A-new-passw0rd" });
  await op.request("GET", "/");
  return op;
}

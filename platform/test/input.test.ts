// The one input layer: control characters in any query, path, form field or API string, and
// bodies that are not what they claim, are refused with 400 before a route sees them.
// Regressions: GET /machines?q=%00, /audit?actor=a%00, POST /sign-in with username=ad%00min and a
// heartbeat with "agentVersion":"a\u0000" answered 500 (PostgreSQL refuses the byte); a malformed
// multipart body answered 500 on the sign-in page, unauthenticated.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { arrangeMachine, type Scene } from "./support/arrange.ts";
import { type TestPlatform, testPlatform } from "./support/platform.ts";
import { Browser } from "./support/portal.ts";

let p: TestPlatform;
let scene: Scene;

beforeAll(async () => {
  p = await testPlatform();
  scene = await arrangeMachine(p, [{ name: "Web UI", protocol: "tcp", port: 443, enabled: true }]);
}, 60_000);
afterAll(() => p.dispose());

/** NUL, other C0, DEL and a C1 character (NEL), percent-encoded. */
const CONTROLS = ["%00", "%01", "%1B", "%7F", "%C2%85"];

/** The refusal as the page words it: a field's problem by its label, or the notice's summary. */
async function messageOf(response: Response): Promise<string> {
  const text = await response.text();
  return (
    text.match(/<li data-field="[^"]*">([^<]+)</)?.[1] ??
    text.match(/<p class="summary">([^<]+)</)?.[1] ??
    text.match(/<p class="notice error"[^>]*>([^<]+)</)?.[1] ??
    text
  );
}

describe("control characters", () => {
  test("in the query of every portal page: 400, naming the parameter", async () => {
    const pages = [
      "/machines?q=",
      "/machines/rows?q=",
      "/customers?x=",
      "/gateways?x=",
      "/users?x=",
      "/sessions?x=",
      "/identity-providers?x=",
      "/audit?actor=a",
      "/audit?action=",
      "/audit/export.jsonl?actor=a",
      "/audit/export.csv?result=",
      `/machines/${scene.machineId}?tab=`,
    ];
    for (const page of pages)
      for (const control of CONTROLS) {
        const response = await p.admin.get(`${page}${control}`);
        expect(`${page}${control} → ${response.status}`).toBe(`${page}${control} → 400`);
        expect(await messageOf(response)).toContain("must not contain control characters");
      }
  });

  test("in a parameter's name or the path: 400", async () => {
    expect((await p.admin.get("/machines?a%00=1")).status).toBe(400);
    expect((await p.admin.get("/machines/%00")).status).toBe(400);
    expect((await p.admin.get("/machines/%E0%A4%A")).status).toBe(400);
  });

  test("in the sign-in form, before anyone is signed in: 400", async () => {
    const browser = new Browser(p.app);
    await browser.get("/sign-in");
    for (const username of ["ad\u0000min", "ad\u001bmin", "ad\u0085min"]) {
      const response = await browser.post("/sign-in", { username, password: "whatever-1234" });
      expect(response.status).toBe(400);
      expect(await messageOf(response)).toBe("Username: must not contain control characters");
    }
  });

  test("in any form field of the portal: 400; tab, newline and carriage return are text", async () => {
    await p.admin.get("/users");
    const forms: [string, Record<string, string>][] = [
      ["/users", { username: "ok", displayName: "a\u0000b" }],
      [`/machines/${scene.machineId}/connect`, { reason: "fix\u0000" }],
      [`/machines/${scene.machineId}/services`, { name: "S", protocol: "tcp\u0001", port: "80" }],
      ["/identity-providers/mfa-policy", { role: "auditor", policy: "provider\u007f" }],
      ["/customers", { name: "ACME\u0085" }],
    ];
    for (const [action, form] of forms) {
      const response = await p.admin.post(action, form);
      expect(`${action} → ${response.status}`).toBe(`${action} → 400`);
    }
    const multiline = await p.admin.post("/customers", { name: "Line\tone" });
    // Tab passes the input layer; the name's own rule then refuses it with 400, not 500.
    expect(multiline.status).toBe(400);
    expect(await messageOf(multiline)).toBe("Name: must not contain control characters");
  });

  test("regression: the page refusing a control character is drawn for the signed-in user", async () => {
    // It was drawn signed out: no navigation, an empty CSRF token.
    const response = await p.admin.get("/machines?q=%00");
    expect(response.status).toBe(400);
    const html = await response.text();
    expect(html).toContain('<a href="/machines">Machines</a>');
    expect(html).toContain(`name="_csrf" value="${p.admin.csrf}"`);
    expect(p.admin.csrf.length).toBeGreaterThan(20);
  });

  test("in a gateway API string or key: 400 naming the field", async () => {
    const api = (body: string) =>
      p.app.request("https://localhost/api/gateway/v1/heartbeat", {
        method: "POST",
        headers: {
          authorization: `Bearer ${scene.gatewayId}.${scene.gatewaySecret}`,
          "content-type": "application/json",
        },
        body,
      });
    const report = {
      state: "idle",
      gatewaySessionId: null,
      agentVersion: "0.1.0",
      openvpnVersion: null,
      localTime: p.clock.now().toISOString(),
      lastError: null,
    };
    const cases: [string, string][] = [
      [JSON.stringify({ ...report, agentVersion: "a\u0000" }), "agentVersion"],
      [JSON.stringify({ ...report, lastError: "boom\u0007" }), "lastError"],
      [JSON.stringify({ ...report, "x\u0000": 1 }), "x\u0000"],
    ];
    for (const [body, field] of cases) {
      const response = await api(body);
      expect(response.status).toBe(400);
      const { error } = (await response.json()) as { error: { field: string; message: string } };
      expect(error.field).toBe(field);
      expect(error.message).toContain("must not contain control characters");
    }
    // A last error over several lines is text, not a control sequence.
    expect((await api(JSON.stringify({ ...report, lastError: "line 1\nline 2" }))).status).toBe(
      200,
    );
  });
});

describe("malformed bodies", () => {
  const multipart = (path: string, browser: Browser, contentType: string) =>
    p.app.request(`https://localhost${path}`, {
      method: "POST",
      headers: {
        "content-type": contentType,
        "x-csrf-token": browser.csrf,
        cookie: [
          ["__Host-meetpoint", browser.cookie("__Host-meetpoint")],
          ["__Host-meetpoint-pre", browser.cookie("__Host-meetpoint-pre")],
        ]
          .filter(([, v]) => v)
          .map(([k, v]) => `${k}=${v}`)
          .join("; "),
      },
      body: "x",
    });

  test("multipart that is not multipart, on the sign-in page (unauthenticated): 400", async () => {
    const browser = new Browser(p.app);
    await browser.get("/sign-in");
    for (const type of ["multipart/form-data", "multipart/form-data; boundary=x"]) {
      const response = await multipart("/sign-in", browser, type);
      expect(response.status).toBe(400);
      expect(await messageOf(response)).toContain("The form could not be read");
    }
  });

  test("and on a signed-in page: 400", async () => {
    await p.admin.get("/customers");
    const response = await multipart("/customers", p.admin, "multipart/form-data; boundary=x");
    expect(response.status).toBe(400);
  });
});

describe("lone surrogates (half of a UTF-16 character)", () => {
  // JSON.stringify writes a lone surrogate as the escape "\ud800", as an attacker would.
  const LONE = "\ud800";

  test("in the admin API: 400 naming the field, not 500", async () => {
    const { createApiToken } = await import("../src/api/index.ts");
    const { token } = await createApiToken(
      p.adminCtx,
      { name: "surrogates", days: 1, grants: [{ role: "platform_admin", customerId: null }] },
      30,
    );
    for (const [body, field] of [
      [{ name: LONE }, "name"],
      [{ name: `ACME ${LONE}` }, "name"],
      [{ name: "ok", [`k${LONE}`]: 1 }, `k${LONE}`],
    ] as const) {
      const response = await p.app.request("https://localhost/api/v1/customers", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(response.status).toBe(400);
      const { error } = (await response.json()) as { error: { field: string; message: string } };
      expect(error.field).toBe(field);
      expect(error.message).toContain("lone surrogate");
    }
  });

  test("bytes that are not UTF-8 (a %FF, a broken sequence): 400 naming the field, nothing stored as \uFFFD", async () => {
    const { createApiToken } = await import("../src/api/index.ts");
    const { token } = await createApiToken(
      p.adminCtx,
      { name: "not utf-8", days: 1, grants: [{ role: "platform_admin", customerId: null }] },
      30,
    );
    for (const bytes of [[0xff], [0xed, 0xa0, 0x80]]) {
      const body = Buffer.concat([
        Buffer.from('{"name":"bad'),
        Buffer.from(bytes),
        Buffer.from('utf"}'),
      ]);
      const response = await p.app.request("https://localhost/api/v1/customers", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body,
      });
      expect(response.status).toBe(400);
      const { error } = (await response.json()) as { error: { field: string; message: string } };
      expect(error).toMatchObject({ field: "name", message: expect.stringContaining("UTF-8") });
    }
  });

  test("in a gateway heartbeat's lastError: 400 naming the field", async () => {
    const response = await p.app.request("https://localhost/api/gateway/v1/heartbeat", {
      method: "POST",
      headers: {
        authorization: `Bearer ${scene.gatewayId}.${scene.gatewaySecret}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({
        state: "idle",
        gatewaySessionId: null,
        agentVersion: "0.1.0",
        openvpnVersion: null,
        localTime: p.clock.now().toISOString(),
        lastError: `boom ${LONE}`,
      }),
    });
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: { field: string; message: string } };
    expect(error.field).toBe("lastError");
    expect(error.message).toContain("lone surrogate");
  });

  test("in a portal request's JSON body: 400 naming the field", async () => {
    await p.admin.get("/customers");
    const response = await p.admin.request("POST", "/customers", {
      headers: { "content-type": "application/json", "x-csrf-token": p.admin.csrf },
    });
    // No body at all is not JSON; now one with the lone surrogate.
    expect(response.status).toBe(400);
    const cookie = ["__Host-meetpoint", "__Host-meetpoint-pre"]
      .map((name) => `${name}=${p.admin.cookie(name) ?? ""}`)
      .join("; ");
    const withSurrogate = await p.app.request("https://localhost/customers", {
      method: "POST",
      headers: { cookie, "content-type": "application/json", "x-csrf-token": p.admin.csrf },
      body: JSON.stringify({ name: LONE }),
    });
    expect(withSurrogate.status).toBe(400);
    expect(await messageOf(withSurrogate)).toContain("Name: must be well-formed Unicode text");
  });
});

describe("invisible format characters (Unicode Cf)", () => {
  const INVISIBLE = ["\u202e", "\u200b", "\u2066", "\ufeff", "\u00ad"];

  test("in a name, in the portal and the API: 400 naming the field", async () => {
    const { createApiToken } = await import("../src/api/index.ts");
    const { token } = await createApiToken(
      p.adminCtx,
      { name: "format", days: 1, grants: [{ role: "platform_admin", customerId: null }] },
      30,
    );
    await p.admin.get("/customers");
    for (const c of INVISIBLE) {
      const portal = await p.admin.post("/customers", { name: `ACME${c}gpj.exe` });
      expect(portal.status).toBe(400);
      expect(await messageOf(portal)).toContain("Name: must not contain invisible formatting");
      const api = await p.app.request("https://localhost/api/v1/customers", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ name: `ACME${c}` }),
      });
      expect(api.status).toBe(400);
      expect(((await api.json()) as { error: { field: string } }).error.field).toBe("name");
    }
    // Letters of any script and emoji are names.
    expect((await p.admin.post("/customers", { name: "Müller Gießerei 😀" })).status).toBe(303);
  });

  test("in a gateway's lastError: shown and audited visibly escaped", async () => {
    const response = await p.app.request("https://localhost/api/gateway/v1/heartbeat", {
      method: "POST",
      headers: {
        authorization: `Bearer ${scene.gatewayId}.${scene.gatewaySecret}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({
        state: "idle",
        gatewaySessionId: null,
        agentVersion: "0.1.0",
        openvpnVersion: null,
        localTime: p.clock.now().toISOString(),
        lastError: "tls error\u202e gnp.exe\u200b",
      }),
    });
    expect(response.status).toBe(200);
    const page = await p.admin.page(`/gateways/${scene.gatewayId}`);
    expect(page).toContain("tls error&lt;U+202E&gt; gnp.exe&lt;U+200B&gt;");
    expect(page).not.toContain("\u202e");
  });
});

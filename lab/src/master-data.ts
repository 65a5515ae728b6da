// What an admin and an operator enter to bring a lab site to life — through the portal and the
// operator UI, as people would: the lab OpenID provider, and per site a customer with its
// technicians' group, a site, a gateway, a machine with web UI and Modbus enabled and SSH not.
// Used by the namespace lab and the Compose lab alike.
import type { LabClient } from "../idp/provider.ts";
import type { PortalClient } from "./portal.ts";
import { PortalClient as Client } from "./portal.ts";

export interface EnteredSite {
  customerId: string;
  siteId: string;
  gatewayId: string;
  bundle: string;
  machineId: string;
  /** The machine's proxy address on the platform (different per site, same LAN address). */
  proxyAddress: string;
}

const CLIENT = { id: "meetpoint", secret: "lab-client-secret" };

/** The platform at `portal` as the lab OpenID provider's client (what enterLabProvider enters). */
export function platformAsClient(portal: string): LabClient {
  return {
    clientId: CLIENT.id,
    clientSecret: CLIENT.secret,
    redirectUris: [`${portal}/sign-in/oidc/lab/callback`],
    postLogoutRedirectUris: [`${portal}/sign-in`],
  };
}

/**
 * The portal's form for the lab OpenID provider as "lab", shown as `displayName`: the platform its
 * client (as platformAsClient registers it), groups from the "groups" claim, the default MFA policy.
 */
export function labProviderForm(
  idp: { issuer: string; caPem: string },
  displayName = "Lab Service ID",
): Record<string, string> {
  return {
    slug: "lab",
    displayName,
    issuer: idp.issuer,
    clientId: CLIENT.id,
    clientAuth: "client_secret_basic",
    clientSecret: CLIENT.secret,
    scopes: "openid profile groups offline_access",
    groupsClaim: "groups",
    mfaAmr: "",
    mfaAcr: "",
    caPem: idp.caPem,
  };
}

/** Registers the lab OpenID provider as "lab"; returns its id. */
export async function enterLabProvider(
  admin: PortalClient,
  idp: { issuer: string; caPem: string },
): Promise<string> {
  const provider = await admin.submit(
    "/identity-providers",
    "/identity-providers",
    labProviderForm(idp),
  );
  const providerId = provider.location?.match(/identity-providers\/([0-9a-f-]{36})/)?.[1];
  if (!providerId) throw new Error(`identity provider not created: ${provider.status}`);
  return providerId;
}

export async function enterSite(
  admin: PortalClient,
  site: { name: string; group: string; providerId: string; machineAddress: string },
): Promise<EnteredSite> {
  const { name, providerId } = site;
  const customerId = await admin.createCustomer(name);
  await admin.submit(
    `/identity-providers/${providerId}`,
    `/identity-providers/${providerId}/mappings`,
    { group: site.group, role: "technician", customerId },
  );
  const siteId = await admin.createSite(customerId, `${name} plant`);
  const gateway = await admin.createGateway(siteId, `${name} hall 1`);
  const machineId = await admin.createMachine(gateway.id, `${name} press`, site.machineAddress);
  for (const [service, port, enabled] of [
    ["Web UI", 80, true],
    ["PLC (Modbus)", 502, true],
    ["SSH", 22, false],
  ] as const) {
    await admin.createService(machineId, { name: service, protocol: "tcp", port, enabled });
  }
  const proxyAddress =
    (await admin.page(`/machines/${machineId}`)).match(
      /(100\.(?:6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.\d+)/,
    )?.[1] ?? "";
  return {
    customerId,
    siteId,
    gatewayId: gateway.id,
    bundle: gateway.bundle,
    machineId,
    proxyAddress,
  };
}

/**
 * The operator's first sign-in at a gateway: the initial password "meetpoint" replaced by
 * `Operator-<name>-pw`, and a token for the local consent API, returned.
 */
export async function setUpOperator(operatorUrl: string, name: string): Promise<string> {
  const operator = new Client(operatorUrl);
  await operator.request("POST", "/sign-in", { password: "meetpoint" });
  await operator.page("/password");
  await operator.request("POST", "/password", {
    current: "meetpoint",
    next: `Operator-${name}-pw`,
  });
  await operator.page("/settings");
  const created = await operator.go("/settings/api-token", {});
  const token = created.html.match(/id="api-token">([A-Za-z0-9_-]+)</)?.[1];
  if (!token) throw new Error(`operator UI ${operatorUrl}: no API token (${created.status})`);
  return token;
}

/** A call to a gateway's local consent API, as a machine HMI would make it. */
export async function localApi(
  operatorUrl: string,
  token: string,
  method: "GET" | "POST",
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${operatorUrl}/api/local/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}` },
    tls: { rejectUnauthorized: false },
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

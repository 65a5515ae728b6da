import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { type TestDatabase, testDatabase } from "./support/database.ts";

let database: TestDatabase;
beforeAll(async () => {
  database = await testDatabase();
}, 60_000);
afterAll(() => database.dispose());

async function tables(): Promise<string[]> {
  const result = await database.db.execute(
    sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
  );
  const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as {
    table_name: string;
  }[];
  return rows.map((r) => r.table_name);
}

test("migrations create every entity on an empty database and are idempotent", async () => {
  const expected = [
    "alert_deliveries",
    "alert_states",
    "alert_subscriptions",
    "api_tokens",
    "audit_checkpoints",
    "audit_cursors",
    "audit_entries",
    "audit_signing_keys",
    "certificate_authorities",
    "customers",
    "gateway_commands",
    "gateway_sessions",
    "gateway_settings",
    "gateways",
    "identity_provider_mappings",
    "identity_providers",
    "issued_certificates",
    "job_leases",
    "machines",
    "maintenance_windows",
    "mfa_policies",
    "oidc_logins",
    "one_time_reveals",
    "platform_instances",
    "platform_keys",
    "remote_sessions",
    "request_approvals",
    "role_assignments",
    "services",
    "sign_in_failures",
    "sites",
    "users",
    "web_sessions",
    "workspace_backups",
    "workspace_grants",
    "workspace_recordings",
    "workspace_runs",
    "workspace_template_proposals",
    "workspace_templates",
    "workspaces",
  ];
  expect(await tables()).toEqual(expected);
  await database.migrate();
  await database.migrate();
  expect(await tables()).toEqual(expected);
});

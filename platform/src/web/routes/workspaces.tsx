// Jump workspaces (Enterprise) in the portal: each customer's workspace (its admins and platform
// admins; granted technicians read). Templates and their proposals: workspace-templates.tsx.
import { Hono } from "hono";
import type { Context } from "../../access/index.ts";
import { hasPermission } from "../../access/index.ts";
import { recordAuditAlone } from "../../audit/index.ts";
import { ConflictError, ForbiddenError, StateError, UnavailableError } from "../../shared/index.ts";
import {
  backupHomeVolume,
  createWorkspace,
  customersWithoutWorkspace,
  deleteWorkspace,
  getWorkspace,
  grantAccess,
  latestRun,
  listBackups,
  listGrants,
  listTemplates,
  listWorkspaces,
  managedWorkspace,
  reportOverdueSince,
  restoreHomeVolume,
  revokeAccess,
  sessionPassedSecondFactor,
  setAllowList,
  settingsVersion,
  setWorkspaceProfile,
  setWorkspaceTemplate,
  techniciansOf,
  type Workspace,
  workspaceVersion,
} from "../../workspaces/index.ts";
import type { WebEnv } from "../env.ts";
import { formFields } from "../forms.ts";
import { signedIn } from "../middleware.ts";
import {
  DataTable,
  DeleteActions,
  PortalPage,
  SelectField,
  SubmitForm,
  trail,
} from "../views/components.tsx";
import { BackupsSection } from "../views/workspace-backups.tsx";
import { EgressTable, ManageForms, ProfileSummary } from "../views/workspace-detail.tsx";
import { RunPanel } from "../views/workspace-run.tsx";

export function workspaceRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/workspaces", async (c) => {
    const ctx = c.get("ctx");
    const views = await Promise.all(
      (await listWorkspaces(ctx)).map(async (v) => ({
        ...v,
        run: await latestRun(ctx.db, v.workspace.id),
      })),
    );
    const principal = ctx.caller.principal;
    const manager = hasPermission(principal, "workspaces.manage");
    const customers = manager ? await customersWithoutWorkspace(ctx) : [];
    const templates = manager ? (await listTemplates(ctx)).filter((t) => t.template.effective) : [];
    const csrf = c.get("csrfToken");
    const now = ctx.clock.now();
    return c.html(
      <PortalPage title="Workspaces" csrfToken={csrf} principal={principal}>
        <p>
          Each customer that runs its own remote access gets one jump workspace: a desktop in a
          container, on the customer's VPN, reaching only its allow-list.
          {hasPermission(principal, "workspaces.templates") ? (
            <>
              {" "}
              What they start with: <a href="/workspace-templates">Templates</a>.
            </>
          ) : null}
        </p>
        <DataTable
          head={["Customer", "Template", "Profile", "State", "Last start", "VPN"]}
          rows={views}
          empty={
            manager
              ? "No workspaces yet."
              : "No workspace to show: a customer admin or platform admin grants you access."
          }
          row={(v) => (
            <tr>
              <td>
                <a href={`/workspaces/${v.workspace.id}`}>{v.customerName}</a>
              </td>
              <td>{v.templateName}</td>
              <td>{v.workspace.profileKind ?? "none"}</td>
              <td>{v.run?.state ?? "stopped"}</td>
              <td>
                {v.run ? `${v.run.startedAt.toISOString()} (${v.run.startedByName ?? "—"})` : "—"}
              </td>
              <td>
                {v.run?.state === "running" ? (v.run.vpn ?? "—") : "—"}
                {v.run && reportOverdueSince(v.run, now) ? " (no report for a while)" : null}
              </td>
            </tr>
          )}
        />
        {manager && customers.length ? (
          <div class="card">
            {templates.length ? (
              <SubmitForm action="/workspaces" csrfToken={csrf} submit="Create workspace" row>
                <SelectField
                  label="Customer"
                  name="customerId"
                  options={customers.map((x) => [x.id, x.name])}
                  placeholder="Choose a customer"
                />
                <SelectField
                  label="Template"
                  name="templateId"
                  options={templates.map((t) => [t.template.id, t.template.name])}
                  placeholder="Choose a template"
                />
              </SubmitForm>
            ) : (
              <p class="muted">No template has approved values yet: a workspace needs one.</p>
            )}
          </div>
        ) : null}
      </PortalPage>,
    );
  });

  app.post("/workspaces", async (c) => {
    const form = await formFields(c);
    const workspace = await createWorkspace(c.get("ctx"), form.customerId ?? "", form);
    return c.redirect(`/workspaces/${workspace.id}`, 303);
  });

  app.get("/workspaces/:id", async (c) => {
    const ctx = c.get("ctx");
    const view = await getWorkspace(ctx, c.req.param("id"));
    const csrf = c.get("csrfToken");
    const viewer = (await c.get("deps").workspaceRelay?.viewerOf(view.workspace.id)) ?? null;
    const backups =
      view.canManage && c.get("deps").workspaceBackups
        ? await listBackups(ctx.db, view.workspace.id)
        : null;
    const runtime = c.get("deps").workspaceRuntime;
    const manage = view.canManage
      ? {
          grants: await listGrants(ctx, view.workspace.id),
          technicians: await techniciansOf(ctx, view.workspace.customerId),
          templates: (await listTemplates(ctx))
            .filter((t) => t.template.effective)
            .map((t): [string, string] => [t.template.id, t.template.name]),
        }
      : null;
    return c.html(
      <PortalPage
        title={`Workspace of ${view.customerName}`}
        csrfToken={csrf}
        principal={ctx.caller.principal}
        crumbs={trail(view.customerName, ["Workspaces", "/workspaces"])}
      >
        <p>
          Template <strong>{view.templateName}</strong>
        </p>
        <RunPanel
          workspaceId={view.workspace.id}
          run={await latestRun(ctx.db, view.workspace.id)}
          viewer={viewer}
          runtime={runtime !== undefined}
          csrfToken={csrf}
          now={ctx.clock.now()}
        />
        <h2>Profile</h2>
        <ProfileSummary view={view} />
        <h2>Reaches</h2>
        <EgressTable view={view} />
        {manage ? (
          <ManageForms
            view={view}
            version={workspaceVersion(view.workspace)}
            csrfToken={csrf}
            templates={manage.templates}
            grants={manage.grants}
            technicians={manage.technicians
              .filter((t) => !manage.grants.some((g) => g.userId === t.id))
              .map((t) => [t.id, `${t.displayName} (${t.username})`])}
          />
        ) : null}
        {backups ? (
          <BackupsSection
            workspaceId={view.workspace.id}
            customerName={view.customerName}
            backups={backups}
            csrfToken={csrf}
          />
        ) : null}
        {manage ? (
          <DeleteActions
            action={`/workspaces/${view.workspace.id}/delete`}
            csrfToken={csrf}
            what="workspace"
            name={view.customerName}
          />
        ) : null}
      </PortalPage>,
    );
  });

  // The run's part of the page, polled every second while a start is in progress.
  app.get("/workspaces/:id/run", async (c) => {
    const ctx = c.get("ctx");
    const view = await getWorkspace(ctx, c.req.param("id"));
    const runtime = c.get("deps").workspaceRuntime;
    const viewer = (await c.get("deps").workspaceRelay?.viewerOf(view.workspace.id)) ?? null;
    return c.html(
      <RunPanel
        workspaceId={view.workspace.id}
        run={await latestRun(ctx.db, view.workspace.id)}
        viewer={viewer}
        runtime={runtime !== undefined}
        csrfToken={c.get("csrfToken")}
        now={ctx.clock.now()}
      />,
    );
  });

  // Start: whoever may see the workspace (its managers, granted technicians), in a portal session
  // that passed a second factor.
  app.post("/workspaces/:id/start", async (c) => {
    const ctx = c.get("ctx");
    const view = await getWorkspace(ctx, c.req.param("id"));
    const runtime = c.get("deps").workspaceRuntime;
    if (!runtime) throw new ForbiddenError("Workspaces cannot be started on this platform.");
    if (!sessionPassedSecondFactor(signedIn(c))) {
      await recordAuditAlone(ctx.db, ctx.clock, {
        actor: ctx.caller.actor,
        action: "workspace.start",
        target: { type: "workspace", id: view.workspace.id },
        customerId: view.workspace.customerId,
        result: "denied",
        detail: { reason: "this portal session did not pass a second factor" },
      });
      throw new ForbiddenError(
        "Starting a workspace needs a sign-in with a second factor (your identity provider's MFA or Meetpoint's authenticator code). Sign out and sign in again with it.",
      );
    }
    await runtime.start(ctx, view.workspace.id);
    return c.redirect(`/workspaces/${view.workspace.id}`, 303);
  });

  app.post("/workspaces/:id/stop", async (c) => {
    const runtime = c.get("deps").workspaceRuntime;
    if (!runtime) throw new ForbiddenError("Workspaces cannot be stopped on this platform.");
    await runtime.stopByCaller(c.get("ctx"), c.req.param("id"));
    return c.redirect(`/workspaces/${c.req.param("id")}`, 303);
  });

  app.post("/workspaces/:id/delete", async (c) => {
    const runtime = c.get("deps").workspaceRuntime;
    await deleteWorkspace(c.get("ctx"), c.req.param("id"), (id) =>
      runtime ? runtime.removeDockerObjects(id) : Promise.resolve([]),
    );
    return c.redirect("/workspaces", 303);
  });

  app.post("/workspaces/:id/template", async (c) => {
    const w = await setWorkspaceTemplate(c.get("ctx"), c.req.param("id"), await formFields(c));
    return c.redirect(`/workspaces/${w.id}`, 303);
  });

  app.post("/workspaces/:id/profile", async (c) => {
    const { pki } = c.get("deps");
    const w = await setWorkspaceProfile(c.get("ctx"), pki, c.req.param("id"), await formFields(c));
    await stopForNewSettings(c, w);
    return c.redirect(`/workspaces/${w.id}`, 303);
  });

  app.post("/workspaces/:id/allow-list", async (c) => {
    const w = await setAllowList(c.get("ctx"), c.req.param("id"), await formFields(c));
    await stopForNewSettings(c, w);
    return c.redirect(`/workspaces/${w.id}`, 303);
  });

  app.post("/workspaces/:id/grants", async (c) => {
    await grantAccess(c.get("ctx"), c.req.param("id"), await formFields(c));
    return c.redirect(`/workspaces/${c.req.param("id")}`, 303);
  });

  app.post("/workspaces/:id/grants/:userId/revoke", async (c) => {
    await revokeAccess(c.get("ctx"), c.req.param("id"), c.req.param("userId"));
    return c.redirect(`/workspaces/${c.req.param("id")}`, 303);
  });

  app.post("/workspaces/:id/backups", async (c) => {
    const ctx = c.get("ctx");
    const { workspace } = await managedWorkspace(ctx, c.req.param("id"));
    const outcome = await backupHomeVolume(backupDeps(c), workspace.id, "manual", ctx.caller.actor);
    if (outcome.kind === "skipped")
      throw new StateError(
        "ERR_NO_HOME_VOLUME",
        "The workspace has no home volume yet (it never started): nothing to back up.",
      );
    return c.redirect(`/workspaces/${workspace.id}`, 303);
  });

  app.post("/workspaces/:id/backups/:backupId/restore", async (c) => {
    const id = c.req.param("id");
    await restoreHomeVolume(backupDeps(c), c.get("ctx"), id, c.req.param("backupId"));
    return c.redirect(`/workspaces/${id}`, 303);
  });

  return app;
}

/**
 * A running desktop of `workspace` is stopped at once when its profile or allow-list changed, by
 * the one who changed them (the stop job catches a start that was under way, and other instances).
 */
async function stopForNewSettings(
  c: { get(key: "deps"): WebEnv["Variables"]["deps"]; get(key: "ctx"): Context },
  workspace: Workspace,
): Promise<void> {
  const runtime = c.get("deps").workspaceRuntime;
  const ctx = c.get("ctx");
  const run = await latestRun(ctx.db, workspace.id);
  // Saved unchanged (or a run from before versions were recorded): nothing to enforce anew.
  if (!runtime || run?.state !== "running" || run.settingsVersion === settingsVersion(workspace))
    return;
  await runtime.stop(ctx.caller.actor, workspace, "settings_change").catch((error) => {
    // Stopped meanwhile (idle, by hand): nothing runs with the old settings.
    if (!(error instanceof ConflictError)) throw error;
  });
}

/** The backups' dependencies; 503 when the platform runs without a workspace Docker endpoint. */
function backupDeps(c: { get(key: "deps"): WebEnv["Variables"]["deps"] }) {
  const deps = c.get("deps").workspaceBackups;
  if (!deps) throw new UnavailableError("Workspace backups are off on this platform.");
  return deps;
}

// Workspace templates in the portal: the list, each template with its pending proposal and
// decided ones, proposing, approving and rejecting (platform admins, four eyes).
import { Hono } from "hono";
import { hasPermission } from "../../access/index.ts";
import {
  approveProposal,
  getTemplate,
  listTemplates,
  proposeChange,
  proposeTemplate,
  rejectProposal,
  templateVersion,
} from "../../workspaces/index.ts";
import type { WebEnv } from "../env.ts";
import { formFields } from "../forms.ts";
import { PortalPage, trail } from "../views/components.tsx";
import {
  ChangeTemplateForm,
  NewTemplateForm,
  PendingProposal,
  ProposalHistory,
  TemplatesTable,
  ValuesText,
} from "../views/workspaces.tsx";

export function workspaceTemplateRoutes() {
  const app = new Hono<WebEnv>();

  app.get("/workspace-templates", async (c) => {
    const ctx = c.get("ctx");
    const rows = await listTemplates(ctx);
    const admin = hasPermission(ctx.caller.principal, "workspaces.templates");
    const csrf = c.get("csrfToken");
    return c.html(
      <PortalPage title="Workspace templates" csrfToken={csrf} principal={ctx.caller.principal}>
        <p>
          A template is what a customer's jump workspace starts with. Every new template and every
          change is a proposal; only another platform admin's approval makes it effective, at each
          workspace's next start.
        </p>
        <TemplatesTable rows={rows} linked={admin} />
        {admin
          ? rows
              .filter((r) => r.pending)
              .map((r) => (
                <>
                  <h2>{`Pending: ${r.template.name}`}</h2>
                  {r.pending ? (
                    <PendingProposal
                      proposal={r.pending}
                      effective={r.template.effective}
                      userId={ctx.caller.principal.userId}
                      csrfToken={csrf}
                    />
                  ) : null}
                </>
              ))
          : null}
        {admin ? <NewTemplateForm csrfToken={csrf} /> : null}
      </PortalPage>,
    );
  });

  app.post("/workspace-templates", async (c) => {
    const { template } = await proposeTemplate(c.get("ctx"), await formFields(c));
    return c.redirect(`/workspace-templates/${template.id}`, 303);
  });

  app.get("/workspace-templates/:id", async (c) => {
    const ctx = c.get("ctx");
    const { template, pending, history } = await getTemplate(ctx, c.req.param("id"));
    const csrf = c.get("csrfToken");
    return c.html(
      <PortalPage
        title={template.name}
        csrfToken={csrf}
        principal={ctx.caller.principal}
        crumbs={trail(template.name, ["Workspace templates", "/workspace-templates"])}
      >
        <p>
          Effective: <ValuesText values={template.effective} />
        </p>
        {pending ? (
          <PendingProposal
            proposal={pending}
            effective={template.effective}
            userId={ctx.caller.principal.userId}
            csrfToken={csrf}
          />
        ) : (
          <p class="muted">No proposal is waiting.</p>
        )}
        <ChangeTemplateForm
          templateId={template.id}
          values={pending?.values ?? template.effective}
          version={templateVersion(template, pending)}
          csrfToken={csrf}
        />
        <h2>Decided proposals</h2>
        <ProposalHistory proposals={history} />
      </PortalPage>,
    );
  });

  app.post("/workspace-templates/:id", async (c) => {
    const proposal = await proposeChange(c.get("ctx"), c.req.param("id"), await formFields(c));
    return c.redirect(`/workspace-templates/${proposal.templateId}`, 303);
  });

  app.post("/workspace-template-proposals/:id/approve", async (c) => {
    const template = await approveProposal(c.get("ctx"), c.req.param("id"));
    return c.redirect(`/workspace-templates/${template.id}`, 303);
  });

  app.post("/workspace-template-proposals/:id/reject", async (c) => {
    const proposal = await rejectProposal(c.get("ctx"), c.req.param("id"));
    return c.redirect(`/workspace-templates/${proposal.templateId}`, 303);
  });

  return app;
}

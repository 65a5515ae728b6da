// The jump workspaces' pages: templates with their proposals (four eyes), a customer's workspace.
import type { FC } from "hono/jsx";
import type {
  TemplateProposal,
  TemplateValues,
  WorkspaceTemplate,
} from "../../workspaces/index.ts";
import { coresText, DEFAULT_IDLE_MINUTES, DEFAULT_REPLICAS } from "../../workspaces/index.ts";
import { ActionButton, Actions, DataTable, VersionField } from "./components.tsx";
import { Field, NameField, Time } from "./layout.tsx";

/** The values of a template in one line: image, CPU, memory, pids, idle timeout, replicas. */
export const ValuesText: FC<{ values: TemplateValues | null }> = ({ values }) =>
  values ? (
    <span>
      <span class="mono">{values.image}</span> · {coresText(values.cpuMillicores)} CPU ·{" "}
      {values.memoryMib} MiB · {values.pidsLimit} processes · idle stop after{" "}
      {values.idleTimeoutMinutes} min · {values.replicas} replicas
    </span>
  ) : (
    <span class="muted">none approved yet: no workspace can use it</span>
  );

/** The fields of a template's values, filled with `values` when given. */
export const ValuesFields: FC<{ values?: TemplateValues | null }> = ({ values }) => (
  <>
    <Field
      label="Image (pinned by digest)"
      name="image"
      value={values?.image}
      maxlength={512}
      placeholder="registry.example/meetpoint/workspace@sha256:…"
      hint="repository/name@sha256:<64 hex digits>; a tag is refused"
    />
    <Field
      label="CPU (cores)"
      name="cpu"
      value={values ? coresText(values.cpuMillicores) : "1"}
      hint="0.1–64, e.g. 1.5"
    />
    <Field
      label="Memory (MiB)"
      name="memoryMib"
      value={String(values?.memoryMib ?? 2048)}
      inputmode="numeric"
      hint="256–65536"
    />
    <Field
      label="Processes (pids limit)"
      name="pidsLimit"
      value={String(values?.pidsLimit ?? 512)}
      inputmode="numeric"
      hint="64–32768"
    />
    <Field
      label="Idle timeout (minutes)"
      name="idleTimeoutMinutes"
      value={String(values?.idleTimeoutMinutes ?? DEFAULT_IDLE_MINUTES)}
      inputmode="numeric"
      hint="1–1440; stops a workspace without a browser connection"
    />
    <Field
      label="Replicas"
      name="replicas"
      value={String(values?.replicas ?? DEFAULT_REPLICAS)}
      inputmode="numeric"
      hint="1–4; a failed start uses another"
    />
  </>
);

const LABELS: Record<keyof TemplateValues, string> = {
  image: "image",
  cpuMillicores: "CPU",
  memoryMib: "memory (MiB)",
  pidsLimit: "processes",
  idleTimeoutMinutes: "idle timeout (min)",
  replicas: "replicas",
};

/** What a proposal changes against the effective values, one "what: before → after" each. */
export function changesOf(before: TemplateValues | null, after: TemplateValues): string[] {
  if (!before) return ["a new template: every value"];
  const shown = (key: keyof TemplateValues, v: TemplateValues) =>
    key === "cpuMillicores" ? coresText(v.cpuMillicores) : String(v[key]);
  return (Object.keys(LABELS) as (keyof TemplateValues)[])
    .filter((key) => before[key] !== after[key])
    .map((key) => `${LABELS[key]}: ${shown(key, before)} → ${shown(key, after)}`);
}

/**
 * A pending proposal with what the caller may do: Approve and Reject for another platform admin;
 * the proposer sees that it awaits a second admin and may withdraw it.
 */
export const PendingProposal: FC<{
  proposal: TemplateProposal;
  effective: TemplateValues | null;
  userId: string;
  csrfToken: string;
}> = ({ proposal, effective, userId, csrfToken }) => {
  const changes = changesOf(effective, proposal.values);
  const own = proposal.proposedBy === userId;
  return (
    <div class="card">
      <p>
        Proposed by <strong>{proposal.proposedByName}</strong> at <Time at={proposal.proposedAt} />:{" "}
        <ValuesText values={proposal.values} />
      </p>
      <ul>
        {(changes.length ? changes : ["no value differs from the effective ones"]).map((c) => (
          <li>{c}</li>
        ))}
      </ul>
      {own ? (
        <p class="muted">
          Awaiting approval by another platform admin (you cannot approve your own proposal).
        </p>
      ) : null}
      <Actions>
        {own ? null : (
          <ActionButton
            action={`/workspace-template-proposals/${proposal.id}/approve`}
            csrfToken={csrfToken}
          >
            Approve
          </ActionButton>
        )}
        <ActionButton
          action={`/workspace-template-proposals/${proposal.id}/reject`}
          csrfToken={csrfToken}
          kind="secondary"
        >
          {own ? "Withdraw" : "Reject"}
        </ActionButton>
      </Actions>
    </div>
  );
};

/** The templates table: name, effective values, whether a proposal waits. */
export const TemplatesTable: FC<{
  rows: { template: WorkspaceTemplate; pending: TemplateProposal | null }[];
  linked: boolean;
}> = ({ rows, linked }) => (
  <DataTable
    head={["Template", "Effective values", "Pending proposal"]}
    rows={rows}
    empty="No workspace templates yet."
    row={({ template, pending }) => (
      <tr>
        <td>
          {linked ? (
            <a href={`/workspace-templates/${template.id}`}>{template.name}</a>
          ) : (
            template.name
          )}
        </td>
        <td>
          <ValuesText values={template.effective} />
        </td>
        <td>
          {pending ? (
            `by ${pending.proposedByName}, awaiting approval`
          ) : (
            <span class="muted">none</span>
          )}
        </td>
      </tr>
    )}
  />
);

/** The new-template form: a name and the first values, which a second admin must approve. */
export const NewTemplateForm: FC<{ csrfToken: string }> = ({ csrfToken }) => (
  <details class="card">
    <summary>Propose a new template</summary>
    <form method="post" action="/workspace-templates">
      <input type="hidden" name="_csrf" value={csrfToken} />
      <NameField label="Name" placeholder="Standard desktop" />
      <ValuesFields />
      <button type="submit">Propose template</button>
    </form>
  </details>
);

/** The change form of a template: new values, proposed for a second admin's approval. */
export const ChangeTemplateForm: FC<{
  templateId: string;
  values: TemplateValues | null;
  version: string;
  csrfToken: string;
}> = (p) => (
  <div class="card">
    <h2>Propose a change</h2>
    <form method="post" action={`/workspace-templates/${p.templateId}`}>
      <input type="hidden" name="_csrf" value={p.csrfToken} />
      <VersionField version={p.version} />
      <ValuesFields values={p.values} />
      <button type="submit">Propose change</button>
    </form>
  </div>
);

/** Decided proposals, newest first. */
export const ProposalHistory: FC<{ proposals: TemplateProposal[] }> = ({ proposals }) => (
  <DataTable
    head={["Proposed", "By", "Values", "Decision"]}
    rows={proposals}
    empty="No decided proposals."
    row={(p) => (
      <tr>
        <td>
          <Time at={p.proposedAt} />
        </td>
        <td>{p.proposedByName}</td>
        <td>
          <ValuesText values={p.values} />
        </td>
        <td>
          {p.state}
          {p.decidedByName ? ` by ${p.decidedByName}` : ""}
          {p.decidedAt ? (
            <>
              {" "}
              at <Time at={p.decidedAt} />
            </>
          ) : null}
        </td>
      </tr>
    )}
  />
);

// The first-run guide: Customer → Site → Gateway (bundle) → Machine → Services → a technician
// account, each step linking to where it is done, the next one marked; shown on the Machines page
// until everything is there, and always on the Help page. Each step says who can do it.
import type { FC } from "hono/jsx";
import { hasPermission, type Principal } from "../../access/index.ts";
import type { SetupProgress } from "../../masterdata/index.ts";

interface Step {
  title: string;
  done: boolean;
  /** Where it is done; null when the caller cannot do it (then `who` says who can). */
  href: string | null;
  how: string;
  who: string;
}

/** The steps as `principal` sees them, in order. */
export function setupSteps(progress: SetupProgress, principal: Principal): Step[] {
  const admin = hasPermission(principal, "customers.manage");
  const manager = hasPermission(principal, "masterdata.manage");
  const usersAdmin = hasPermission(principal, "users.manage");
  const { first } = progress;
  return [
    {
      title: "Customer",
      done: progress.customers > 0,
      href: admin ? "/customers" : null,
      how: "Customers → Add customer: the company whose machines are maintained.",
      who: "a platform admin",
    },
    {
      title: "Site",
      done: progress.sites > 0,
      href: manager && first.customerId ? `/customers/${first.customerId}` : null,
      how: "On the customer's page → Add site: the plant where the gateway stands.",
      who: "a platform admin or the customer's admin",
    },
    {
      title: "Gateway and its enrollment bundle",
      done: progress.gateways > 0 && progress.enrolledGateways > 0,
      href: manager && first.siteId ? `/sites/${first.siteId}` : null,
      how:
        progress.gateways > 0 && progress.enrolledGateways === 0
          ? "The gateway exists but has never reported: import its enrollment bundle at the gateway (operator UI → Enrollment). Lost the bundle? Gateway page → Re-key."
          : "On the site's page → Add gateway, download the enrollment bundle, import it at the gateway (operator UI → Enrollment).",
      who: "a platform admin or the customer's admin; the operator imports the bundle",
    },
    {
      title: "Machine",
      done: progress.machines > 0,
      href: manager && first.gatewayId ? `/gateways/${first.gatewayId}` : null,
      how: "On the gateway's page → Add machine, with its address in the machine network (LAN).",
      who: "a platform admin or the customer's admin",
    },
    {
      title: "Services",
      done: progress.services > 0,
      href: manager && first.machineId ? `/machines/${first.machineId}` : null,
      how: "On the machine's page → Add service: each protocol and port a technician may reach.",
      who: "a platform admin or the customer's admin",
    },
    {
      title: "A technician account",
      done: progress.technicians > 0,
      href: usersAdmin ? "/users" : null,
      how: "Users → Add user, then grant the role Technician for the customer (or map a group of your identity provider under Sign-in).",
      who: "a platform admin",
    },
  ];
}

/** Whether the guide still has something to show. */
export function setupDone(progress: SetupProgress, principal: Principal): boolean {
  return setupSteps(progress, principal).every((s) => s.done);
}

/** The guide: steps done (muted), the next (bold, linked), those after; who can do each. */
export const FirstRunGuide: FC<{ progress: SetupProgress; principal: Principal }> = ({
  progress,
  principal,
}) => {
  const steps = setupSteps(progress, principal);
  const next = steps.findIndex((s) => !s.done);
  return (
    <div class="card" id="first-run">
      <h2>Getting started</h2>
      <p class="muted">
        {next === -1
          ? "Everything a first remote session needs is in place."
          : "What a first remote session needs, in order. Each step links to where it is done."}
      </p>
      <ol class="steps">
        {steps.map((step, i) => (
          <li class={step.done ? "done" : i === next ? "next" : undefined}>
            {step.done ? "✓ " : ""}
            {step.href && !step.done ? <a href={step.href}>{step.title}</a> : step.title}
            {step.done ? (
              " — done"
            ) : (
              <>
                {": "}
                <span>{step.how}</span>
                {step.href ? null : <span class="muted"> (done by {step.who})</span>}
              </>
            )}
          </li>
        ))}
      </ol>
    </div>
  );
};

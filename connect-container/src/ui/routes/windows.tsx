/** @jsxImportSource hono/jsx */
// Maintenance windows on the gateway's screen: the operator lists, creates and cancels this
// gateway's windows (through the platform, which keeps and audits them); the page says which
// window armed the data channel and until when. Times are UTC.
import type { GatewayWindowsResponse, WindowRequest } from "@meetpoint/common";
import { escapeFormatCharacters as shown } from "@meetpoint/common";
import { type Context, Hono } from "hono";
import type { Agent } from "../../agent/agent.ts";
import type { EventLog } from "../../agent/events.ts";
import type { UiEnv } from "../session.ts";
import { Card, Notice, Page, PostForm } from "../views.tsx";

export interface WindowsUiDeps {
  agent: Pick<Agent, "windowsApi" | "windows" | "heartbeatNow">;
  events: Pick<EventLog, "add">;
}

const FIELDS = ["start", "end", "technicians", "services", "mode", "reason", "weekly"] as const;

/** The field a platform refusal ("end: must be after the start") names, if any. */
export function fieldOf(message: string): string | null {
  const name = message.split(":")[0]?.trim() ?? "";
  return (FIELDS as readonly string[]).includes(name) ? name : null;
}

type Typed = Record<string, string>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function windowsRoutes({ agent, events }: WindowsUiDeps) {
  const routes = new Hono<UiEnv>();
  const page = async (
    c: Context<UiEnv>,
    notice: { kind: "ok" | "error"; text: string } | null,
    refused: { field: string | null; message: string; typed: Typed } | null = null,
  ) => {
    const { csrf } = c.get("session");
    const api = agent.windowsApi;
    let list: GatewayWindowsResponse | null = null;
    let unreachable: string | null = null;
    if (api)
      try {
        list = await api.windows();
      } catch (error) {
        unreachable = (error as Error).message;
      }
    const armedBy = agent.windows.current.armedBy;
    const typed = refused?.typed ?? {};
    const errorAt = (field: string) =>
      refused?.field === field ? (
        <span class="field-error" role="alert" data-field={field}>
          {refused.message}
        </span>
      ) : null;
    return c.html(
      <Page title="Maintenance windows" csrf={csrf} nav demo={c.get("demo")}>
        <Card title="Maintenance windows">
          {notice ? <Notice kind={notice.kind} text={notice.text} /> : null}
          <p class="muted">
            Inside a window the technicians it names are let in without another approval; the
            gateway connects at its start and disconnects at its end (if the window connected it),
            and every session of the window is cut at its end. Times are UTC.
          </p>
          <p id="window-arming">
            {armedBy
              ? `Connected by maintenance window ${armedBy.id} (${shown(armedBy.reason)}) until ${armedBy.end.toISOString()}.`
              : "No window has connected the gateway now."}
          </p>
          {unreachable ? (
            <Notice kind="error" text={`The platform cannot be asked: ${unreachable}`} />
          ) : null}
          {list ? (
            <table id="windows">
              <thead>
                <tr>
                  <th>State</th>
                  <th>Start</th>
                  <th>End</th>
                  <th>Repeats</th>
                  <th>Technicians</th>
                  <th>Services</th>
                  <th>Why</th>
                  <th>Created by</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {list.windows.map((w) => (
                  <tr data-window={w.id} data-window-state={w.state}>
                    <td>{w.state}</td>
                    <td class="mono">{w.start}</td>
                    <td class="mono">{w.end}</td>
                    <td>{w.weekly ? "weekly" : "once"}</td>
                    <td>
                      {w.technicians.length
                        ? w.technicians.map(shown).join(", ")
                        : "all of the customer"}
                    </td>
                    <td>{w.services.length ? w.services.map(shown).join(", ") : "all enabled"}</td>
                    <td data-field="reason">{shown(w.reason)}</td>
                    <td>{shown(w.createdBy)}</td>
                    <td>
                      {w.state === "open" || w.state === "upcoming" ? (
                        <PostForm
                          action={`/windows/${w.id}/cancel`}
                          csrf={csrf}
                          submit="Cancel"
                          secondary
                        />
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </Card>
        {list ? (
          <Card title="New window" level={2}>
            <PostForm action="/windows" csrf={csrf} submit="Create window">
              <label>
                Start (UTC)
                <input type="datetime-local" name="start" value={typed.start ?? ""} required />
                {errorAt("start")}
              </label>
              <label>
                End (UTC)
                <input type="datetime-local" name="end" value={typed.end ?? ""} required />
                {errorAt("end")}
              </label>
              <label>
                <input type="checkbox" name="weekly" checked={typed.weekly === "on"} /> Repeat
                weekly (until cancelled)
              </label>
              <fieldset>
                <legend>Technicians (none ticked: every technician of the customer)</legend>
                {list.technicians.map((t) => (
                  <label>
                    <input type="checkbox" name={`technician.${t.id}`} /> {shown(t.name)}
                  </label>
                ))}
                {errorAt("technicians")}
              </fieldset>
              <fieldset>
                <legend>Services (none ticked: every enabled service)</legend>
                {list.services.map((s) => (
                  <label>
                    <input type="checkbox" name={`service.${s.id}`} /> {shown(s.name)}
                  </label>
                ))}
                {errorAt("services")}
              </fieldset>
              <label>
                Mode
                <select name="mode">
                  <option value="full">Full</option>
                  <option value="read_only" selected={typed.mode === "read_only"}>
                    Read-only (Modbus services marked read-only)
                  </option>
                </select>
                {errorAt("mode")}
              </label>
              <label>
                What it is for
                <input name="reason" value={typed.reason ?? ""} required />
                {errorAt("reason")}
              </label>
            </PostForm>
          </Card>
        ) : null}
      </Page>,
      refused ? 400 : 200,
    );
  };

  // After a creation the POST redirects here (Post/Redirect/Get): a reload does not create twice.
  routes.get("/windows", (c) => {
    const created = c.req.query("created") ?? "";
    return page(
      c,
      UUID.test(created) ? { kind: "ok", text: `Window ${created.toLowerCase()} created.` } : null,
    );
  });

  routes.post("/windows", async (c) => {
    const api = agent.windowsApi;
    if (!api) return c.text("This gateway has no maintenance windows API.", 404);
    const form = await c.req.parseBody();
    const typed: Typed = {};
    for (const [k, v] of Object.entries(form)) if (typeof v === "string") typed[k] = v;
    const ticked = (prefix: string) =>
      Object.keys(typed)
        .filter((k) => k.startsWith(`${prefix}.`))
        .map((k) => k.slice(prefix.length + 1));
    const mode = typed.mode ?? "full";
    if (mode !== "full" && mode !== "read_only") {
      const message = "mode: must be full or read_only";
      return page(
        c,
        { kind: "error", text: `Not created: ${message}` },
        { field: "mode", message, typed },
      );
    }
    const request: WindowRequest = {
      start: typed.start ?? "",
      end: typed.end ?? "",
      weekly: typed.weekly === "on",
      technicians: ticked("technician"),
      services: ticked("service"),
      mode,
      reason: typed.reason ?? "",
    };
    try {
      const { id } = await api.createWindow(request);
      events.add("info", `maintenance window ${id} created by the operator (${request.reason})`);
      agent.heartbeatNow();
      return c.redirect(`/windows?created=${encodeURIComponent(id)}`, 303);
    } catch (error) {
      const message = (error as Error).message;
      return page(
        c,
        { kind: "error", text: `Not created: ${message}` },
        {
          field: fieldOf(message),
          message,
          typed,
        },
      );
    }
  });

  routes.post("/windows/:id/cancel", async (c) => {
    const api = agent.windowsApi;
    if (!api) return c.text("This gateway has no maintenance windows API.", 404);
    try {
      const done = await api.cancelWindow(c.req.param("id"));
      events.add("info", `maintenance window ${c.req.param("id")} cancelled by the operator`);
      agent.heartbeatNow();
      return page(c, {
        kind: "ok",
        text:
          done.outcome === "already_cancelled"
            ? "That window was cancelled already: nothing changed."
            : `Cancelled: ${done.ended} session(s) ended.`,
      });
    } catch (error) {
      return page(c, { kind: "error", text: `Not cancelled: ${(error as Error).message}` });
    }
  });
  return routes;
}

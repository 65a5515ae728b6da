/** @jsxImportSource hono/jsx */
// The operator's password: replaced at first sign-in (nothing else opens before), changed later.
// The whole rule (the same for every Meetpoint account) is listed before anything is typed; a
// refusal stands beside its field.
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, passwordRules } from "@meetpoint/common";
import { type Context, Hono } from "hono";
import type { EventLog } from "../../agent/events.ts";
import type { OperatorAuth, PasswordRefusal } from "../auth.ts";
import { setOperatorCookie, type UiEnv } from "../session.ts";
import { Card, Page, PostForm } from "../views.tsx";

export interface PasswordDeps {
  auth: Pick<OperatorAuth, "changePassword">;
  events: Pick<EventLog, "add">;
}

function PasswordInput(props: {
  id: "current" | "next";
  label: string;
  refusal: PasswordRefusal | null;
}) {
  const error = props.refusal?.field === props.id ? props.refusal.message : null;
  return (
    <>
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        name={props.id}
        type="password"
        required
        maxlength={MAX_PASSWORD_LENGTH}
        minlength={props.id === "next" ? MIN_PASSWORD_LENGTH : undefined}
        autocomplete={props.id === "current" ? "current-password" : "new-password"}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={error ? `${props.id}-error` : undefined}
      />
      {error ? (
        <p class="field-error" id={`${props.id}-error`}>
          {error}
        </p>
      ) : null}
    </>
  );
}

function passwordPage(c: Context<UiEnv>, refusal: PasswordRefusal | null, status: 200 | 400 = 200) {
  const { csrf, mustChangePassword } = c.get("session");
  return c.html(
    <Page title="Password" csrf={csrf} nav={!mustChangePassword} demo={c.get("demo")}>
      <Card title={mustChangePassword ? "Choose your own password" : "Change password"}>
        {mustChangePassword ? (
          <p>The initial password must be replaced before the gateway can be used.</p>
        ) : null}
        <p>A new password needs:</p>
        <ul class="rules" id="password-rules">
          {passwordRules().map((rule) => (
            <li>{rule}</li>
          ))}
        </ul>
        <PostForm action="/password" csrf={csrf} submit="Save">
          <PasswordInput id="current" label="Current password" refusal={refusal} />
          <PasswordInput id="next" label="New password" refusal={refusal} />
        </PostForm>
      </Card>
    </Page>,
    status,
  );
}

export function passwordRoutes({ auth, events }: PasswordDeps) {
  const routes = new Hono<UiEnv>();
  routes.get("/password", (c) => passwordPage(c, null));
  routes.post("/password", async (c) => {
    const form = await c.req.parseBody();
    const session = c.get("session");
    const refusal = await auth.changePassword(
      session,
      String(form.current ?? ""),
      String(form.next ?? ""),
    );
    if (refusal) return passwordPage(c, refusal, 400);
    events.add("info", "operator password changed");
    setOperatorCookie(c, session.id);
    return c.redirect("/", 303);
  });
  return routes;
}

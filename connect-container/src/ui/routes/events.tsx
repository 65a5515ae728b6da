/** @jsxImportSource hono/jsx */
// Events: the gateway's event log, newest first.
import { Hono } from "hono";
import type { EventLog } from "../../agent/events.ts";
import type { UiEnv } from "../session.ts";
import { Card, EventTable, Page } from "../views.tsx";

export function eventsRoutes({ events }: { events: Pick<EventLog, "recent"> }) {
  const routes = new Hono<UiEnv>();
  routes.get("/events", (c) =>
    c.html(
      <Page title="Events" csrf={c.get("session").csrf} nav demo={c.get("demo")}>
        <Card title="Events">
          <EventTable events={events.recent()} />
        </Card>
      </Page>,
    ),
  );
  return routes;
}

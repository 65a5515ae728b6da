// Signed commands for gateways (disconnect, refresh), kept as rows so that any platform instance
// answers the gateway's long-poll, and a wake-up lost on the way (NOTIFY) loses no command.
import { bigserial, index, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { createdAt } from "./columns.ts";

export const gatewayCommands = pgTable(
  "gateway_commands",
  {
    /** The gateway's long-poll cursor: commands after it are new to the gateway. */
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    /** No foreign key: a command for a gateway deleted meanwhile simply expires. */
    gatewayId: uuid("gateway_id").notNull(),
    /** The signed envelope (JWS) as the gateway receives it. */
    token: text("token").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("gateway_commands_gateway_seq").on(t.gatewayId, t.seq)],
);

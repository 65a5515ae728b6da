CREATE TABLE "gateway_commands" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"gateway_id" uuid NOT NULL,
	"token" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "job_leases" (
	"job" text PRIMARY KEY NOT NULL,
	"holder" text NOT NULL,
	"until" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "platform_instances" (
	"id" text PRIMARY KEY NOT NULL,
	"host" text NOT NULL,
	"vpn_endpoints" jsonb NOT NULL,
	"vpn_host" text NOT NULL,
	"tunnel_pool" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"last_seen_at" timestamp with time zone NOT NULL,
	"stopped_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "gateway_sessions" ADD COLUMN "instance_id" text;--> statement-breakpoint
ALTER TABLE "remote_sessions" ADD COLUMN "instance_id" text;--> statement-breakpoint
CREATE INDEX "gateway_commands_gateway_seq" ON "gateway_commands" USING btree ("gateway_id","seq");
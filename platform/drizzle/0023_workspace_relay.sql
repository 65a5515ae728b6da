CREATE TABLE "workspace_recordings" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"customer_id" uuid NOT NULL,
	"customer_name" text NOT NULL,
	"user_id" uuid NOT NULL,
	"username" text NOT NULL,
	"source_ip" text,
	"file" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	"bytes_down" bigint DEFAULT 0 NOT NULL,
	"bytes_up" bigint DEFAULT 0 NOT NULL,
	"sha256" text,
	"heartbeat_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "workspace_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"workspace_id" uuid NOT NULL,
	"state" text NOT NULL,
	"vnc_host" text,
	"vnc_port" integer,
	"vnc_password_sealed" text,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"stopped_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "workspace_runs" ADD CONSTRAINT "workspace_runs_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "workspace_recordings_one_viewer" ON "workspace_recordings" USING btree ("workspace_id") WHERE "workspace_recordings"."ended_at" is null;--> statement-breakpoint
CREATE INDEX "workspace_recordings_started_idx" ON "workspace_recordings" USING btree ("started_at");--> statement-breakpoint
CREATE INDEX "workspace_recordings_customer_idx" ON "workspace_recordings" USING btree ("customer_id","started_at");--> statement-breakpoint
CREATE INDEX "workspace_runs_workspace_idx" ON "workspace_runs" USING btree ("workspace_id","started_at");
ALTER TABLE "workspace_runs" ADD COLUMN "message" text;--> statement-breakpoint
ALTER TABLE "workspace_runs" ADD COLUMN "started_by" uuid;--> statement-breakpoint
ALTER TABLE "workspace_runs" ADD COLUMN "started_by_name" text;--> statement-breakpoint
ALTER TABLE "workspace_runs" ADD COLUMN "image" text;--> statement-breakpoint
ALTER TABLE "workspace_runs" ADD COLUMN "template_id" uuid;--> statement-breakpoint
ALTER TABLE "workspace_runs" ADD COLUMN "template_proposal_id" uuid;--> statement-breakpoint
ALTER TABLE "workspace_runs" ADD COLUMN "container_name" text;--> statement-breakpoint
ALTER TABLE "workspace_runs" ADD COLUMN "network_name" text;--> statement-breakpoint
ALTER TABLE "workspace_runs" ADD COLUMN "report_token_hash" text;--> statement-breakpoint
ALTER TABLE "workspace_runs" ADD COLUMN "vpn" text;--> statement-breakpoint
ALTER TABLE "workspace_runs" ADD COLUMN "vpn_error" text;--> statement-breakpoint
ALTER TABLE "workspace_runs" ADD COLUMN "reported_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "workspace_runs" ADD COLUMN "running_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "workspace_runs" ADD COLUMN "stop_reason" text;--> statement-breakpoint
CREATE UNIQUE INDEX "workspace_runs_one_live" ON "workspace_runs" USING btree ("workspace_id") WHERE "workspace_runs"."state" not in ('stopped', 'failed');--> statement-breakpoint
CREATE UNIQUE INDEX "workspace_runs_report_token" ON "workspace_runs" USING btree ("report_token_hash");
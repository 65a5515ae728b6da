ALTER TABLE "workspace_runs" ADD COLUMN "settings_version" text;--> statement-breakpoint
ALTER TABLE "workspace_runs" ADD COLUMN "docker_endpoint" text;
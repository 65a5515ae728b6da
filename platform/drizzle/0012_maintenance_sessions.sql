ALTER TABLE "remote_sessions" ALTER COLUMN "machine_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "remote_sessions" ADD COLUMN "kind" text DEFAULT 'machine' NOT NULL;
ALTER TABLE "remote_sessions" ADD COLUMN "modbus_evidence" jsonb;--> statement-breakpoint
ALTER TABLE "services" ADD COLUMN "mode" text DEFAULT 'full' NOT NULL;
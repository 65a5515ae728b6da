ALTER TABLE "remote_sessions" ADD COLUMN "ticket" text;--> statement-breakpoint
ALTER TABLE "remote_sessions" ADD COLUMN "consent_policy" text DEFAULT 'operator_connect' NOT NULL;--> statement-breakpoint
ALTER TABLE "remote_sessions" ADD COLUMN "duration_seconds" integer;--> statement-breakpoint
ALTER TABLE "remote_sessions" ADD COLUMN "decide_by" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "remote_sessions" ADD COLUMN "approved_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "remote_sessions" ADD COLUMN "approved_by" uuid;--> statement-breakpoint
ALTER TABLE "remote_sessions" ADD COLUMN "client_proxy" jsonb;--> statement-breakpoint
ALTER TABLE "remote_sessions" ADD COLUMN "profile_issued_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sites" ADD COLUMN "consent_policy" text DEFAULT 'operator_connect' NOT NULL;--> statement-breakpoint
ALTER TABLE "sites" ADD COLUMN "max_session_minutes" integer DEFAULT 120 NOT NULL;--> statement-breakpoint
ALTER TABLE "sites" ADD COLUMN "request_expiry_minutes" integer DEFAULT 10 NOT NULL;
ALTER TABLE "gateway_sessions" ADD COLUMN "ends_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "issued_certificates" ADD COLUMN "first_use_by" timestamp with time zone;
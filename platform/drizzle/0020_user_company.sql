ALTER TABLE "identity_providers" ADD COLUMN "company_claim" text;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "company" text;
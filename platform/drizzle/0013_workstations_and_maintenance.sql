ALTER TABLE "role_assignments" DROP CONSTRAINT "role_assignments_unique";--> statement-breakpoint
ALTER TABLE "machines" ALTER COLUMN "lan_address" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "remote_sessions" ALTER COLUMN "machine_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "gateways" ADD COLUMN "kind" text DEFAULT 'connect' NOT NULL;--> statement-breakpoint
ALTER TABLE "remote_sessions" ADD COLUMN "kind" text DEFAULT 'machine' NOT NULL;--> statement-breakpoint
ALTER TABLE "role_assignments" ADD COLUMN "site_id" uuid;--> statement-breakpoint
ALTER TABLE "role_assignments" ADD CONSTRAINT "role_assignments_site_id_sites_id_fk" FOREIGN KEY ("site_id") REFERENCES "public"."sites"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "role_assignments" ADD CONSTRAINT "role_assignments_unique" UNIQUE NULLS NOT DISTINCT("user_id","role","customer_id","site_id");
CREATE TABLE "maintenance_windows" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"customer_id" uuid NOT NULL,
	"gateway_id" uuid NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone NOT NULL,
	"weekly" boolean DEFAULT false NOT NULL,
	"technician_ids" jsonb NOT NULL,
	"service_ids" jsonb NOT NULL,
	"mode" text DEFAULT 'full' NOT NULL,
	"reason" text NOT NULL,
	"origin" text NOT NULL,
	"created_by" uuid,
	"created_by_name" text NOT NULL,
	"cancelled_at" timestamp with time zone,
	"cancelled_by_name" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "remote_sessions" ADD COLUMN "window_id" uuid;--> statement-breakpoint
ALTER TABLE "sites" ADD COLUMN "window_creators" text DEFAULT 'operator' NOT NULL;--> statement-breakpoint
ALTER TABLE "sites" ADD COLUMN "windows_may_overlap" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "maintenance_windows" ADD CONSTRAINT "maintenance_windows_gateway_id_gateways_id_fk" FOREIGN KEY ("gateway_id") REFERENCES "public"."gateways"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "maintenance_windows_gateway" ON "maintenance_windows" USING btree ("gateway_id");
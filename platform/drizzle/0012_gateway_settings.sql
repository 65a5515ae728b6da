CREATE TABLE "gateway_settings" (
	"gateway_id" uuid PRIMARY KEY NOT NULL,
	"ssh_enabled" text NOT NULL,
	"operator_keys" text NOT NULL,
	"ui_reach" text NOT NULL,
	"ssh_keys" jsonb NOT NULL,
	"envelope" text NOT NULL,
	"version" integer NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"updated_by" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "gateway_settings" ADD CONSTRAINT "gateway_settings_gateway_id_gateways_id_fk" FOREIGN KEY ("gateway_id") REFERENCES "public"."gateways"("id") ON DELETE cascade ON UPDATE no action;
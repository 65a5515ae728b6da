CREATE SEQUENCE "public"."envelope_versions" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "issued_certificates" (
	"serial" text PRIMARY KEY NOT NULL,
	"ca_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"subject" text NOT NULL,
	"owner_id" uuid,
	"not_before" timestamp with time zone NOT NULL,
	"not_after" timestamp with time zone NOT NULL,
	"spent_at" timestamp with time zone,
	"spent_by" text,
	"revoked_at" timestamp with time zone,
	"revocation_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "platform_keys" (
	"purpose" text PRIMARY KEY NOT NULL,
	"sealed" text NOT NULL,
	"public_jwk" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "issued_certificates" ADD CONSTRAINT "issued_certificates_ca_id_certificate_authorities_id_fk" FOREIGN KEY ("ca_id") REFERENCES "public"."certificate_authorities"("id") ON DELETE restrict ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "issued_certificates_ca_revoked" ON "issued_certificates" USING btree ("ca_id","revoked_at");--> statement-breakpoint
CREATE INDEX "issued_certificates_ca_not_after" ON "issued_certificates" USING btree ("ca_id","not_after");--> statement-breakpoint
CREATE INDEX "issued_certificates_owner" ON "issued_certificates" USING btree ("owner_id");
CREATE TABLE "one_time_reveals" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"web_session_id" text NOT NULL,
	"kind" text NOT NULL,
	"payload_sealed" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "identity_providers" ADD COLUMN "id_token_alg" text;--> statement-breakpoint
ALTER TABLE "one_time_reveals" ADD CONSTRAINT "one_time_reveals_web_session_id_web_sessions_id_fk" FOREIGN KEY ("web_session_id") REFERENCES "public"."web_sessions"("id") ON DELETE cascade ON UPDATE no action;
CREATE TABLE "request_approvals" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"remote_session_id" uuid NOT NULL,
	"party" text NOT NULL,
	"where" text NOT NULL,
	"actor_id" uuid,
	"actor_name" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	CONSTRAINT "request_approvals_session_party" UNIQUE("remote_session_id","party")
);
--> statement-breakpoint
ALTER TABLE "request_approvals" ADD CONSTRAINT "request_approvals_remote_session_id_remote_sessions_id_fk" FOREIGN KEY ("remote_session_id") REFERENCES "public"."remote_sessions"("id") ON DELETE cascade ON UPDATE no action;
-- Close reasons are a closed set now (sessions/reasons.ts): the two that used to be sentences
-- become their values; the words are rendered from the value.
UPDATE "gateway_sessions" SET "close_reason" = 'technician' WHERE "close_reason" = 'remote session ended by technician';--> statement-breakpoint
UPDATE "gateway_sessions" SET "close_reason" = 'admin' WHERE "close_reason" = 'remote session ended by admin';

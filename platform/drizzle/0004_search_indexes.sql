-- Trigram search needs pg_trgm (a trusted extension: the database owner may create it).
CREATE EXTENSION IF NOT EXISTS pg_trgm;--> statement-breakpoint
CREATE INDEX "customers_name_trgm" ON "customers" USING gin ("name" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "machines_name_id" ON "machines" USING btree ("name","id");--> statement-breakpoint
CREATE INDEX "machines_customer" ON "machines" USING btree ("customer_id");--> statement-breakpoint
CREATE INDEX "machines_gateway" ON "machines" USING btree ("gateway_id");--> statement-breakpoint
CREATE INDEX "machines_name_trgm" ON "machines" USING gin ("name" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "machines_lan_address_trgm" ON "machines" USING gin ("lan_address" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "machines_proxy_address_trgm" ON "machines" USING gin ("proxy_address" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "sites_name_trgm" ON "sites" USING gin ("name" gin_trgm_ops);
// The platform's internal CAs; the private key only ever stored encrypted with the KEK.
import { pgTable, text } from "drizzle-orm/pg-core";
import { at, createdAt, id } from "./columns.ts";

export const certificateAuthorities = pgTable("certificate_authorities", {
  id: id(),
  certificatePem: text("certificate_pem").notNull(),
  /** AES-256-GCM ciphertext of the PKCS#8 key, "iv.ciphertext" in base64url. */
  encryptedKey: text("encrypted_key").notNull(),
  notAfter: at("not_after").notNull(),
  createdAt: createdAt(),
});

// Email through nodemailer, kept behind this one file: SMTP with STARTTLS required (smtp://) or
// implicit TLS (smtps://), the server's certificate checked (against MEETPOINT_SMTP_CA if given).
import { readFileSync } from "node:fs";
import nodemailer from "nodemailer";

export interface MailSettings {
  url: string;
  from: string;
  caFile: string | null;
}

export interface Mailer {
  send(message: { to: string; subject: string; text: string }): Promise<void>;
  close(): void;
}

export function createMailer(settings: MailSettings): Mailer {
  const url = new URL(settings.url);
  const implicit = url.protocol === "smtps:";
  const transport = nodemailer.createTransport({
    host: url.hostname,
    port: Number(url.port) || (implicit ? 465 : 587),
    secure: implicit,
    // Never send in the clear: a server without STARTTLS is an error, not a fallback.
    requireTLS: !implicit,
    auth: url.username
      ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
      : undefined,
    tls: {
      minVersion: "TLSv1.2",
      rejectUnauthorized: true,
      ca: settings.caFile ? readFileSync(settings.caFile, "utf8") : undefined,
    },
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  });
  return {
    async send(message) {
      await transport.sendMail({ from: settings.from, ...message });
    },
    close: () => transport.close(),
  };
}

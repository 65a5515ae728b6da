// Free text from elsewhere (a gateway's last error on the portal; a technician's name, a reason, a
// window's purpose on the gateway's screens): invisible format characters are made visible so they
// cannot mislead whoever reads it. Neither side trusts the other to have refused them.

/**
 * `text` with every Unicode format character (general category Cf: bidi overrides and isolates
 * U+202A–202E and U+2066–2069, zero-width spaces and joiners, the BOM, soft hyphens) replaced by
 * its code point written out, e.g. "<U+202E>" — the text then reads as sent.
 */
export function escapeFormatCharacters(text: string): string {
  return text.replace(
    /\p{Cf}/gu,
    (c) => `<U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}>`,
  );
}

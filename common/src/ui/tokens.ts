// Tokens in running text — IPv4 addresses and blocks (with a port), protocol/port pairs, ISO 8601
// times — which a page must never break across two lines: both UIs wrap each in an unbreakable
// span wherever a message, a check's detail or an event names one.

const TOKEN =
  /\b\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?(?::\d{1,5})?\b|\b(?:tcp|udp)\/\d{1,5}\b|\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})/g;

/** `text` cut into plain runs and tokens, in order; joined again they are `text`. */
export function splitTokens(text: string): { text: string; token: boolean }[] {
  const parts: { text: string; token: boolean }[] = [];
  let at = 0;
  for (const match of text.matchAll(TOKEN)) {
    const start = match.index ?? 0;
    if (start > at) parts.push({ text: text.slice(at, start), token: false });
    parts.push({ text: match[0], token: true });
    at = start + match[0].length;
  }
  if (at < text.length) parts.push({ text: text.slice(at), token: false });
  return parts;
}

// The one way both user interfaces (portal and operator UI) and their text exports write a moment.

/**
 * A moment as ISO 8601 in UTC, to the second: "2026-11-30T09:45:12Z". Accepts a Date or any string
 * Date can read (an ISO time, or OpenSSL's "Nov 30 09:45:12 2026 GMT"); an unreadable one is
 * returned as it was, so nothing is hidden.
 */
export function isoTime(at: Date | string): string {
  const date = typeof at === "string" ? new Date(at) : at;
  if (Number.isNaN(date.getTime())) return String(at);
  return `${date.toISOString().slice(0, 19)}Z`;
}

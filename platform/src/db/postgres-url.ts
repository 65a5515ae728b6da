// What a PostgreSQL connection string asks of the server it connects to, as postgres.js reads it.

/**
 * `url` with `target_session_attrs=read-write` read as `primary`. postgres.js 3.4 judges
 * read-write by `default_transaction_read_only` alone, which a PostgreSQL 14+ hot standby reports
 * as off: with a multi-host URL it would settle on a standby, where every write fails and a probe
 * still answers. libpq's read-write refuses a server in hot standby too; postgres.js's `primary`
 * does exactly that. Works on multi-host URLs (`host1:port1,host2:port2`), which URL() cannot parse.
 */
export function writableTarget(url: string): string {
  return url.replace(/([?&]target_session_attrs=)read-write(?=&|$)/i, "$1primary");
}

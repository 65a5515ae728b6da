// The traffic chart of a transparency report, drawn on the server as an SVG document (pure: no
// client script, no inline style — the portal's Content-Security-Policy allows neither).

/** One row of the chart: a service and what the firewall counted for it. */
export interface ChartService {
  name: string;
  protocol: string;
  port: number;
  packets: number | null;
  bytes: number | null;
}

/** The time axis: from the first to the last moment the service could be reached. */
export interface ChartSpan {
  from: Date;
  to: Date;
}

const WIDTH = 640;
const LABEL = 150;
const RIGHT = 170;
const ROW = 30;
const TOP = 28;
const BOTTOM = 40;
const BAR_MAX = 18;

/** Escapes text for XML character data and attribute values. */
export function xmlText(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

/** "3.4 kB", "1.2 MB" (decimal units: 1 kB = 1000 bytes). */
export function byteText(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = "B";
  for (const next of units) {
    if (value < 1000) break;
    value /= 1000;
    unit = next;
  }
  return `${value.toFixed(1)} ${unit}`;
}

const isoSeconds = (d: Date) => `${d.toISOString().slice(0, 19)}Z`;

/**
 * Packets and bytes per service over the session's time: each service is a bar across the span it
 * was granted (`span`, the x axis, in UTC), its height scaled to its bytes against the busiest
 * service. The platform's firewall counts per session, not per interval, so the bar's height is
 * the session's total — the caption says so. A service whose counters were not read is drawn as
 * an outline marked "counters missing", never as zero. Returns a standalone SVG 1.1 document
 * (with the xmlns), `role="img"` and a <title>.
 */
export function trafficChart(services: ChartService[], span: ChartSpan): string {
  const plot = WIDTH - LABEL - RIGHT;
  const height = TOP + Math.max(1, services.length) * ROW + BOTTOM;
  const busiest = Math.max(1, ...services.map((s) => s.bytes ?? 0));
  const seconds = Math.max(0, Math.round((span.to.getTime() - span.from.getTime()) / 1000));
  const rows = services.map((s, i) => {
    const y = TOP + i * ROW;
    const label = `${s.protocol}/${s.port} ${s.name}`;
    const counted =
      s.packets === null || s.bytes === null
        ? "counters missing"
        : `${s.packets} packets · ${byteText(s.bytes)}`;
    const title = xmlText(`${label}: ${counted}`);
    const barHeight =
      s.bytes === null ? BAR_MAX : s.bytes === 0 ? 1 : Math.max(2, (s.bytes / busiest) * BAR_MAX);
    const bar =
      s.bytes === null
        ? `<rect class="missing" x="${LABEL}" y="${y + 4}" width="${plot}" height="${BAR_MAX}" fill="none" stroke="#b45309" stroke-dasharray="4 3"><title>${title}</title></rect>`
        : `<rect class="traffic" x="${LABEL}" y="${(y + 4 + BAR_MAX - barHeight).toFixed(1)}" width="${plot}" height="${barHeight.toFixed(1)}" fill="#2563eb"><title>${title}</title></rect>`;
    return [
      `<text x="${LABEL - 8}" y="${y + 17}" text-anchor="end" font-size="12">${xmlText(label)}</text>`,
      bar,
      `<text x="${LABEL + plot + 8}" y="${y + 17}" font-size="12">${xmlText(counted)}</text>`,
    ].join("");
  });
  const axisY = TOP + Math.max(1, services.length) * ROW;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" font-family="sans-serif">`,
    `<title>Traffic per service, ${isoSeconds(span.from)} to ${isoSeconds(span.to)}</title>`,
    `<text x="${LABEL}" y="16" font-size="12">Bytes per service, session total (the firewall counts per session, not per minute)</text>`,
    services.length === 0
      ? `<text x="${LABEL}" y="${TOP + 17}" font-size="12">no services were granted</text>`
      : rows.join(""),
    `<line x1="${LABEL}" y1="${axisY}" x2="${LABEL + plot}" y2="${axisY}" stroke="#555"/>`,
    `<text x="${LABEL}" y="${axisY + 16}" font-size="11">${isoSeconds(span.from)}</text>`,
    `<text x="${LABEL + plot}" y="${axisY + 16}" text-anchor="end" font-size="11">${isoSeconds(span.to)}</text>`,
    `<text x="${LABEL + plot / 2}" y="${axisY + 32}" text-anchor="middle" font-size="11">${seconds} s granted (UTC)</text>`,
    "</svg>",
  ].join("");
}

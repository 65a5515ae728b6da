// What a page in the lab's Chromium did on the wire, kept to print when a check on it fails.
import type { Page } from "playwright-core";

/**
 * What `page` does on the wire, for when a check on it fails: console messages, failed requests,
 * answers ≥ 400, each WebSocket's life and how many frames went each way. `lines()` reads it.
 */
export function traceViewer(page: Page): () => string[] {
  const lines: string[] = [];
  const sockets: { url: string; sent: number; received: number; closed: boolean }[] = [];
  const at = () => `${(performance.now() / 1000).toFixed(1)} s`;
  page.on("console", (m) => lines.push(`${at()} console ${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => lines.push(`${at()} page error: ${e.message}`));
  page.on("requestfailed", (r) =>
    lines.push(`${at()} request failed: ${r.url()} (${r.failure()?.errorText})`),
  );
  page.on("response", (r) => {
    if (r.status() >= 400) lines.push(`${at()} ${r.status()} ${r.url()}`);
  });
  page.on("websocket", (ws) => {
    const socket = { url: ws.url(), sent: 0, received: 0, closed: false };
    sockets.push(socket);
    lines.push(`${at()} WebSocket ${ws.url()} opening`);
    ws.on("framesent", () => void socket.sent++);
    ws.on("framereceived", () => void socket.received++);
    ws.on("socketerror", (e) => lines.push(`${at()} WebSocket error: ${e}`));
    ws.on("close", () => {
      socket.closed = true;
      lines.push(`${at()} WebSocket closed`);
    });
  });
  return () => [
    ...lines,
    ...sockets.map(
      (s) =>
        `WebSocket ${s.url}: ${s.sent} frames sent, ${s.received} received, ${s.closed ? "closed" : "open"}`,
    ),
  ];
}

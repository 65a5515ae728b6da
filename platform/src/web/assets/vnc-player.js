// The recording player: noVNC's playback approach — a channel that looks like an open WebSocket
// feeds the recorded server frames to RFB at their recorded times; what RFB sends is dropped.
import { loadRfb } from "/assets/vnc-load.js";

const screen = document.getElementById("vnc-screen");
const status = document.getElementById("vnc-status");

function parse(text) {
  const frames = [];
  for (const line of text.split("\n").slice(1)) {
    if (line.startsWith("'EOF'")) return frames;
    const m = /^'([{}])(\d+)\{([A-Za-z0-9+/=]*)',$/.exec(line);
    if (!m) continue;
    if (m[1] === "}") continue; // the viewer's input: not replayed
    const bin = atob(m[3]);
    const data = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) data[i] = bin.charCodeAt(i);
    frames.push({ ms: Number(m[2]), data });
  }
  return frames;
}

async function play() {
  const RFB = await loadRfb(status);
  const response = await fetch(screen.dataset.recording, { credentials: "same-origin" });
  if (!response.ok) {
    status.textContent = `The recording could not be loaded (${response.status}).`;
    return;
  }
  const frames = parse(await response.text());
  const channel = {
    binaryType: "arraybuffer",
    protocol: "",
    readyState: "open",
    onerror: null,
    onmessage: null,
    onopen: null,
    onclose: null,
    send() {},
    close() {
      this.readyState = "closed";
    },
  };
  const rfb = new RFB(screen, channel);
  rfb.viewOnly = true;
  rfb.scaleViewport = true;
  const start = performance.now();
  for (const [i, frame] of frames.entries()) {
    const wait = frame.ms - (performance.now() - start);
    if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, 2000)));
    channel.onmessage?.({ data: frame.data.buffer });
    status.textContent = `Playing: ${Math.round(frame.ms / 1000)} s, frame ${i + 1} of ${frames.length}`;
  }
  status.textContent = `Played to the end (${frames.length} frames).`;
  screen.dataset.state = "played";
}

if (screen && status) play();

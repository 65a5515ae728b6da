// The Open page: noVNC's RFB on the workspace's relay WebSocket (same origin; the relay holds the
// VNC password, the browser is offered security type None).
import { loadRfb } from "/assets/vnc-load.js";

const screen = document.getElementById("vnc-screen");
const status = document.getElementById("vnc-status");

/**
 * Connects; a connection that fails before it was ever up (a network change while the WebSocket
 * opens, say) is tried once more before the page says so.
 */
function open(RFB, retries) {
  let connected = false;
  status.textContent = "Connecting…";
  const rfb = new RFB(screen, `wss://${location.host}${screen.dataset.vncPath}`);
  rfb.scaleViewport = true;
  rfb.addEventListener("connect", () => {
    connected = true;
    status.textContent = "Connected. This connection is recorded.";
    screen.dataset.state = "connected";
  });
  rfb.addEventListener("disconnect", (e) => {
    if (!connected && !e.detail.clean && retries > 0) {
      status.textContent = "Connecting again…";
      setTimeout(() => open(RFB, retries - 1), 1000);
      return;
    }
    status.textContent = e.detail.clean
      ? "Disconnected."
      : "The connection was refused or lost: reload this page to see why.";
    screen.dataset.state = "disconnected";
  });
}

if (screen && status) loadRfb(status).then((RFB) => open(RFB, 1));

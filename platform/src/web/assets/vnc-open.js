// The Open page: noVNC's RFB on the workspace's relay WebSocket (same origin; the relay holds the
// VNC password, the browser is offered security type None).
import RFB from "/assets/novnc/core/rfb.js";

const screen = document.getElementById("vnc-screen");
const status = document.getElementById("vnc-status");
if (screen && status) {
  const rfb = new RFB(screen, `wss://${location.host}${screen.dataset.vncPath}`);
  rfb.scaleViewport = true;
  rfb.addEventListener("connect", () => {
    status.textContent = "Connected. This connection is recorded.";
    screen.dataset.state = "connected";
  });
  rfb.addEventListener("disconnect", (e) => {
    status.textContent = e.detail.clean
      ? "Disconnected."
      : "The connection was refused or lost: reload this page to see why.";
    screen.dataset.state = "disconnected";
  });
}

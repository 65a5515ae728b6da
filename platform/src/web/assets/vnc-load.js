// noVNC's RFB class for the Open page and the recording player, fetched again when one of its
// modules did not arrive: Chromium aborts requests in flight when the computer's network changes
// (net::ERR_NETWORK_CHANGED — a VPN or Wi-Fi coming up, or Docker adding a bridge on the same
// host), and without a retry the page would stay as it is with nothing on the screen. A failed
// dynamic import is fetched anew by the next import() of the same module.

/** RFB (noVNC's core/rfb.js); `status` says what happens; rejects after `attempts` tries. */
export async function loadRfb(status, attempts = 4) {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await import("/assets/novnc/core/rfb.js")).default;
    } catch (error) {
      if (attempt >= attempts) {
        status.textContent = `The viewer could not be loaded (${error.message}): reload this page.`;
        throw error;
      }
      status.textContent = "Loading the viewer again (a network error)…";
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

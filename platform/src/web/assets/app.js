// "Go back" on error pages returns to the form with what was typed still in it.
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("a[data-back]") : null;
  if (link && window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
});

// Countdowns (data-countdown="<ISO time>"): how long a one-time configuration can still be used.
function tickCountdowns() {
  for (const element of document.querySelectorAll("[data-countdown]")) {
    const left = Math.round((Date.parse(element.dataset.countdown) - Date.now()) / 1000);
    element.textContent =
      left > 0
        ? `${Math.floor(left / 60)} min ${String(left % 60).padStart(2, "0")} s`
        : "expired — connect again";
  }
}
setInterval(tickCountdowns, 1000);
document.addEventListener("DOMContentLoaded", tickCountdowns);
document.addEventListener("htmx:afterSwap", tickCountdowns);

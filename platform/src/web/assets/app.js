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

// A refusal that names fields (data-problems, from the server's one error view): each reason
// goes beside its field, under the field's own visible label, and the field is marked; the notice
// above keeps only what has no field on this form. What was typed stays: the form is not swapped.
function placeProblems(notice, form) {
  let problems = [];
  try {
    problems = JSON.parse(notice.dataset.problems || "[]");
  } catch {
    return;
  }
  let first = null;
  for (const problem of problems) {
    const found = form.elements.namedItem(problem.field);
    const field = found instanceof RadioNodeList ? found[0] : found;
    if (!field || field.type === "hidden") continue;
    const label = field.closest("label");
    const name = label?.querySelector("span")?.textContent?.trim() || problem.field;
    const message = document.createElement("span");
    message.className = "field-error";
    message.id = `problem-${problem.field}`;
    // A whole sentence ("A customer with this name exists already.") stands as it is.
    message.textContent = /^[A-Z]/.test(problem.reason)
      ? problem.reason
      : `${name}: ${problem.reason}`;
    (label ?? field.parentElement).append(message);
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-describedby", message.id);
    for (const item of notice.querySelectorAll("li[data-field]"))
      if (item.dataset.field === problem.field) item.remove();
    first ??= field;
  }
  if (!first) return;
  const list = notice.querySelector("ul.problems");
  if (!list || list.children.length === 0) {
    list?.remove();
    const summary = notice.querySelector(".summary");
    if (summary) summary.textContent = "Please correct the marked field.";
  }
  first.focus();
}

document.addEventListener("htmx:afterSwap", (event) => {
  const notice = document.querySelector("#messages [data-problems]");
  const source = event.detail?.requestConfig?.elt ?? event.detail?.elt;
  const form = source instanceof Element ? source.closest("form") : null;
  if (notice && form) placeProblems(notice, form);
});

// A new try clears the marks of the last refusal.
document.addEventListener("htmx:beforeRequest", (event) => {
  const form = event.detail?.elt instanceof Element ? event.detail.elt.closest("form") : null;
  if (!form) return;
  for (const message of form.querySelectorAll(".field-error")) message.remove();
  for (const field of form.querySelectorAll("[aria-invalid]")) {
    field.removeAttribute("aria-invalid");
    field.removeAttribute("aria-describedby");
  }
});

// Keyboard: "n" takes the next ticket, "q" opens the team queue, "m" my tickets,
// "/" jumps to the first filter or field. Ignored while typing in a field.
document.addEventListener("keydown", (event) => {
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName);
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  const go = {
    n: () => document.getElementById("take-next")?.click(),
    q: () => { window.location.href = "/desk/queue/"; },
    m: () => { window.location.href = "/desk/"; },
    "/": () => document.querySelector("main select, main input, main textarea")?.focus(),
  }[event.key];
  if (go) { event.preventDefault(); go(); }
});

// Selects marked data-submit-on-change submit their form (the presence switch).
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-submit-on-change]")) event.target.form.requestSubmit();
});

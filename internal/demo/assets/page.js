// Sends every form marked data-api with fetch, carrying the CSRF token in the X-CSRF-Token header,
// then reloads the page to show the new state; an error answer is shown in the status line.
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!form.matches("form[data-api]")) return;
  event.preventDefault();
  const body = new URLSearchParams(new FormData(form));
  const status = document.getElementById("status");
  try {
    const res = await fetch(form.action, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": body.get("csrf_token") || "" },
    });
    if (res.ok) {
      location.reload();
      return;
    }
    let msg = res.status + " " + res.statusText;
    try {
      const j = await res.json();
      if (j && j.error) msg = res.status + ": " + j.error;
    } catch (_) {}
    status.textContent = msg;
  } catch (err) {
    status.textContent = String(err);
  }
  status.hidden = false;
});

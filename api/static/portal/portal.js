// The portal works without JavaScript; this only adds conveniences: focus on the error
// summary (or the notice) after a form was sent, copy buttons for the reference and the
// secret, and showing the secret while typing it.

const summary = document.querySelector("[data-error-summary]");
if (summary) {
  summary.focus();
} else {
  const notice = document.getElementById("notice");
  if (notice) notice.focus();
}
// The notice of a step just taken is shown once: a reload of the page does not repeat it.
const url = new URL(window.location.href);
if (url.searchParams.has("done")) {
  url.searchParams.delete("done");
  window.history.replaceState(null, "", url.pathname + url.search);
}

const status = document.querySelector("[data-copy-status]");
for (const button of document.querySelectorAll("button[data-copy]")) {
  if (!navigator.clipboard) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    const source = document.getElementById(button.dataset.copy);
    try {
      await navigator.clipboard.writeText(source.textContent.trim());
      if (status) status.textContent = button.dataset.copied;
    } catch {
      // Not allowed here: the text can still be selected and copied by hand.
    }
  });
}

const toggle = document.getElementById("toggle-secret");
const secret = document.getElementById("secret");
if (toggle && secret) {
  toggle.hidden = false;
  toggle.addEventListener("click", () => {
    const show = secret.type === "password";
    secret.type = show ? "text" : "password";
    toggle.setAttribute("aria-pressed", String(show));
    toggle.textContent = show ? toggle.dataset.hide : toggle.dataset.show;
  });
}

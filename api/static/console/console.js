// The console works without JavaScript; this only moves the focus to what a form's answer
// says (the error summary, or the notice of a step just taken) and drops the one-time notice
// from the address so a reload does not repeat it.

const summary = document.querySelector("[data-error-summary]");
if (summary) {
  summary.focus();
} else {
  const notice = document.getElementById("notice");
  if (notice) notice.focus();
}
const url = new URL(window.location.href);
if (url.searchParams.has("done")) {
  url.searchParams.delete("done");
  window.history.replaceState(null, "", url.pathname + url.search + url.hash);
}

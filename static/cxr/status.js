// Polls the case's status endpoint while classification is pending; reloads the page when
// a prediction or a failure arrives, so the server renders the result part.
// Polling stops after MAX_POLL_MS: each poll refreshes the session, and an unattended page
// must not keep a login alive for ever.
(function () {
  "use strict";
  const PENDING = ["submitted", "queued", "classifying"];
  const INTERVAL_MS = 2000;
  const MAX_POLL_MS = 10 * 60 * 1000;
  const box = document.getElementById("case-status");
  if (!box || !PENDING.includes(box.dataset.status)) return;
  const started = Date.now();

  async function poll() {
    try {
      const response = await fetch(box.dataset.statusUrl, {headers: {Accept: "application/json"}, cache: "no-store"});
      if (response.redirected || !response.ok) {
        window.location.reload();  // logged out, or the case is gone: let the server say so
        return;
      }
      const state = await response.json();
      if (state.final) {
        window.location.reload();
        return;
      }
      if (state.status !== box.dataset.status) {
        const fresh = new DOMParser().parseFromString(state.html, "text/html").getElementById("case-status");
        box.innerHTML = fresh.innerHTML;
        box.dataset.status = state.status;
      }
    } catch (error) {
      // The network or the server is briefly away: keep polling.
    }
    if (Date.now() - started < MAX_POLL_MS) {
      window.setTimeout(poll, INTERVAL_MS);
    } else {
      box.insertAdjacentHTML("beforeend", '<p class="small mt-2">Reload the page to check again.</p>');
    }
  }
  window.setTimeout(poll, INTERVAL_MS);
})();

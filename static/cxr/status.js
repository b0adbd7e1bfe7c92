// Polls the case's status endpoint while classification is pending; reloads the page when
// a prediction or a failure arrives, so the result part is rendered by the server.
(function () {
  "use strict";
  const PENDING = ["submitted", "queued", "classifying"];
  const INTERVAL_MS = 2000;
  const box = document.getElementById("case-status");
  if (!box || !PENDING.includes(box.dataset.status)) return;

  async function poll() {
    try {
      const response = await fetch(box.dataset.statusUrl, {headers: {Accept: "application/json"}, cache: "no-store"});
      if (response.ok) {
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
      }
    } catch (error) {
      // The network or the server is briefly away: keep polling.
    }
    window.setTimeout(poll, INTERVAL_MS);
  }
  window.setTimeout(poll, INTERVAL_MS);
})();

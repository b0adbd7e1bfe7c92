// Polls the case's status endpoint while classification is pending and updates the page in
// place: the status box on every change, and the result card once the status is final. Each
// change is said once in the #case-announcer live region; focus stays where the user left it.
// Polling stops after MAX_POLL_MS: each poll refreshes the session, and an unattended page
// must not keep a login alive for ever.
(function () {
  "use strict";
  const PENDING = ["submitted", "queued", "classifying"];
  const INTERVAL_MS = 2000;
  const MAX_POLL_MS = 10 * 60 * 1000;
  const box = document.getElementById("case-status");
  const announcer = document.getElementById("case-announcer");
  if (!box || !PENDING.includes(box.dataset.status)) return;
  const started = Date.now();

  function announce(text) {
    if (announcer) announcer.textContent = text.replace(/\s+/g, " ").trim();
  }

  function showStatus(fresh, status) {
    box.innerHTML = fresh.innerHTML;
    box.dataset.status = status;
  }

  // The final state: the server renders the result card; fetch the page and take both parts.
  async function showFinal(status) {
    const response = await fetch(window.location.href, {cache: "no-store"});
    if (response.redirected || !response.ok) {
      window.location.reload();
      return;
    }
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const freshResult = page.getElementById("case-result");
    const result = document.getElementById("case-result");
    if (freshResult && result) result.replaceWith(document.importNode(freshResult, true));
    showStatus(page.getElementById("case-status"), status);
    const message = box.querySelector("[data-testid=status-message]");
    announce((freshResult && freshResult.dataset.announce) || (message ? message.textContent : ""));
  }

  async function poll() {
    try {
      const response = await fetch(box.dataset.statusUrl, {headers: {Accept: "application/json"}, cache: "no-store"});
      if (response.redirected || !response.ok) {
        window.location.reload();  // logged out, or the case is gone: let the server say so
        return;
      }
      const state = await response.json();
      if (state.final) {
        await showFinal(state.status);
        return;
      }
      if (state.status !== box.dataset.status) {
        const fresh = new DOMParser().parseFromString(state.html, "text/html").getElementById("case-status");
        showStatus(fresh, state.status);
        announce(box.textContent);
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

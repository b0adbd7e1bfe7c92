// Warns a minute before the idle logout and lets the user stay signed in (WCAG 2.2.1).
// The server says how long the session has left when the page is rendered (data-expires-in);
// "Stay signed in" asks the server to refresh the session and starts counting again. Typing is
// activity too: while someone types (a long note, the symptoms), the session is refreshed the
// same way, at most once a minute, so the warning never interrupts them.
(function () {
  "use strict";
  const WARN_BEFORE_MS = 60 * 1000;
  const TYPING_REFRESH_MS = 60 * 1000;  // as the server's CXR_SESSION_REFRESH_SECONDS
  let lastRefresh = Date.now();
  const box = document.getElementById("idle-warning");
  if (!box) return;
  const button = box.querySelector("[data-stay-signed-in]");
  let warnTimer = null;
  let endTimer = null;
  let returnFocus = null;

  function schedule(seconds) {
    window.clearTimeout(warnTimer);
    window.clearTimeout(endTimer);
    const left = seconds * 1000;
    warnTimer = window.setTimeout(warn, Math.max(0, left - WARN_BEFORE_MS));
    // Once the session has ended, reloading lets the server show the login page.
    endTimer = window.setTimeout(function () { window.location.reload(); }, left + 1000);
  }

  function warn() {
    returnFocus = document.activeElement;
    box.hidden = false;
    button.focus();
  }

  async function staySignedIn() {
    lastRefresh = Date.now();
    const response = await fetch(box.dataset.stayUrl, {headers: {Accept: "application/json"}, cache: "no-store"});
    if (response.redirected || !response.ok) {
      window.location.reload();  // already logged out: drafts.js has kept what was typed
      return null;
    }
    const state = await response.json();
    schedule(state.expires_in);
    return state;
  }

  button.addEventListener("click", async function () {
    try {
      if (!(await staySignedIn())) return;
      box.hidden = true;
      if (returnFocus && document.body.contains(returnFocus)) returnFocus.focus();
    } catch (error) {
      box.querySelector("p").textContent = gettext("The server could not be reached; try again.");
    }
  });

  document.addEventListener("input", function (event) {
    if (!box.hidden || event.target.closest("#idle-warning")) return;
    if (Date.now() - lastRefresh < TYPING_REFRESH_MS) return;
    staySignedIn().catch(function () { lastRefresh = 0; });  // unreachable: try again on the next key
  });
  schedule(Number(box.dataset.expiresIn));
})();

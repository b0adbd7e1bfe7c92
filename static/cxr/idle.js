// Warns a minute before the idle logout and lets the user stay signed in (WCAG 2.2.1).
// The server says how long the session has left when the page is rendered (data-expires-in);
// "Stay signed in" asks the server to refresh the session and starts counting again.
(function () {
  "use strict";
  const WARN_BEFORE_MS = 60 * 1000;
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

  button.addEventListener("click", async function () {
    try {
      const response = await fetch(box.dataset.stayUrl, {headers: {Accept: "application/json"}, cache: "no-store"});
      if (response.redirected || !response.ok) {
        window.location.reload();
        return;
      }
      const state = await response.json();
      box.hidden = true;
      if (returnFocus && document.body.contains(returnFocus)) returnFocus.focus();
      schedule(state.expires_in);
    } catch (error) {
      box.querySelector("p").textContent = "The server could not be reached; try again.";
    }
  });
  schedule(Number(box.dataset.expiresIn));
})();

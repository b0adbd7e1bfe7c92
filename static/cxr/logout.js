// Logging out takes this browser's submissions with it: the outbox (static/cxr/outbox_store.js) and
// tus-js-client's stored uploads (their details include the patient number). When some are not sent
// yet, the user is warned first: once removed, they cannot go on from this browser.
(function () {
  "use strict";
  const form = document.querySelector("form[data-logout]");
  if (!form) return;

  function storedUploadKeys() {
    const keys = [];
    for (let i = 0; i < window.localStorage.length; i++) {
      const key = window.localStorage.key(i);
      if (key === "cxr-outbox" || key.indexOf("tus::") === 0) keys.push(key);
    }
    return keys;
  }

  form.addEventListener("submit", function (event) {
    const outbox = window.cxrOutbox ? window.cxrOutbox.all() : {};
    const unsent = Object.values(outbox).filter(function (entry) { return entry.state !== "filed"; });
    if (unsent.length && !window.confirm(
        unsent.length + " film" + (unsent.length > 1 ? "s have" : " has") + " not been sent yet. Logging out " +
        "removes " + (unsent.length > 1 ? "them" : "it") + " from this browser, and " +
        (unsent.length > 1 ? "they" : "it") + " will have to be submitted again. Log out anyway?")) {
      event.preventDefault();
      return;
    }
    if (window.cxrOutbox) window.cxrOutbox.close();
    storedUploadKeys().forEach(function (key) { window.localStorage.removeItem(key); });
  });
})();

// Logging out takes this browser's submissions with it: the outbox (static/cxr/outbox_store.js),
// tus-js-client's stored uploads (their details include the patient number), films captured offline
// (static/cxr/offline_store.js) and the offline copies of the new-case form and outbox. When some are
// not sent yet, the user is warned first: once removed, they cannot go on from this browser.
(function () {
  "use strict";
  const form = document.querySelector("form[data-logout]");
  if (!form) return;
  let confirmed = false;

  function storedUploadKeys() {
    const keys = [];
    for (let i = 0; i < window.localStorage.length; i++) {
      const key = window.localStorage.key(i);
      if (key === "cxr-outbox" || key.indexOf("tus::") === 0) keys.push(key);
    }
    return keys;
  }

  function forgetOfflineCopies() {
    const work = [];
    if (window.cxrOffline) work.push(window.cxrOffline.clear());
    if (window.caches) {
      work.push(caches.keys().then(function (names) {
        return Promise.all(names.filter(function (name) { return name.indexOf("cxr-offline-") === 0; })
          .map(function (name) { return caches.delete(name); }));
      }));
    }
    if (navigator.serviceWorker) {
      work.push(navigator.serviceWorker.getRegistrations().then(function (registrations) {
        return Promise.all(registrations.map(function (registration) { return registration.unregister(); }));
      }));
    }
    return Promise.all(work).catch(function () {});
  }

  form.addEventListener("submit", function (event) {
    if (confirmed) return;
    event.preventDefault();
    const outbox = window.cxrOutbox ? window.cxrOutbox.all() : {};
    const unsent = Object.values(outbox).filter(function (entry) { return entry.state !== "filed"; });
    if (unsent.length && !window.confirm(interpolate(ngettext(
        "%(n)s film has not been sent yet. Logging out removes it from this browser, and it will have to be " +
        "submitted again. Log out anyway?",
        "%(n)s films have not been sent yet. Logging out removes them from this browser, and they will have to be " +
        "submitted again. Log out anyway?", unsent.length), {n: unsent.length}, true))) {
      return;
    }
    if (window.cxrOutbox) window.cxrOutbox.close();
    storedUploadKeys().forEach(function (key) { window.localStorage.removeItem(key); });
    forgetOfflineCopies().then(function () {
      confirmed = true;
      form.submit();
    });
  });
})();

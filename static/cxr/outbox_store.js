// This browser's outbox: one entry per submission (its id is the upload's submission id), kept in
// localStorage so that it survives a reload or a browser restart. No patient data: the file's name and
// size, how far it got, and the case's address once filed (tus-js-client keeps the upload's own address).
(function () {
  "use strict";
  const KEY = "cxr-outbox";
  let closed = false;  // after logout began: an upload still running on the page writes nothing more

  function all() {
    try {
      return JSON.parse(window.localStorage.getItem(KEY) || "{}");
    } catch (error) {
      return {};
    }
  }

  function put(id, fields) {
    if (closed) return;
    const entries = all();
    entries[id] = Object.assign({}, entries[id] || {}, fields, {updated: new Date().toISOString()});
    window.localStorage.setItem(KEY, JSON.stringify(entries));
  }

  function remove(id) {
    if (closed) return;
    const entries = all();
    delete entries[id];
    window.localStorage.setItem(KEY, JSON.stringify(entries));
  }

  function close() {
    closed = true;
    window.dispatchEvent(new Event("cxr-outbox-closed"));  // the new-case page stops its upload
  }

  window.cxrOutbox = {all: all, put: put, remove: remove, close: close};
})();

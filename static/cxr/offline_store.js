// Films captured with no link wait here (IndexedDB: a film is too large for localStorage) until the
// new-case page sends them; each is removed once the server has filed it, or at logout.
(function () {
  "use strict";
  const NAME = "cxr-offline", STORE = "films";

  function open() {
    return new Promise(function (resolve, reject) {
      const request = indexedDB.open(NAME, 1);
      request.onupgradeneeded = function () { request.result.createObjectStore(STORE, {keyPath: "id"}); };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function run(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        const transaction = db.transaction(STORE, mode);
        const result = work(transaction.objectStore(STORE));
        transaction.oncomplete = function () { db.close(); resolve(result && result.result); };
        transaction.onerror = function () { db.close(); reject(transaction.error); };
      });
    });
  }

  window.cxrOffline = {
    save: function (film) { return run("readwrite", function (store) { store.put(film); }); },
    all: function () { return run("readonly", function (store) { return store.getAll(); }); },
    remove: function (id) { return run("readwrite", function (store) { store.delete(id); }); },
    clear: function () {
      return new Promise(function (resolve) {
        const request = indexedDB.deleteDatabase(NAME);
        request.onsuccess = request.onerror = request.onblocked = function () { resolve(); };
      });
    },
  };
})();

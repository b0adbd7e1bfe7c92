{% load static %}// The service worker of the new-case form and the outbox (cases/intake/views.py serves it, scope /cases/):
// those two pages and their scripts are kept so that they open with no link. Nothing else is cached:
// every other page (a case, a list: patient data) goes to the network untouched, and logging out
// deletes the cache (static/cxr/logout.js). Films captured offline wait in IndexedDB, not here.
// The JavaScript catalogue (gettext for the pages' scripts) is kept as the pages are, network first:
// without it their scripts would stop at the first message, and it changes with the user's language.
"use strict";
const CACHE = "cxr-offline-{{ version }}";
const PAGES = ["{% url 'cases:case_new' %}", "{% url 'cases:outbox' %}"];
const CATALOGUE = "{% url 'javascript-catalog' %}";
const ASSETS = [{% for asset in assets %}"{% static asset %}"{% if not forloop.last %}, {% endif %}{% endfor %}];

function keep(cache, path, response) {
  // Only the page itself: a redirect (to the login page, the session having ended) is not kept.
  if (response.ok && !response.redirected) return cache.put(path, response);
}

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return cache.addAll(ASSETS).then(function () {
      return Promise.all(PAGES.concat([CATALOGUE]).map(function (path) {
        return fetch(path, {credentials: "same-origin"}).then(function (response) { return keep(cache, path, response); });
      }));
    });
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("cxr-offline-") === 0 && name !== CACHE;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if ((PAGES.indexOf(url.pathname) >= 0 && event.request.mode === "navigate") || url.pathname === CATALOGUE) {
    // The network first (a fresh CSRF token and messages); the kept copy when there is no link.
    event.respondWith(fetch(event.request).then(function (response) {
      const copy = response.clone();
      caches.open(CACHE).then(function (cache) { keep(cache, url.pathname, copy); });
      return response;
    }).catch(function () {
      return caches.match(url.pathname).then(function (kept) { return kept || Response.error(); });
    }));
  } else if (ASSETS.indexOf(url.pathname) >= 0) {
    event.respondWith(caches.match(url.pathname).then(function (kept) { return kept || fetch(event.request); }));
  }
});

// The worklist keeps itself current: every few seconds it fetches itself (same filters, same page)
// and redraws the counts and the rows in place, so new cases appear and waiting times move. A row
// that is still there is updated cell by cell and keeps its node, so the reader's place (scroll)
// and focus stay put; each new urgent case is said once in #worklist-announcer. The poll sends
// X-CXR-Poll: it is not activity, and after the idle logout its redirect reloads to the login page.
(function () {
  "use strict";
  const live = document.getElementById("worklist-live");
  if (!live) return;
  const announcer = document.getElementById("worklist-announcer");
  const interval = Number(live.dataset.pollMs) || 15000;

  function rowsOf(root) {
    const rows = new Map();
    root.querySelectorAll("tr[data-case]").forEach(function (row) { rows.set(row.dataset.case, row); });
    return rows;
  }

  function sameCells(row, fresh) {
    Array.from(fresh.children).forEach(function (cell, index) {
      const mine = row.children[index];
      if (mine && mine.innerHTML !== cell.innerHTML) mine.innerHTML = cell.innerHTML;
    });
  }

  function redrawRows(fresh) {
    const body = live.querySelector("tbody");
    const freshBody = fresh.querySelector("tbody");
    if (!body || !freshBody) {  // the table appeared or emptied: take the block as it is
      live.innerHTML = fresh.innerHTML;
      return;
    }
    const mine = rowsOf(body);
    Array.from(freshBody.children).forEach(function (freshRow) {
      const row = mine.get(freshRow.dataset.case);
      if (row) {
        sameCells(row, freshRow);
        body.append(row);  // in the new order
        mine.delete(freshRow.dataset.case);
      } else {
        body.append(document.importNode(freshRow, true));
      }
    });
    mine.forEach(function (row) { row.remove(); });
    const pagination = live.querySelector("nav");
    const freshPagination = fresh.querySelector("nav");
    if (pagination && freshPagination) pagination.innerHTML = freshPagination.innerHTML;
  }

  function newUrgent(before, fresh) {
    const names = [];
    fresh.querySelectorAll("tr[data-case][data-urgent]").forEach(function (row) {
      if (!before.has(row.dataset.case)) names.push(row.dataset.mrn);
    });
    return names;
  }

  async function refresh() {
    const response = await fetch(window.location.href, {headers: {"X-CXR-Poll": "1"}, cache: "no-store"});
    if (response.redirected || !response.ok) {
      window.location.reload();
      return false;
    }
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("worklist-live");
    if (!fresh) return true;
    const before = rowsOf(live);
    const focused = document.activeElement;
    const focusedHref = focused && live.contains(focused) ? focused.getAttribute("href") : null;
    const scrollY = window.scrollY;
    redrawRows(fresh);
    page.querySelectorAll("[data-testid=status-counts] [data-status]").forEach(function (badge) {
      const mine = document.querySelector("[data-testid=status-counts] [data-status='" + badge.dataset.status + "']");
      if (mine && mine.textContent !== badge.textContent) mine.textContent = badge.textContent;
    });
    if (focused && document.activeElement !== focused) {
      // Moving a row takes focus off it; give it back to the same control, without scrolling.
      const target = document.body.contains(focused) ? focused
        : (focusedHref && live.querySelector("[href='" + CSS.escape(focusedHref) + "']"));
      if (target) target.focus({preventScroll: true});
    }
    window.scrollTo(window.scrollX, scrollY);
    const urgent = newUrgent(before, live);
    if (urgent.length && announcer) {
      announcer.textContent = interpolate(ngettext("New urgent case: patient %(patients)s.", "New urgent cases: patients %(patients)s.",
                                                   urgent.length), {patients: urgent.join(", ")}, true);
    }
    return true;
  }

  async function tick() {
    let again = true;
    try {
      again = await refresh();
    } catch (error) {
      // The network or the server is briefly away: try again next time.
    }
    if (again) window.setTimeout(tick, interval);
  }
  window.setTimeout(tick, interval);
})();

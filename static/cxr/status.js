// Keeps open pages current without a reload, focus left where the user put it, each change said once
// in the #case-announcer live region:
// - the case page polls its status endpoint while classification is pending and updates the status
//   box; once the status is final it keeps watching the case's outcome (a signature, an amendment)
//   and redraws the result card when it changes;
// - the case list asks for its rows' outcomes and updates their status and final finding.
// Polls send X-CXR-Poll: they do not count as activity, so an unattended page still reaches the
// idle logout, and then the redirect they get reloads it onto the login page.
(function () {
  "use strict";
  const PENDING = ["submitted", "queued", "classifying"];
  const PENDING_INTERVAL_MS = 2000;
  const POLL_HEADERS = {Accept: "application/json", "X-CXR-Poll": "1"};
  const announcer = document.getElementById("case-announcer");

  function announce(text) {
    if (announcer && text) announcer.textContent = text.replace(/\s+/g, " ").trim();
  }

  // JSON from a poll, or null when the page must let the server speak (logged out, case gone).
  async function poll(url) {
    const response = await fetch(url, {headers: POLL_HEADERS, cache: "no-store"});
    if (response.redirected || !response.ok) {
      window.location.reload();
      return null;
    }
    return response.json();
  }

  function outcomesUrl(base, ids) {
    return base + "?" + ids.map(function (id) { return "id=" + encodeURIComponent(id); }).join("&");
  }

  function every(ms, step) {
    async function tick() {
      let again = true;
      try {
        again = (await step()) !== false;
      } catch (error) {
        // The network or the server is briefly away: keep polling.
      }
      if (again) window.setTimeout(tick, ms);
    }
    window.setTimeout(tick, ms);
  }

  function watchCasePage(box) {
    const interval = Number(box.dataset.pollMs) || 15000;

    function showStatus(fresh, status) {
      box.innerHTML = fresh.innerHTML;
      box.dataset.status = status;
    }

    // The server renders the result card; fetch the page and take both parts.
    async function redraw(status) {
      const response = await fetch(window.location.href, {headers: {"X-CXR-Poll": "1"}, cache: "no-store"});
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

    function watchOutcome() {
      every(interval, async function () {
        const state = await poll(outcomesUrl(box.dataset.outcomesUrl, [box.dataset.case]));
        if (!state) return false;
        const outcome = state.cases[0];
        const result = document.getElementById("case-result");
        if (outcome && result && outcome.key !== result.dataset.resultKey) await redraw(outcome.status);
      });
    }

    if (!PENDING.includes(box.dataset.status)) {
      watchOutcome();
      return;
    }
    every(PENDING_INTERVAL_MS, async function () {
      const state = await poll(box.dataset.statusUrl);
      if (!state) return false;
      if (state.final) {
        await redraw(state.status);
        watchOutcome();
        return false;
      }
      if (state.status !== box.dataset.status) {
        const fresh = new DOMParser().parseFromString(state.html, "text/html").getElementById("case-status");
        showStatus(fresh, state.status);
        announce(box.textContent);
      }
    });
  }

  function watchCaseList(table) {
    const rows = new Map();
    table.querySelectorAll("tr[data-case]").forEach(function (row) { rows.set(row.dataset.case, row); });
    if (!rows.size) return;
    every(Number(table.dataset.pollMs) || 15000, async function () {
      const state = await poll(outcomesUrl(table.dataset.outcomesUrl, Array.from(rows.keys())));
      if (!state) return false;
      const news = [];
      state.cases.forEach(function (outcome) {
        const row = rows.get(outcome.id);
        const review = outcome.review === null ? "" : String(outcome.review);
        if (!row || (row.dataset.status === outcome.status && row.dataset.review === review)) return;
        row.dataset.status = outcome.status;
        row.querySelector("[data-testid=case-status]").textContent = outcome.status_display;
        if (row.dataset.review !== review) {
          row.dataset.review = review;
          const cell = row.querySelector("[data-testid=case-final]");
          cell.textContent = "";
          const finding = document.createElement("strong");
          finding.textContent = outcome.final;
          cell.append(finding);
          if (outcome.amended_at) {
            const badge = document.createElement("span");
            badge.className = "badge text-bg-warning ms-1";
            badge.textContent = interpolate(gettext("amended %(signed)s"), {signed: outcome.amended_at}, true);
            cell.append(badge);
          }
          news.push(outcome.announce);
        }
      });
      if (news.length) announce(news.join(" "));
    });
  }

  const box = document.getElementById("case-status");
  if (box) watchCasePage(box);
  const table = document.querySelector("table[data-outcomes-url]");
  if (table) watchCaseList(table);
})();

// The outbox page: this browser's submissions (static/cxr/outbox_store.js), each with what to do.
(function () {
  "use strict";
  const table = document.querySelector("[data-outbox]");
  if (!table || !window.cxrOutbox) return;
  const body = table.querySelector("tbody");
  const empty = document.querySelector("[data-outbox-empty]");
  const clear = document.querySelector("[data-outbox-clear]");
  const STATES = {
    queued: [gettext("Kept in this browser"), gettext("Captured with no link. Open New case when the link is back: it is sent from " +
             "there by itself. Do not log out before: that removes it.")],
    sending: [gettext("Sending"), gettext("Keep the new-case page open until it says the case is submitted. If it was closed, open " +
              "New case, fill it in and choose the same file again: it goes on from where it stopped.")],
    waiting: [gettext("Waiting for the link"), gettext("Nothing to do: it goes on by itself when the link is back, while its page is open. " +
              "If that page was closed, choose the same file again on New case.")],
    refused: [gettext("Refused"), gettext("The server refused the film or its details, and the form said why: correct them and submit " +
              "the case again.")],
    filed: [gettext("Filed"), ""],
  };

  function cell(row, content) {
    const td = document.createElement("td");
    if (content instanceof Node) td.appendChild(content); else td.textContent = content;
    row.appendChild(td);
  }

  function render() {
    const entries = Object.entries(cxrOutbox.all()).sort(function (a, b) {
      return (b[1].created || "").localeCompare(a[1].created || "");
    });
    body.replaceChildren();
    entries.forEach(function (pair) {
      const id = pair[0], entry = pair[1];
      const row = document.createElement("tr");
      row.dataset.submission = id;
      row.dataset.state = entry.state;
      const state = STATES[entry.state] || [gettext("Unknown"), ""];
      const percent = entry.total ? Math.floor((entry.sent || 0) * 100 / entry.total) : 0;
      cell(row, entry.name || gettext("(a film)"));
      cell(row, entry.created ? new Date(entry.created).toLocaleString() : "");
      cell(row, entry.state === "filed" ? state[0]
        : interpolate(gettext("%(state)s (%(percent)s %)"), {state: state[0], percent: percent}, true));
      if (entry.state === "filed" && entry.case) {
        const link = document.createElement("a");
        link.href = entry.case;
        link.textContent = gettext("Open the case");
        cell(row, link);
      } else {
        cell(row, entry.reason ? interpolate(gettext("%(advice)s The server said: %(reason)s"), {advice: state[1], reason: entry.reason}, true)
          : state[1]);
      }
      body.appendChild(row);
    });
    table.hidden = entries.length === 0;
    empty.hidden = entries.length > 0;
    clear.hidden = !entries.some(function (pair) { return pair[1].state === "filed"; });
  }

  clear.querySelector("button").addEventListener("click", function () {
    Object.entries(cxrOutbox.all()).forEach(function (pair) {
      if (pair[1].state === "filed") cxrOutbox.remove(pair[0]);
    });
    render();
  });
  window.addEventListener("storage", render);  // another tab's upload moved on
  render();
})();

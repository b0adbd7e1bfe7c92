// Accessibility fixes to markup the Django admin draws, without copying its templates.
(function () {
  "use strict";

  function hiddenText(text) {
    const span = document.createElement("span");
    span.className = "cxr-visually-hidden";
    span.textContent = text;
    return span;
  }

  // Tabular inlines leave two headers empty (WCAG 1.3.1): the entry's own column, and the delete
  // column when deleting is not allowed. A screen reader then announces cells without a header.
  function nameEmptyHeaders() {
    document.querySelectorAll(".tabular thead th").forEach(function (th) {
      if (th.textContent.trim()) return;
      th.appendChild(hiddenText(th.classList.contains("original") ? gettext("Entry") : gettext("Delete (not allowed)")));
    });
  }

  // The two-box selector (SelectFilter2.js) draws its help icons as bare <span aria-label>, a name
  // that assistive technology ignores and axe reports (aria-prohibited-attr); as images they may
  // carry one. They exist only after SelectFilter2's own load handler has run.
  function nameHelpIcons() {
    document.querySelectorAll("span.help-tooltip[aria-label]:not([role])").forEach(function (icon) {
      icon.setAttribute("role", "img");
    });
  }

  document.addEventListener("DOMContentLoaded", nameEmptyHeaders);
  window.addEventListener("load", function () { window.setTimeout(nameHelpIcons, 0); });
})();

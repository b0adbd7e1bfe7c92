// Forms sent back with errors: focus moves to the error summary, so keyboard and screen-reader
// users hear what went wrong and can follow its links to the fields (WCAG 3.3.1).
(function () {
  "use strict";
  const summary = document.querySelector("[data-error-summary]");
  if (summary) summary.focus();
})();

// The admin's two-box selector (SelectFilter2.js) draws its help icons as bare <span aria-label>,
// a name that assistive technology ignores and axe reports (aria-prohibited-attr). As images
// they may carry a name. Runs after SelectFilter2's own load handler has drawn them.
window.addEventListener("load", function () {
  "use strict";
  window.setTimeout(function () {
    document.querySelectorAll("span.help-tooltip[aria-label]:not([role])").forEach(function (icon) {
      icon.setAttribute("role", "img");
    });
  }, 0);
});

// The new-case form: a PNG or JPEG carries no view, so one must be chosen before sending.
// Checked here, before the upload leaves the browser: a round trip to the server for this
// error would make the user choose the file again (browsers forget it). The server checks too.
(function () {
  "use strict";
  const form = document.querySelector("form[data-case-form]");
  if (!form) return;
  const file = form.querySelector("input[type=file][name=image]");
  const view = form.querySelector("select[name=view]");
  if (!file || !view) return;
  const message = document.createElement("div");
  message.id = "view-needed";
  message.className = "form-text text-danger";
  message.hidden = true;
  message.textContent = "Choose the view (PA, AP or lateral): a PNG or JPEG file does not say which it is.";
  view.insertAdjacentElement("afterend", message);

  function isRaster(chosen) {
    return /^image\/(png|jpeg)$/.test(chosen.type) || /\.(png|jpe?g)$/i.test(chosen.name);
  }

  function clear() {
    message.hidden = true;
    view.removeAttribute("aria-invalid");
    view.setAttribute("aria-describedby", (view.getAttribute("aria-describedby") || "").replace("view-needed", "").trim());
  }

  form.addEventListener("submit", function (event) {
    const chosen = file.files && file.files[0];
    if (!chosen || !isRaster(chosen) || view.value !== "") return;
    event.preventDefault();
    message.hidden = false;
    view.setAttribute("aria-invalid", "true");
    view.setAttribute("aria-describedby", ((view.getAttribute("aria-describedby") || "") + " view-needed").trim());
    view.focus();
  });
  view.addEventListener("change", clear);
})();

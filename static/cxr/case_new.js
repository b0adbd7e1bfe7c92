// The new-case form: a PNG or JPEG carries neither a view nor a patient number, so both must be
// given before sending. Checked here, before the upload leaves the browser: a round trip to the
// server for these errors would make the user choose the file again (browsers forget it). The
// server checks too.
(function () {
  "use strict";
  const form = document.querySelector("form[data-case-form]");
  if (!form) return;
  const file = form.querySelector("input[type=file][name=image]");
  if (!file) return;

  // Back after Submit reloads this page (it is never cached) with a new submission key, while the
  // browser puts back what was typed: sending it again would file a second case. So the key sent
  // last is kept in this tab, and a page reached with Back or Forward sends that one again; the
  // server answers it with the case already filed.
  const SENT_KEY = "cxr-sent-submission-key";
  const key = form.querySelector("input[name=submission_key]");
  const navigation = window.performance.getEntriesByType("navigation")[0];
  try {
    const sent = window.sessionStorage.getItem(SENT_KEY);
    if (key && sent && navigation && navigation.type === "back_forward") key.value = sent;
    form.addEventListener("submit", function () {  // kept even if a check below stops it: unused keys file nothing
      if (key) window.sessionStorage.setItem(SENT_KEY, key.value);
    });
  } catch (error) {
    // No storage in this browser: the server's same-image check still asks before a second case.
  }
  const NEEDED = [
    {name: "mrn", id: "mrn-needed",
     text: gettext("Enter the patient number: a PNG or JPEG file does not contain one.")},
    {name: "view", id: "view-needed",
     text: gettext("Choose the view (PA, AP or lateral): a PNG or JPEG file does not say which it is.")},
  ];

  function isRaster(chosen) {
    return /^image\/(png|jpeg)$/.test(chosen.type) || /\.(png|jpe?g)$/i.test(chosen.name);
  }

  function describedBy(field, id, on) {
    const ids = (field.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (x) {
      return x && x !== id;
    });
    if (on) ids.push(id);
    if (ids.length) field.setAttribute("aria-describedby", ids.join(" "));
    else field.removeAttribute("aria-describedby");
  }

  const checks = NEEDED.map(function (need) {
    const field = form.querySelector("[name=" + need.name + "]");
    if (!field) return null;
    const message = document.createElement("div");
    message.id = need.id;
    message.className = "form-text text-danger";
    message.hidden = true;
    message.textContent = need.text;
    field.insertAdjacentElement("afterend", message);
    function show(on) {
      message.hidden = !on;
      if (on) field.setAttribute("aria-invalid", "true");
      else field.removeAttribute("aria-invalid");
      describedBy(field, need.id, on);
    }
    field.addEventListener(field.tagName === "SELECT" ? "change" : "input", function () {
      if (field.value.trim() !== "") show(false);
    });
    return {field: field, show: show};
  }).filter(Boolean);

  form.addEventListener("submit", function (event) {
    const chosen = file.files && file.files[0];
    if (!chosen || !isRaster(chosen)) return;
    const missing = checks.filter(function (check) { return check.field.value.trim() === ""; });
    checks.forEach(function (check) { check.show(missing.includes(check)); });
    if (!missing.length) return;
    event.preventDefault();
    missing[0].field.focus();
  });
})();

// What was typed into a form marked data-keep-draft survives a lost session: it is kept in this
// tab's sessionStorage as it is typed, and when the form is shown fresh again (after logging in
// again, or after the idle logout reloaded the page) it is put back, with a note saying so. A file
// cannot be put back (browsers never let a page choose one), and the note says that too. The draft
// is dropped when the server says the form was sent (a message with data-clear-draft), when the
// person discards it, and when they log out on purpose.
(function () {
  "use strict";
  const PREFIX = "cxr-draft:";
  const KEPT = "input:not([type=hidden]):not([type=file]):not([type=submit]), textarea, select";

  function storage() {
    try {
      return window.sessionStorage;
    } catch (error) {
      return null;  // storage switched off: nothing is kept, nothing breaks
    }
  }
  const store = storage();
  if (!store) return;

  document.querySelectorAll("[data-clear-draft]").forEach(function (done) {
    store.removeItem(PREFIX + done.dataset.clearDraft);
  });
  document.querySelectorAll("form[data-logout]").forEach(function (logout) {
    logout.addEventListener("submit", function () {
      Object.keys(store).filter(function (key) { return key.startsWith(PREFIX); })
        .forEach(function (key) { store.removeItem(key); });
    });
  });

  // data-keep-only narrows what is kept (the review form keeps its note, never a finding: a choice
  // the radiologist did not see themselves make must not come back selected).
  function fieldsOf(form) {
    return Array.from(form.querySelectorAll(form.dataset.keepOnly || KEPT)).filter(function (field) {
      return field.name;
    });
  }

  function defaultOf(field) {
    if (field.tagName !== "SELECT") return field.defaultValue;
    const option = Array.from(field.options).find(function (o) { return o.defaultSelected; }) || field.options[0];
    return option ? option.value : "";
  }

  function save(form) {
    const values = {};
    fieldsOf(form).forEach(function (field) {
      if (field.type === "checkbox" || field.type === "radio") {
        if (field.checked !== field.defaultChecked && field.checked) values[field.name] = field.value;
      } else if (field.value !== "" && field.value !== defaultOf(field)) {
        values[field.name] = field.value;
      }
    });
    const key = PREFIX + form.dataset.keepDraft;
    if (Object.keys(values).length) store.setItem(key, JSON.stringify(values));
    else store.removeItem(key);
  }

  function restore(form, values) {
    fieldsOf(form).forEach(function (field) {
      if (!(field.name in values)) return;
      if (field.type === "checkbox" || field.type === "radio") field.checked = values[field.name] === field.value;
      else field.value = values[field.name];
    });
    const note = document.createElement("div");
    note.className = "alert alert-info";
    note.setAttribute("role", "status");
    note.dataset.testid = "draft-restored";
    const hasFile = form.querySelector("input[type=file]");
    note.append((hasFile ? gettext("What you typed before the session ended has been put back. Choose the image file again: " +
                                   "browsers do not keep it.")
                         : gettext("What you typed before the session ended has been put back.")) + " ");
    const discard = document.createElement("button");
    discard.type = "button";
    discard.className = "btn btn-dark btn-sm ms-1 py-0";
    discard.textContent = gettext("Discard it");
    discard.addEventListener("click", function () {
      store.removeItem(PREFIX + form.dataset.keepDraft);
      form.reset();
      note.remove();
    });
    note.append(discard);
    form.insertAdjacentElement("beforebegin", note);
  }

  document.querySelectorAll("form[data-keep-draft]").forEach(function (form) {
    const kept = store.getItem(PREFIX + form.dataset.keepDraft);
    if (kept && form.hasAttribute("data-fresh")) {
      try {
        restore(form, JSON.parse(kept));
      } catch (error) {
        store.removeItem(PREFIX + form.dataset.keepDraft);
      }
    }
    form.addEventListener("input", function () { save(form); });
    form.addEventListener("change", function () { save(form); });
    form.addEventListener("submit", function () { save(form); });
  });
})();

// The new-case form over a poor link: the film goes up in 1 MB pieces by the tus protocol (/uploads/,
// tus-js-client, vendored in static/vendor/), with its progress in bytes and percent. When the link
// drops the upload waits and goes on by itself when it is back, from the last byte the server kept;
// after a reload, choosing the same file again resumes it (tus-js-client keeps its address). The
// server files it once, through the form's own checks. A film or details those checks refuse are sent
// again as a plain form post, so that the page shows the errors on their fields as it always did.
(function () {
  "use strict";
  const form = document.querySelector("form[data-case-form]");
  if (!form || !window.tus || !window.tus.isSupported || !window.cxrOutbox) return;
  const file = form.querySelector("input[type=file][name=image]");
  const panel = document.getElementById("upload-status");
  const bar = panel.querySelector("progress");
  const text = document.getElementById("upload-text");
  const button = form.querySelector("button[type=submit]");
  const codes = JSON.parse(document.getElementById("clinic-codes").textContent);
  const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const FIELDS = ["mrn", "age", "birth_year", "sex", "view", "symptoms", "onset_date", "spo2", "notes"];
  const RETRY_SECONDS = 5;
  let plainPost = false;
  let waiting = null;

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function megabytes(bytes) {
    return (bytes / 1048576).toFixed(1);
  }

  function say(message) {
    panel.hidden = false;
    text.textContent = message;
  }

  function metadataOf(chosen) {
    const data = new FormData(form);  // a disabled field (the one clinic there is) is left out, as in a post
    const metadata = {filename: chosen.name, submission: newId()};
    FIELDS.forEach(function (name) {
      const value = data.get(name);
      if (value) metadata[name] = String(value);
    });
    if (data.get("urgent")) metadata.urgent = "true";
    const clinic = data.get("clinic");
    if (clinic && codes[clinic]) metadata.clinic = codes[clinic];
    return metadata;
  }

  function casePage(response) {
    const api = response ? response.getHeader("CXR-Case") || "" : "";
    const id = (api.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/) || [""])[0];
    return id ? form.dataset.casePage.replace("00000000-0000-0000-0000-000000000000", id) : "";
  }

  function start(chosen) {
    button.disabled = true;
    const upload = new tus.Upload(chosen, {
      endpoint: form.dataset.uploadEndpoint,
      chunkSize: 1024 * 1024,
      retryDelays: [0, 1000, 3000],
      metadata: metadataOf(chosen),
      headers: {"X-CSRFToken": csrf},
      removeFingerprintOnSuccess: true,
      onProgress: function (sent, total) {
        const percent = total ? Math.floor(sent * 100 / total) : 0;
        bar.value = percent;
        say("Sending the film: " + megabytes(sent) + " of " + megabytes(total) + " MB (" + percent + " %).");
        cxrOutbox.put(upload.options.metadata.submission, {state: "sending", sent: sent, total: total});
      },
      onSuccess: function (payload) {
        const page = casePage(payload && payload.lastResponse);
        cxrOutbox.put(upload.options.metadata.submission, {state: "filed", sent: chosen.size, case: page});
        say("Case submitted.");
        if (page) window.location.assign(page);
      },
      onError: function (error) {
        const response = error.originalResponse;
        const status = response ? response.getStatus() : 0;
        if (status >= 400 && status < 500 && status !== 409 && status !== 423 && status !== 429) {
          // Refused (the film or its details): the server's page says why, on the fields.
          cxrOutbox.put(upload.options.metadata.submission, {state: "refused"});
          plainPost = true;
          form.submit();
          return;
        }
        cxrOutbox.put(upload.options.metadata.submission, {state: "waiting"});
        say("The link is down or the server is busy: the upload goes on by itself when it is back (" +
            Math.floor(bar.value) + " % sent). Keep this page open.");
        waitAndResume(upload);
      },
    });
    window.addEventListener("cxr-outbox-closed", function () {
      window.clearTimeout(waiting);
      upload.abort();
    });
    cxrOutbox.put(upload.options.metadata.submission, {state: "sending", name: chosen.name, total: chosen.size,
                                                        sent: 0, created: new Date().toISOString()});
    upload.findPreviousUploads().then(function (previous) {
      if (previous.length) {
        // The same file, interrupted earlier (a reload, a closed browser): its submission goes on.
        const earlier = previous[0];
        cxrOutbox.remove(upload.options.metadata.submission);
        upload.options.metadata = earlier.metadata;
        upload.resumeFromPreviousUpload(earlier);
        say("Resuming the upload of " + chosen.name + " where it stopped.");
      }
      upload.start();
    });
  }

  function waitAndResume(upload) {
    if (waiting) return;
    function resume() {
      window.removeEventListener("online", resume);
      window.clearTimeout(waiting);
      waiting = null;
      upload.start();
    }
    window.addEventListener("online", resume);
    waiting = window.setTimeout(resume, (navigator.onLine ? RETRY_SECONDS : RETRY_SECONDS * 2) * 1000);
  }

  form.addEventListener("submit", function (event) {
    const chosen = file.files && file.files[0];
    if (plainPost || event.defaultPrevented || !chosen) return;  // no file: the server says what is missing
    event.preventDefault();
    start(chosen);
  });
})();

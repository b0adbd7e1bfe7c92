// The new-case form over a poor link: the film goes up by the tus protocol (/uploads/, tus-js-client,
// vendored in static/vendor/) in one request, with its progress in bytes and percent, and its SHA-256 in
// the metadata, which the server checks once the last byte is in (pieces cost the server a request
// each; it keeps the bytes that arrived before a drop, so one request resumes as well). When the link
// drops the upload waits and goes on by itself when it is back, from the last byte the server kept;
// after a reload, choosing the same file again resumes it (tus-js-client keeps its address). With no
// link at all (offline, or the server unreachable) the case is kept in this browser (static/cxr/offline_store.js) and sent from this page
// when the link is back. The server files each submission once, through the form's own checks. A film
// or details those checks refuse are sent again as a plain form post, so that the page shows the
// errors on their fields as it always did (a film captured offline: the outbox says why).
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
  const sending = {};  // submission id -> its upload, while this page sends it
  let plainPost = false;
  // A page reached with Back whose one-time key was sent already (static/cxr/case_new.js put it back):
  // posted plainly, so the server's answer names the case already filed instead of a silent replay.
  try {
    const navigation = window.performance.getEntriesByType("navigation")[0];
    const key = form.querySelector("input[name=submission_key]");
    if (navigation && navigation.type === "back_forward" && key &&
        window.sessionStorage.getItem("cxr-sent-submission-key") === key.value) plainPost = true;
  } catch (error) { /* no storage: the resumable path still files one case per key */ }
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

  // The film's SHA-256 in hex; "" where the browser cannot (no Web Crypto outside HTTPS): the server
  // then files the film unchecked, as a plain post's.
  function digestOf(chosen) {
    if (!window.crypto || !crypto.subtle || !chosen.arrayBuffer) return Promise.resolve("");
    return chosen.arrayBuffer().then(function (bytes) {
      return crypto.subtle.digest("SHA-256", bytes);
    }).then(function (digest) {
      return Array.from(new Uint8Array(digest), function (b) { return b.toString(16).padStart(2, "0"); }).join("");
    }).catch(function () { return ""; });
  }

  function metadataOf(chosen, digest) {
    const data = new FormData(form);  // a disabled field (the one clinic there is) is left out, as in a post
    // The form's one-time key (issue 27) names the submission, so Back then Submit answers with the case
    // already filed, whichever way the film went; the page asks before filing the same image again.
    const key = form.querySelector("input[name=submission_key]");
    const metadata = {filename: chosen.name, submission: key && key.value ? "form:" + key.value : newId(),
                      ask_duplicate: "true"};
    if (digest) metadata.sha256 = digest;
    if (data.get("file_again")) metadata.file_again = "true";
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

  function refusalOf(response) {
    try {
      return JSON.parse(response.getBody() || "{}").detail || "";
    } catch (error) {
      return "";
    }
  }

  // Send one film; `on` says what to do when it is filed, refused, or must wait for the link.
  function send(film, metadata, on) {
    const upload = new tus.Upload(film, {
      endpoint: form.dataset.uploadEndpoint,
      chunkSize: Infinity,  // one request: the server keeps what came if it is cut
      retryDelays: [0, 1000, 3000],
      metadata: metadata,
      headers: {"X-CSRFToken": csrf},
      removeFingerprintOnSuccess: true,
      onProgress: function (sent, total) {
        cxrOutbox.put(upload.options.metadata.submission, {state: "sending", sent: sent, total: total});
        if (on.progress) on.progress(sent, total);
      },
      onSuccess: function (payload) {
        const page = casePage(payload && payload.lastResponse);
        delete sending[upload.options.metadata.submission];
        cxrOutbox.put(upload.options.metadata.submission, {state: "filed", sent: film.size, case: page});
        on.filed(page);
      },
      onError: function (error) {
        const response = error.originalResponse;
        const status = response ? response.getStatus() : 0;
        if (status >= 400 && status < 500 && status !== 409 && status !== 423 && status !== 429) {
          delete sending[upload.options.metadata.submission];
          cxrOutbox.put(upload.options.metadata.submission, {state: "refused", reason: refusalOf(response)});
          on.refused();
          return;
        }
        cxrOutbox.put(upload.options.metadata.submission, {state: "waiting"});
        on.waiting();
        waitAndResume(upload);
      },
    });
    sending[metadata.submission] = upload;
    cxrOutbox.put(metadata.submission, {state: "sending", name: film.name, total: film.size, sent: 0,
                                        created: new Date().toISOString()});
    return upload;
  }

  function start(chosen, digest) {
    const upload = send(chosen, metadataOf(chosen, digest), {
      progress: function (sent, total) {
        const percent = total ? Math.floor(sent * 100 / total) : 0;
        bar.value = percent;
        say(interpolate(gettext("Sending the film: %(sent)s of %(total)s MB (%(percent)s %)."),
                        {sent: megabytes(sent), total: megabytes(total), percent: percent}, true));
      },
      filed: function (page) {
        say(gettext("Case submitted."));
        // The draft kept of this form (static/cxr/drafts.js) is done with, as after a plain post.
        try { window.sessionStorage.removeItem("cxr-draft:" + (form.dataset.keepDraft || "")); } catch (error) { /* none kept */ }
        if (page) window.location.assign(page);
      },
      refused: function () {
        plainPost = true;  // the server's page says why, on the fields
        form.submit();
      },
      waiting: function () {
        if (!upload.url && window.cxrOffline) {  // not even begun: keep the case here, free the form
          upload.abort();
          window.clearTimeout(waiting);
          delete sending[upload.options.metadata.submission];
          capture(chosen, upload.options.metadata);
          return;
        }
        say(interpolate(gettext("The link is down or the server is busy: the upload goes on by itself when it is back " +
                                "(%(percent)s % sent). Keep this page open."), {percent: Math.floor(bar.value)}, true));
      },
    });
    upload.findPreviousUploads().then(function (previous) {
      if (previous.length) {
        // The same file, interrupted earlier (a reload, a closed browser): its submission goes on.
        const earlier = previous[0];
        cxrOutbox.remove(upload.options.metadata.submission);
        delete sending[upload.options.metadata.submission];
        upload.options.metadata = earlier.metadata;
        sending[earlier.metadata.submission] = upload;
        upload.resumeFromPreviousUpload(earlier);
        say(interpolate(gettext("Resuming the upload of %(name)s where it stopped."), {name: chosen.name}, true));
      }
      upload.start();
    });
  }

  function capture(chosen, metadata) {
    // No link: the case waits in this browser; the form is cleared for the next one.
    window.cxrOffline.save({id: metadata.submission, film: chosen, metadata: metadata}).then(function () {
      cxrOutbox.put(metadata.submission, {state: "queued", name: chosen.name, total: chosen.size, sent: 0,
                                          created: new Date().toISOString()});
      form.reset();
      button.disabled = false;
      say(gettext("No link: the case is kept in this browser and sent from this page when the link is back. " +
                  "The outbox lists it."));
    });
  }

  function sendCaptured() {
    if (!window.cxrOffline || !navigator.onLine) return;
    window.cxrOffline.all().then(function (films) {
      (films || []).forEach(function (kept) {
        if (sending[kept.id]) return;
        send(kept.film, kept.metadata, {
          filed: function () { window.cxrOffline.remove(kept.id); },
          refused: function () { window.cxrOffline.remove(kept.id); },
          waiting: function () {},
        }).start();
      });
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
    button.disabled = true;
    digestOf(chosen).then(function (digest) {
      if (!navigator.onLine && window.cxrOffline) capture(chosen, metadataOf(chosen, digest)); else start(chosen, digest);
    });
  });
  window.addEventListener("cxr-outbox-closed", function () {
    window.clearTimeout(waiting);
    Object.values(sending).forEach(function (upload) { upload.abort(); });
  });
  window.addEventListener("online", sendCaptured);
  sendCaptured();
  window.setInterval(sendCaptured, RETRY_SECONDS * 2 * 1000);  // a link back without an "online" event
  if ("serviceWorker" in navigator && form.dataset.offlineWorker) {
    navigator.serviceWorker.register(form.dataset.offlineWorker, {scope: form.dataset.offlineScope});
  }
})();

// The review pages: an X-ray viewer (zoom, pan, window/level, invert, heatmap overlay),
// keyboard use of the signing form, and the report's print button. Plain JavaScript, no
// libraries, nothing from a CDN.
(function () {
  "use strict";

  const MIN_ZOOM = 1;
  const DEFAULT_OPACITY = 50;  // half: at full opacity the overlay hides window/level and invert
  const MAX_ZOOM = 8;
  const PAN_STEP = 40;

  function loadImage(url) {
    return new Promise(function (resolve, reject) {
      const image = new Image();
      image.onload = function () { resolve(image); };
      image.onerror = function () { reject(new Error("could not load " + url)); };
      image.src = url;
    });
  }

  function pixelsOf(image) {
    const canvas = document.createElement("canvas");
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
    const context = canvas.getContext("2d", {willReadFrequently: true});
    context.drawImage(image, 0, 0);
    return context.getImageData(0, 0, canvas.width, canvas.height);
  }

  // The worker stores the heatmap already blended over the X-ray in colour: that is drawn as it
  // is. A plain grayscale heatmap (no colour anywhere) is coloured here, transparent where cold.
  function heatmapLayer(image) {
    const data = pixelsOf(image);
    const p = data.data;
    for (let i = 0; i < p.length; i += 4) {
      if (p[i] !== p[i + 1] || p[i] !== p[i + 2]) return image;
    }
    for (let i = 0; i < p.length; i += 4) {
      const v = p[i];
      p[i] = 255;
      p[i + 1] = Math.max(0, 2 * v - 255);
      p[i + 2] = 0;
      p[i + 3] = v;
    }
    const canvas = document.createElement("canvas");
    canvas.width = data.width;
    canvas.height = data.height;
    canvas.getContext("2d").putImageData(data, 0, 0);
    return canvas;
  }

  function Viewer(root) {
    this.root = root;
    this.canvas = root.querySelector("canvas");
    this.context = this.canvas.getContext("2d");
    this.status = root.querySelector(".viewer-status");
    this.legend = root.querySelector(".heatmap-legend");
    this.said = "";
    this.controls = {
      window: root.querySelector("input[name=window]"),
      level: root.querySelector("input[name=level]"),
      invert: root.querySelector("input[name=invert]"),
      heatmap: root.querySelector("input[name=heatmap]"),
      opacity: root.querySelector("input[name=opacity]"),
    };
    this.reset();
  }

  Viewer.prototype.reset = function () {
    this.zoom = 1;
    this.panX = 0;
    this.panY = 0;
    this.controls.window.value = 255;
    this.controls.level.value = 128;
    this.controls.invert.checked = false;
    if (this.controls.heatmap) {
      this.controls.heatmap.checked = false;
      this.controls.opacity.value = DEFAULT_OPACITY;
    }
    this.describeSliders();
  };

  // What a screen reader says for each slider: its meaning, not a bare number.
  Viewer.prototype.describeSliders = function () {
    const c = this.controls;
    c.window.setAttribute("aria-valuetext", "width " + c.window.value);
    c.level.setAttribute("aria-valuetext", "centre " + c.level.value);
    if (c.opacity) c.opacity.setAttribute("aria-valuetext", c.opacity.value + "%");
  };

  Viewer.prototype.start = async function () {
    const image = await loadImage(this.root.dataset.imageUrl);
    this.source = pixelsOf(image);
    this.canvas.width = this.source.width;
    this.canvas.height = this.source.height;
    this.windowed = document.createElement("canvas");
    this.windowed.width = this.source.width;
    this.windowed.height = this.source.height;
    if (this.root.dataset.heatmapUrl) {
      this.heatmap = heatmapLayer(await loadImage(this.root.dataset.heatmapUrl));
    }
    this.applyWindow();
    this.bind();
    this.root.dataset.ready = "true";
  };

  // Window/level as a lookup table over the 8-bit gray values, then invert if asked.
  Viewer.prototype.applyWindow = function () {
    const width = Number(this.controls.window.value);
    const level = Number(this.controls.level.value);
    const invert = this.controls.invert.checked;
    const table = new Uint8ClampedArray(256);
    for (let v = 0; v < 256; v++) {
      const out = ((v - (level - width / 2)) / width) * 255;
      table[v] = invert ? 255 - out : out;
    }
    const out = new ImageData(this.source.width, this.source.height);
    const src = this.source.data;
    const dst = out.data;
    for (let i = 0; i < src.length; i += 4) {
      const v = table[src[i]];
      dst[i] = v;
      dst[i + 1] = v;
      dst[i + 2] = v;
      dst[i + 3] = 255;
    }
    this.windowed.getContext("2d").putImageData(out, 0, 0);
    this.draw();
  };

  Viewer.prototype.draw = function () {
    const c = this.context;
    const w = this.canvas.width;
    const h = this.canvas.height;
    c.setTransform(1, 0, 0, 1, 0, 0);
    c.fillStyle = "#000";
    c.fillRect(0, 0, w, h);
    c.setTransform(this.zoom, 0, 0, this.zoom, w / 2 * (1 - this.zoom) + this.panX, h / 2 * (1 - this.zoom) + this.panY);
    c.drawImage(this.windowed, 0, 0);
    const showHeatmap = this.heatmap && this.controls.heatmap.checked;
    if (showHeatmap) {
      c.globalAlpha = Number(this.controls.opacity.value) / 100;
      c.drawImage(this.heatmap, 0, 0, w, h);
      c.globalAlpha = 1;
    }
    this.root.dataset.heatmapShown = showHeatmap ? "true" : "false";
    if (this.legend) this.legend.hidden = !showHeatmap;
    // The live region changes only when zoom or the heatmap does: not on every pan or slider step.
    const message = "Zoom " + this.zoom.toFixed(1) + "×" + (showHeatmap ? ", heatmap on" : "");
    if (this.status && message !== this.said) {
      this.status.textContent = message;
      this.said = message;
    }
  };

  Viewer.prototype.zoomBy = function (factor) {
    this.zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.zoom * factor));
    if (this.zoom === MIN_ZOOM) {
      this.panX = 0;
      this.panY = 0;
    }
    this.draw();
  };

  Viewer.prototype.panBy = function (dx, dy) {
    this.panX += dx;
    this.panY += dy;
    this.draw();
  };

  // Canvas pixels per CSS pixel, so a drag moves the image with the pointer at any display size.
  Viewer.prototype.scale = function () {
    return this.canvas.width / this.canvas.getBoundingClientRect().width;
  };

  Viewer.prototype.bind = function () {
    const viewer = this;
    const controls = this.controls;
    this.root.querySelectorAll("[data-action]").forEach(function (button) {
      button.addEventListener("click", function () {
        const action = button.dataset.action;
        if (action === "zoom-in") viewer.zoomBy(1.25);
        if (action === "zoom-out") viewer.zoomBy(0.8);
        if (action === "reset") { viewer.reset(); viewer.applyWindow(); }
      });
    });
    [controls.window, controls.level, controls.invert].forEach(function (input) {
      input.addEventListener("input", function () { viewer.describeSliders(); viewer.applyWindow(); });
    });
    [controls.heatmap, controls.opacity].forEach(function (input) {
      if (input) input.addEventListener("input", function () { viewer.describeSliders(); viewer.draw(); });
    });

    let drag = null;
    this.canvas.addEventListener("pointerdown", function (event) {
      drag = {x: event.clientX, y: event.clientY};
      viewer.canvas.setPointerCapture(event.pointerId);
    });
    this.canvas.addEventListener("pointermove", function (event) {
      if (!drag) return;
      const s = viewer.scale();
      viewer.panBy((event.clientX - drag.x) * s, (event.clientY - drag.y) * s);
      drag = {x: event.clientX, y: event.clientY};
    });
    this.canvas.addEventListener("pointerup", function () { drag = null; });
    this.canvas.addEventListener("wheel", function (event) {
      event.preventDefault();
      viewer.zoomBy(event.deltaY < 0 ? 1.1 : 1 / 1.1);
    }, {passive: false});

    this.canvas.addEventListener("keydown", function (event) {
      const keys = {
        "ArrowLeft": function () { viewer.panBy(PAN_STEP, 0); },
        "ArrowRight": function () { viewer.panBy(-PAN_STEP, 0); },
        "ArrowUp": function () { viewer.panBy(0, PAN_STEP); },
        "ArrowDown": function () { viewer.panBy(0, -PAN_STEP); },
        "+": function () { viewer.zoomBy(1.25); },
        "=": function () { viewer.zoomBy(1.25); },
        "-": function () { viewer.zoomBy(0.8); },
        "0": function () { viewer.reset(); viewer.applyWindow(); },
        "i": function () { controls.invert.checked = !controls.invert.checked; viewer.applyWindow(); },
        "h": function () { if (controls.heatmap) { controls.heatmap.checked = !controls.heatmap.checked; viewer.draw(); } },
      };
      if (keys[event.key] && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        keys[event.key]();
      }
    });
  };

  // Signing: nothing is chosen in advance and the button names the finding chosen ("Sign: Normal"),
  // so agreeing with the AI is never one key away. The note is required to override a suggestion
  // (not for "image not usable", nor when there is no suggestion). Keys 1-5 pick the finding and
  // Ctrl+Enter submits the finding chosen; with none chosen the browser's own check refuses, and
  // focus goes to the findings. The keys act only while focus is in the form (WCAG 2.1.4: a 3 typed
  // on the Level slider must not change the finding), never in its text field, and never move focus.
  function bindReviewForm(form) {
    const button = form.querySelector("button[type=submit]");
    const note = form.querySelector("textarea[name=note]");
    const radios = Array.from(form.querySelectorAll("input[name=finding]"));
    const predicted = form.dataset.predicted || "";

    function chosen() { return radios.find(function (radio) { return radio.checked; }); }

    function nameOf(radio) {  // the label without its "1. " key and "(AI suggestion)" mark
      const label = form.querySelector("label[for='" + radio.id + "']");
      return label.firstChild.textContent.replace(/^\s*\d+\.\s*/, "").trim();
    }

    function update() {
      const choice = chosen();
      const override = Boolean(choice && predicted && choice.value !== predicted &&
                               choice.value !== form.dataset.unusable);
      if (note) note.required = override;
      button.textContent = choice ? button.dataset.chosenText.replace("{finding}", nameOf(choice))
                                  : button.dataset.emptyText;
      button.classList.toggle("btn-warning", override);
      button.classList.toggle("btn-primary", !override);
    }

    radios.forEach(function (radio) { radio.addEventListener("change", update); });
    form.addEventListener("keydown", function (event) {
      const typing = event.target.closest("textarea, input[type=text], select");
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        if (!chosen()) {
          form.reportValidity();  // says "select one of these options" at the findings
          return;
        }
        form.requestSubmit();
        return;
      }
      if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
      const radio = radios.find(function (r) { return r.dataset.key === event.key; });
      if (radio) {
        event.preventDefault();
        radio.checked = true;
        update();
      }
    });
    update();
  }

  const root = document.getElementById("viewer");
  if (root) {
    new Viewer(root).start().catch(function (error) {
      const status = root.querySelector(".viewer-status");
      if (status) status.textContent = "The image could not be loaded.";
      root.dataset.ready = "error";
      throw error;
    });
  }
  ["review-form", "impression-form"].forEach(function (id) {
    const form = document.getElementById(id);
    if (form) bindReviewForm(form);
  });
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();

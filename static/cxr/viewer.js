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

  // The worker stores the class map at the network's resolution (a small grayscale PNG): it is
  // scaled here to the film exactly as the server scales it for the burned-in composite (Pillow's
  // bilinear filter, same fixed-point arithmetic), then coloured with the composite's colour map
  // (red to yellow, 60 % opaque at the hottest: cases/classification/images.py). A prediction
  // stored before that names the composite itself (colour): that is drawn as it is.
  const HOTTEST_OPACITY = 0.6;
  const PRECISION_BITS = 22;

  // Pillow's precompute_coeffs and normalize_coeffs_8bpc (src/libImaging/Resample.c), bilinear.
  function resampleCoefficients(inSize, outSize) {
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1);
    const support = filterScale;
    const taps = [];
    for (let xx = 0; xx < outSize; xx++) {
      const center = (xx + 0.5) * scale;
      const xmin = Math.max(0, Math.trunc(center - support + 0.5));
      const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
      const weights = [];
      let total = 0;
      for (let x = 0; x < xmax; x++) {
        const w = Math.max(0, 1 - Math.abs((x + xmin - center + 0.5) * (1 / filterScale)));
        weights.push(w);
        total += w;
      }
      const fixed = weights.map(function (w) {
        const k = total !== 0 ? w / total : w;
        return Math.trunc((k < 0 ? -0.5 : 0.5) + k * (1 << PRECISION_BITS));
      });
      taps.push({start: xmin, weights: fixed});
    }
    return taps;
  }

  function clip8(sum) {
    if (sum >= (1 << PRECISION_BITS) * 256) return 255;
    if (sum <= 0) return 0;
    return Math.floor(sum / (1 << PRECISION_BITS));
  }

  // Horizontal pass first, then vertical, each rounded to 8 bits: as Pillow does.
  function resizeMap(values, width, height, outWidth, outHeight) {
    const across = resampleCoefficients(width, outWidth);
    const down = resampleCoefficients(height, outHeight);
    const half = 1 << (PRECISION_BITS - 1);
    const rows = new Uint8ClampedArray(outWidth * height);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < outWidth; x++) {
        const tap = across[x];
        let sum = half;
        for (let i = 0; i < tap.weights.length; i++) sum += values[y * width + tap.start + i] * tap.weights[i];
        rows[y * outWidth + x] = clip8(sum);
      }
    }
    const out = new Uint8ClampedArray(outWidth * outHeight);
    for (let y = 0; y < outHeight; y++) {
      const tap = down[y];
      for (let x = 0; x < outWidth; x++) {
        let sum = half;
        for (let i = 0; i < tap.weights.length; i++) sum += rows[(tap.start + i) * outWidth + x] * tap.weights[i];
        out[y * outWidth + x] = clip8(sum);
      }
    }
    return out;
  }

  function heatmapLayer(image, width, height) {
    const data = pixelsOf(image);
    const p = data.data;
    for (let i = 0; i < p.length; i += 4) {
      if (p[i] !== p[i + 1] || p[i] !== p[i + 2]) return image;
    }
    const values = new Uint8ClampedArray(p.length / 4);
    for (let i = 0; i < values.length; i++) values[i] = p[4 * i];
    const heat = resizeMap(values, data.width, data.height, width, height);
    const layer = new ImageData(width, height);
    const q = layer.data;
    for (let i = 0; i < heat.length; i++) {
      q[4 * i] = 255;
      q[4 * i + 1] = heat[i];
      q[4 * i + 2] = 0;
      q[4 * i + 3] = Math.round(HOTTEST_OPACITY * heat[i]);
    }
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    canvas.getContext("2d").putImageData(layer, 0, 0);
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
    c.window.setAttribute("aria-valuetext", interpolate(gettext("width %(width)s"), {width: c.window.value}, true));
    c.level.setAttribute("aria-valuetext", interpolate(gettext("centre %(centre)s"), {centre: c.level.value}, true));
    if (c.opacity) c.opacity.setAttribute("aria-valuetext", interpolate(gettext("%(opacity)s%"), {opacity: c.opacity.value}, true));
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
      this.heatmap = heatmapLayer(await loadImage(this.root.dataset.heatmapUrl), this.source.width,
                                  this.source.height);
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
    const zoom = {zoom: this.zoom.toFixed(1)};
    const message = interpolate(showHeatmap ? gettext("Zoom %(zoom)s×, heatmap on") : gettext("Zoom %(zoom)s×"), zoom, true);
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
      if (status) status.textContent = gettext("The image could not be loaded.");
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

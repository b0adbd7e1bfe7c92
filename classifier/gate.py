"""The input gate: is this a whole frontal chest radiograph, the only thing the classifier knows?

The worker runs `check(pixels)` on every image before a suggestion is used; nine 512 x 512
noise images were each called COVID-19 at 99.9 % before it existed. Three kinds of signal,
cheapest first, each with its threshold in the gate file's sidecar JSON (`<gate>.json`,
fitted on validation data at training time, so the gate served is the gate evaluated):

1. rules on the pixels: too small, blank (one flat shade), per-pixel noise; then whether the film
   is upside down (a logistic regression on a thumbnail, weights in the sidecar's `orientation`);
2. a small network that tells frontal chest films from the refused kinds (its classes are
   the reasons below), refusing when its chest probability is under the threshold;
3. a distance score: the Mahalanobis distance of the network's embedding from the chest
   training films, computed inside the LiteRT graph; far away means unlike anything seen.

LiteRT only: no TensorFlow and no Django here.
"""

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifier.artifacts import COMMITTED_GATE, ModelFileError
from classifier.preprocessing import Pixels, as_picture, shape_of, to_model_input
from classifier.texts import gettext_noop

CHEST = "chest"

# Reason codes, in the order the checks run, with what clinic staff are told (in English: pages translate
# them, cases/words.py).
REASONS = {
    "too_small": gettext_noop("The image is too small to read: it needs at least 128 pixels on each side."),
    "blank": gettext_noop("The image is blank: one flat shade with nothing to see."),
    "not_radiograph": gettext_noop(
        "This does not look like a radiograph (a photograph, document, screenshot or noise)."),
    "not_chest": gettext_noop("This looks like a radiograph of another part of the body, not of the chest."),
    "not_frontal": gettext_noop(
        "This looks like a side (lateral) view of the chest; the classifier needs the frontal (PA or AP) film."),
    "other_modality": gettext_noop(
        "This looks like another kind of medical image (CT, MRI, ultrasound or similar), not a chest radiograph."),
    "inverted": gettext_noop(
        "The image looks inverted (bones dark, lungs light); upload it in its original grey scale."),
    "lungs_cut_off": gettext_noop("The lungs look cut off: upload the whole film, both lungs from top to bottom."),
    "rotated_or_flipped": gettext_noop(
        "The image looks rotated or flipped (upside down): upload the film upright, as it is read, neck at the top."),
    "out_of_distribution": gettext_noop(
        "This image is unlike the chest films the classifier was trained on, so it gives no suggestion."),
}
# The network's classes: "chest" and the reasons it can give.
NETWORK_CLASSES = (CHEST, "not_radiograph", "not_chest", "not_frontal", "other_modality", "inverted",
                   "lungs_cut_off")


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reason: str | None  # a key of REASONS when not passed
    scores: dict[str, float]
    version: str

    @property
    def reason_text(self) -> str:
        return REASONS[self.reason] if self.reason else ""


def gate_input(pixels: Pixels, size: int) -> np.ndarray:
    """The one preprocessing path of the gate (training and serving): `to_model_input`, after a
    box reduction of large uploads.

    A 2500-pixel film costs 7 ms to resize to 96 px with a bilinear filter and 1.5 ms when first
    box-reduced by an integer factor; images up to 4 x size (all the training images) are
    not reduced, so training sees exactly `to_model_input`.
    """
    factor = min(shape_of(pixels)) // (2 * size)
    if factor >= 2:
        pixels = as_picture(pixels).reduce(factor)
    return to_model_input(pixels, size)


def rule_scores(pixels: Pixels, x: np.ndarray) -> dict[str, float]:
    """Pixel statistics for the rules: shortest side, contrast (gray levels), neighbour correlation.

    Measured on the gate's input `x`: noise stays uncorrelated between neighbouring pixels
    after downscaling (chest films measure above 0.88, per-pixel noise about 0.25).
    """
    levels = x[..., 0].astype(np.float64) * 255
    return {"min_side": float(min(shape_of(pixels))), "contrast": float(levels.std()),
            "neighbour_correlation": float(np.mean([_correlation(levels[:, 1:], levels[:, :-1]),
                                                    _correlation(levels[1:], levels[:-1])]))}


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else 1.0  # flat: no noise either


# The rule checks, in order: (reason, refused?) on the scores and thresholds.
RULES = {
    "too_small": lambda scores, thresholds: scores["min_side"] < thresholds["min_side"],
    "blank": lambda scores, thresholds: scores["contrast"] < thresholds["blank_contrast"],
    "not_radiograph": lambda scores, thresholds: scores["neighbour_correlation"] < thresholds["noise_correlation"],
}


ORIENTATION_CELL = 4  # block size on the gate's input: 96 px -> a 24 x 24 thumbnail


def orientation_features(x: np.ndarray) -> np.ndarray:
    """The upside-down check's features from the gate's input x (size, size, 1): 4 x 4 block means,
    standardised per film, so exposure and contrast do not count, only where bright and dark lie."""
    image = np.asarray(x, dtype=np.float64)[..., 0]
    cells = image.shape[0] // ORIENTATION_CELL
    blocks = image[:cells * ORIENTATION_CELL, :cells * ORIENTATION_CELL].reshape(
        cells, ORIENTATION_CELL, cells, ORIENTATION_CELL).mean(axis=(1, 3)).ravel()
    return (blocks - blocks.mean()) / (blocks.std() + 1e-6)


def upside_down_probability(features: np.ndarray, orientation: dict) -> float:
    logit = float(np.dot(features, np.asarray(orientation["weights"], dtype=np.float64)) + orientation["bias"])
    return float(1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50))))


def decide(scores: dict[str, float], thresholds: dict[str, float]) -> tuple[bool, str | None]:
    """Passed or not, and the first reason, in REASONS order; the same function fits thresholds."""
    for reason, refuses in RULES.items():
        if refuses(scores, thresholds):
            return False, reason
    # Before the network: an upside-down chest film is told so, not called "not a chest film"; but only
    # when, turned back, the network sees a chest (a document is told it is not a radiograph).
    if (scores.get("upside_down", 0.0) > thresholds.get("upside_down", float("inf"))
            and scores.get("turned_back_chest", 0.0) >= thresholds["chest_probability"]):
        return False, "rotated_or_flipped"
    if scores[CHEST] < thresholds["chest_probability"]:
        return False, max(NETWORK_CLASSES[1:], key=lambda name: scores[name])
    if scores["ood_distance"] > thresholds["ood_distance"]:
        return False, "out_of_distribution"
    return True, None


def read_gate_metadata(gate_path: str | Path) -> dict:
    return json.loads(Path(f"{gate_path}.json").read_text())


class Gate:
    """One LiteRT interpreter for a gate file, with its sidecar's version and thresholds."""

    def __init__(self, path: str | Path):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self.metadata = read_gate_metadata(self.path)
        self.version = self.metadata["version"]
        self.thresholds = self.metadata["thresholds"]
        self.classes = tuple(self.metadata["classes"])
        self.orientation = self.metadata.get("orientation")  # older gate files: no upside-down check
        # One thread: the network costs well under a millisecond, and the classifier needs the cores.
        self._runner = Interpreter(model_path=str(self.path), num_threads=1).get_signature_runner()
        self.input_size = int(self.metadata["input_size"])
        self._lock = threading.Lock()  # an interpreter must not run two inferences at once

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        with self._lock:
            return self._runner(pixels=np.ascontiguousarray(x, dtype=np.float32))

    def scores(self, pixels: Pixels) -> dict[str, float]:
        x = gate_input(pixels, self.input_size)
        outputs = self.run(x[np.newaxis])
        network = {name: float(p) for name, p in zip(self.classes, outputs["probabilities"][0])}
        return {**rule_scores(pixels, x), **self._orientation_scores(x), **network,
                "ood_distance": float(outputs["ood_distance"][0])}

    def _orientation_scores(self, x: np.ndarray) -> dict[str, float]:
        """How likely the film is upside down and, only if it may be (a second run of the network,
        on about 1 % of chest films), how much of a chest it is once turned back."""
        if not self.orientation:
            return {}
        upside_down = upside_down_probability(orientation_features(x), self.orientation)
        if upside_down <= self.thresholds.get("upside_down", float("inf")):
            return {"upside_down": upside_down}
        turned = self.run(np.rot90(x, 2)[np.newaxis])["probabilities"][0][self.classes.index(CHEST)]
        return {"upside_down": upside_down, "turned_back_chest": float(turned)}

    def check(self, pixels: Pixels) -> GateResult:
        scores = self.scores(pixels)
        passed, reason = decide(scores, self.thresholds)
        return GateResult(passed=passed, reason=reason, scores=scores, version=self.version)


_gates: dict[Path, Gate] = {}
_gates_lock = threading.Lock()


def get_gate(gate_path: str | Path = COMMITTED_GATE) -> Gate:
    """The process-wide gate for a file, loaded on first use; ModelFileError when it does not load."""
    path = Path(gate_path)
    with _gates_lock:
        if path not in _gates:
            try:
                _gates[path] = Gate(path)
            except Exception as error:  # noqa: BLE001 - the gate is a model too: its fault, not the image's
                raise ModelFileError(f"the input gate file {path.name} could not be loaded") from error
        return _gates[path]


def check(pixels: Pixels, *, gate_path: str | Path = COMMITTED_GATE) -> GateResult:
    """Gate 8-bit grayscale pixels (any size, as `decode_image(...).pixels` or `load_picture` gives)."""
    return get_gate(gate_path).check(pixels)

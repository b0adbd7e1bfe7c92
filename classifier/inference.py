"""Serving: a LiteRT model loaded once per process, lazily; TensorFlow is never imported here.

A library with no Django: the caller says which model file to run
(`classify(pixels, model_path=...)`; the worker asks `classifier.registry.served_version()`).
Each model file has a sidecar `<file>.json` (name, architecture, labels, temperature) written
at training time; the temperature is also baked into the LiteRT graph. The operating point
(`decision_weights`) and the uncertain band (`uncertain_band`) are read from the sidecar, so they
can be refitted on validation without retraining (`fit_operating_point`).
"""

import threading
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from classifier import operating_point
from classifier.artifacts import ModelFileError, file_sha256, read_metadata
from classifier.labels import COVID
from classifier.preprocessing import Pixels, shape_of, to_model_input

OCCLUSION_GRID = 8


@dataclass(frozen=True)
class ClassificationResult:
    label: str
    probabilities: dict[str, float]
    class_map: np.ndarray  # uint8, the class map at the network's own resolution (min-max scaled)
    shape: tuple[int, ...]  # of the classified pixels
    model_name: str
    model_sha256: str
    model_file: str
    architecture: str
    inference_ms: float
    uncertain: bool = False  # inside the sidecar's uncertain band: no label suggestion, no priority
    covid_word: str = ""  # "likely" / "possible" / "unlikely" by the sidecar's bands ("" without them)

    @property
    def heatmap(self) -> np.ndarray:
        """The class map resized to the classified pixels (uint8): made on request, since the worker
        stores the small map and only a flat picture (cases/classification/images.py) needs this."""
        return resized_map(self.class_map, self.shape)


class Predictor:
    """One LiteRT interpreter and what is known about its model file."""

    def __init__(self, path: str | Path, *, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self.metadata = read_metadata(self.path)
        self.labels = tuple(self.metadata["labels"])
        self._interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads)
        self._runner = self._interpreter.get_signature_runner()
        self.input_size = int(self._interpreter.get_input_details()[0]["shape"][1])
        self.has_cam = "cams" in self._runner.get_output_details()
        # Part of the model: trained with it, served with it (older sidecars: without).
        self.equalise = bool(self.metadata.get("histogram_equalisation", False))
        # The sidecar's operating point wins over the weights baked into older graphs' decision scores.
        self.decision_weights = self.metadata.get("decision_weights")
        self.uncertain_margin = (self.metadata.get("uncertain_band") or {}).get("margin")
        self.covid_words = self.metadata.get("covid_words")
        self._lock = threading.Lock()  # an interpreter must not run two inferences at once

    @cached_property
    def sha256(self) -> str:
        return file_sha256(self.path)

    def signature(self) -> tuple[dict, dict]:
        """The model's inputs and outputs by name, with their shapes."""
        return self._runner.get_input_details(), self._runner.get_output_details()

    def run(self, x: np.ndarray) -> dict[str, np.ndarray]:
        with self._lock:
            return self._runner(pixels=np.ascontiguousarray(x, dtype=np.float32))

    def probabilities(self, x: np.ndarray, batch_size: int = 32) -> np.ndarray:
        return self.predict(x, batch_size)[0]

    def predict(self, x: np.ndarray, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated probabilities and predicted label indices (the model's operating point)."""
        outputs = self.outputs(x, batch_size)
        return outputs["probabilities"], self.decide(outputs)

    def outputs(self, x: np.ndarray, batch_size: int = 32) -> dict[str, np.ndarray]:
        """Every output of the model file (probabilities, decision scores, cams) for a batch of inputs."""
        parts = [self.run(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}

    def decide(self, outputs: dict[str, np.ndarray]) -> np.ndarray:
        """The label indices of the model's operating point, from its outputs."""
        if self.decision_weights is not None:
            return operating_point.decide(outputs["probabilities"], self.decision_weights)
        return outputs.get("decision_scores", outputs["probabilities"]).argmax(axis=-1)

    def uncertain(self, probabilities: np.ndarray) -> np.ndarray:
        """Per row: inside the sidecar's uncertain band (never, for a sidecar without one)."""
        return operating_point.in_band(probabilities, self.decision_weights or [1.0] * len(self.labels),
                                       self.uncertain_margin)

    def classify(self, pixels: Pixels) -> ClassificationResult:
        started = time.perf_counter()
        x = to_model_input(pixels, self.input_size, equalise=self.equalise)[np.newaxis]
        outputs = self.run(x)
        probabilities = outputs["probabilities"][0]
        best = int(self.decide(outputs)[0])
        cam = outputs["cams"][0, :, :, best] if self.has_cam else self._occlusion_map(x[0], best, probabilities[best])
        return ClassificationResult(
            label=self.labels[best],
            probabilities={label: float(p) for label, p in zip(self.labels, probabilities)},
            class_map=class_map(cam),
            shape=shape_of(pixels),
            model_name=self.metadata["name"],
            model_sha256=self.sha256,
            model_file=str(self.path),
            architecture=self.metadata["architecture"],
            inference_ms=(time.perf_counter() - started) * 1000,
            uncertain=bool(self.uncertain(probabilities[np.newaxis])[0]),
            covid_word=operating_point.covid_word(float(probabilities[self.labels.index(COVID)]), self.covid_words),
        )

    def _occlusion_map(self, x: np.ndarray, best: int, score: float) -> np.ndarray:
        """For networks without CAM: how much hiding each cell lowers the predicted class."""
        cell = -(-self.input_size // OCCLUSION_GRID)
        occluded = np.repeat(x[np.newaxis], OCCLUSION_GRID * OCCLUSION_GRID, axis=0)
        for index in range(len(occluded)):
            row, column = divmod(index, OCCLUSION_GRID)
            occluded[index, row * cell:(row + 1) * cell, column * cell:(column + 1) * cell] = x.mean()
        drops = score - self.probabilities(occluded)[:, best]
        return drops.reshape(OCCLUSION_GRID, OCCLUSION_GRID)


def heatmap_image(cam: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Min-max scale a class map to 0..255 and resize it (bilinear) to the image's shape."""
    return resized_map(class_map(cam), shape)


def class_map(cam: np.ndarray) -> np.ndarray:
    """A class map min-max scaled to 0..255 (uint8), at its own resolution."""
    cam = np.asarray(cam, dtype=np.float32)
    span = float(cam.max() - cam.min())
    scaled = (cam - cam.min()) / span if span > 0 else np.zeros_like(cam)
    return np.rint(scaled * 255).astype(np.uint8)


def resized_map(small: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A uint8 class map resized (bilinear, pixel centres aligned) to an image's shape. The review
    page's viewer (static/cxr/viewer.js) interpolates the same way."""
    image = Image.fromarray(np.ascontiguousarray(small, dtype=np.uint8))
    return np.asarray(image.resize((shape[1], shape[0]), Image.Resampling.BILINEAR), dtype=np.uint8)


_predictors: dict[Path, Predictor] = {}
_predictors_lock = threading.Lock()


def get_predictor(model_path: str | Path) -> Predictor:
    """The process-wide predictor for a model file, created on first use.

    A file that does not load (missing on this machine, replaced, corrupt) raises ModelFileError:
    the model's fault, never the image's. Nothing is kept, so the next call tries again.
    """
    path = Path(model_path)
    with _predictors_lock:
        if path not in _predictors:
            try:
                _predictors[path] = Predictor(path)
            except Exception as error:  # noqa: BLE001 - LiteRT raises ValueError, RuntimeError, OSError ...
                raise ModelFileError("the model file could not be loaded") from error
        return _predictors[path]


def classify(pixels: Pixels, *, model_path: str | Path) -> ClassificationResult:
    """Classify 8-bit grayscale pixels (an array or a picture) with the given model file."""
    return get_predictor(model_path).classify(pixels)

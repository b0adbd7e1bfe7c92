"""Checks a model file must pass before it is registered: it loads, it matches its sidecar, and it
gives a sane answer on a few films made here.

A file that LiteRT cannot load, whose sidecar lists other labels or another input size, or whose
probabilities are not finite or do not sum to one would otherwise be registered, put on trial and
even activated, and then fail every case in the worker. Serving side: LiteRT only, no Django.
"""

import json
from pathlib import Path

import numpy as np

from classifier.artifacts import ModelFileError
from classifier.labels import LABELS

PROBABILITY_TOLERANCE = 1e-3  # float32 softmax sums to 1 within a few ulps; anything further is a broken graph


def fixture_films() -> list[np.ndarray]:
    """Films of the shapes the worker meets, made here so no data is needed: a chest-like film
    (two dark lungs on a bright body), a smooth gradient, a wide film and noise."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:1:320j, 0:1:256j]
    lungs = ((((x - 0.3) / 0.15) ** 2 + ((y - 0.5) / 0.3) ** 2 < 1)
             | (((x - 0.7) / 0.15) ** 2 + ((y - 0.5) / 0.3) ** 2 < 1))
    chest = np.clip(180 - 90 * lungs + rng.normal(0, 8, lungs.shape), 0, 255)
    gradient = np.tile(np.linspace(0, 255, 300), (200, 1))
    wide = np.clip(120 + 60 * np.sin(np.mgrid[0:200, 0:700][1] / 40), 0, 255)
    noise = rng.integers(0, 256, (512, 512))
    return [np.asarray(film, dtype=np.uint8) for film in (chest, gradient, wide, noise)]


def read_sidecar(path: Path) -> dict:
    sidecar = Path(f"{path}.json")
    if not sidecar.is_file():
        raise ModelFileError(f"there is no sidecar {sidecar.name} beside it: the sidecar written at training time "
                             "names the model, its architecture and its labels")
    try:
        metadata = json.loads(sidecar.read_text())
    except (ValueError, UnicodeDecodeError):
        raise ModelFileError(f"its sidecar {sidecar.name} is not valid JSON") from None
    if not isinstance(metadata, dict):
        raise ModelFileError(f"its sidecar {sidecar.name} is not a JSON object")
    for key in ("name", "architecture"):
        if not isinstance(metadata.get(key), str) or not metadata[key].strip():
            raise ModelFileError(f"its sidecar {sidecar.name} gives no {key}")
    labels = metadata.get("labels", list(LABELS))
    if list(labels) != list(LABELS):
        raise ModelFileError(f"its sidecar lists the labels {', '.join(map(str, labels))}; the classifier's are "
                             f"{', '.join(LABELS)}, in this order")
    return metadata


def load(path: Path):
    from classifier.inference import Predictor  # the serving class itself, so what passes here is what serves

    try:
        predictor = Predictor(path, num_threads=1)
    except Exception:  # noqa: BLE001 - whatever the runtime says, the answer is the same
        raise ModelFileError("LiteRT cannot load it: it is not a valid LiteRT model file") from None
    inputs, outputs = predictor.signature()
    shape = list(inputs["pixels"]["shape"]) if "pixels" in inputs else []
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 1:
        raise ModelFileError("its input is not one square grayscale film named 'pixels'")
    if "probabilities" not in outputs or list(outputs["probabilities"]["shape"])[-1] != len(LABELS):
        raise ModelFileError(f"it does not output {len(LABELS)} probabilities named 'probabilities'")
    return predictor


def validate_model_file(path: str | Path) -> dict:
    """Raise ModelFileError with the reason when the file must not be registered; its sidecar otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"there is no model file at {path}")
    metadata = read_sidecar(path)
    predictor = load(path)
    size = metadata.get("input_size")
    if size is not None and size != predictor.input_size:
        raise ModelFileError(f"its sidecar gives the input size {size} px, but the model takes "
                             f"{predictor.input_size} px")
    for number, film in enumerate(fixture_films(), start=1):
        try:
            result = predictor.classify(film)
        except Exception:  # noqa: BLE001
            raise ModelFileError(f"it could not classify test film {number}") from None
        probabilities = np.array([result.probabilities[label] for label in LABELS])
        if not np.all(np.isfinite(probabilities)) or probabilities.min() < 0 or probabilities.max() > 1:
            raise ModelFileError(f"its probabilities for test film {number} are not all between 0 and 1")
        if abs(probabilities.sum() - 1) > PROBABILITY_TOLERANCE:
            raise ModelFileError(f"its probabilities for test film {number} add up to {probabilities.sum():.4f}, "
                                 "not 1")
        if result.class_map.ndim != 2 or result.class_map.size == 0 or result.shape != film.shape:
            raise ModelFileError(f"its heatmap for test film {number} does not cover the film")
    return metadata

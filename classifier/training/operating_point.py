"""Fitting the served model's operating point and uncertain band on validation films (issue 25).

The rules are written in SELECTION_RULES.md before they were computed; this module is those rules,
run through the serving path (the LiteRT `Predictor`, one thread) on validation films only.
"""

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classifier import operating_point
from classifier.artifacts import SHARED_DATASETS_DIR
from classifier.inference import Predictor
from classifier.labels import COVID, LABELS, NORMAL
from classifier.training.data import Record, load_arrays, read_records, read_split, split_records
from classifier.training.evaluation import ADULT_NORMAL_SOURCES

WEIGHT_GRID = np.round(np.arange(0.50, 2.0001, 0.05), 2)
MAX_ADULT_NORMALS_CALLED_COVID = 0.15
MARGIN_GRID = np.round(np.arange(0.0, 3.0001, 0.05), 2)
MIN_ACCURACY_OUTSIDE_BAND = 0.97
MAX_SHARE_IN_BAND = 0.20
WORD_GRID = np.round(np.arange(0.01, 0.99001, 0.01), 2)
MIN_COVID_SHARE_LIKELY = 0.90
MAX_COVID_SHARE_UNLIKELY = 0.02
EXTRA_SPLIT_SEED = 42  # the classifier's --extra-data split of cxr-extra


@dataclass(frozen=True)
class ValidationSet:
    probabilities: np.ndarray
    y: np.ndarray
    adult_normal: np.ndarray  # bool per film
    in_cxr: np.ndarray  # bool per film: a row of the committed cxr validation split


def validation_records(split_file: Path, extra_dir: Path) -> tuple[list[Record], list[Record]]:
    """The cxr validation rows of the committed split, and the cxr-extra validation films (absolute paths)."""
    extra = [dataclasses.replace(r, file=str(extra_dir / r.file)) for r in read_records(extra_dir)]
    return read_split(split_file)["val"], split_records(extra, seed=EXTRA_SPLIT_SEED)["val"]


def is_adult_normal(record: Record, *, extra: bool) -> bool:
    return record.label == NORMAL and (extra or record.source in ADULT_NORMAL_SOURCES)


def load_validation(predictor: Predictor, *, split_file: Path, cxr_dir: Path = SHARED_DATASETS_DIR / "cxr",
                    extra_dir: Path = SHARED_DATASETS_DIR / "cxr-extra") -> ValidationSet:
    cxr, extra = validation_records(split_file, extra_dir)
    x, y = load_arrays(cxr_dir, cxr + extra, predictor.input_size, equalise=predictor.equalise)
    return ValidationSet(
        probabilities=predictor.outputs(x)["probabilities"].astype(np.float64), y=y,
        adult_normal=np.array([is_adult_normal(r, extra=False) for r in cxr] + [is_adult_normal(r, extra=True)
                                                                            for r in extra]),
        in_cxr=np.arange(len(y)) < len(cxr))


def weights_for(covid_weight: float) -> list[float]:
    return [float(covid_weight) if label == COVID else 1.0 for label in LABELS]


def covid_share(probabilities: np.ndarray, weights: list[float]) -> float:
    return float((operating_point.decide(probabilities, weights) == LABELS.index(COVID)).mean())


def fit_covid_weight(data: ValidationSet) -> float:
    """Rule 1: the largest grid weight calling at most 15 % of the adult validation normals COVID-19."""
    adult = data.probabilities[data.adult_normal]
    allowed = [w for w in WEIGHT_GRID if covid_share(adult, weights_for(w)) <= MAX_ADULT_NORMALS_CALLED_COVID]
    if not allowed:
        raise ValueError("no weight on the grid keeps the adult validation normals called COVID-19 within 15 %")
    return float(max(allowed))


def fit_band(data: ValidationSet, weights: list[float]) -> float:
    """Rule 2: the smallest grid margin leaving >= 97 % right outside the band, with at most 20 % inside."""
    found = operating_point.margins(data.probabilities, weights)
    right = operating_point.decide(data.probabilities, weights) == data.y
    within_share = [m for m in MARGIN_GRID if (found < m).mean() <= MAX_SHARE_IN_BAND]
    for m in within_share:
        if right[found >= m].mean() >= MIN_ACCURACY_OUTSIDE_BAND:
            return float(m)
    return float(max(within_share))


def report(data: ValidationSet, weights: list[float], margin: float) -> dict:
    """The validation figures the sidecar and the model card state."""
    predicted = operating_point.decide(data.probabilities, weights)
    band = operating_point.in_band(data.probabilities, weights, margin)
    covid = LABELS.index(COVID)
    cxr_covid = data.in_cxr & (data.y == covid)
    adult = data.adult_normal
    return {
        "films": int(len(data.y)), "cxr_films": int(data.in_cxr.sum()), "adult_normals": int(adult.sum()),
        "covid_sensitivity": float((predicted[cxr_covid] == covid).mean()),
        "cxr_accuracy": float((predicted == data.y)[data.in_cxr].mean()),
        "adult_normals_called_covid": float((predicted[adult] == covid).mean()),
        "band_share": float(band.mean()),
        "accuracy_outside_band": float((predicted == data.y)[~band].mean()),
        "accuracy_inside_band": float((predicted == data.y)[band].mean()) if band.any() else None,
        "adult_normals_called_covid_outside_band": float((predicted[adult & ~band] == covid).mean()),
        "covid_sensitivity_outside_band": float((predicted[cxr_covid & ~band] == covid).mean()),
    }


def fit_covid_words(data: ValidationSet) -> dict:
    """Rule 3 (issue 27): the COVID-19 probability bands of the words staff see, with their figures."""
    p = data.probabilities[:, LABELS.index(COVID)]
    covid = data.y == LABELS.index(COVID)
    likely = min(a for a in WORD_GRID if (p >= a).any() and covid[p >= a].mean() >= MIN_COVID_SHARE_LIKELY)
    unlikely = max(b for b in WORD_GRID if (p < b).any() and covid[p < b].mean() <= MAX_COVID_SHARE_UNLIKELY)
    bands = {"likely": float(likely), "unlikely": float(min(unlikely, likely))}
    words = np.array([operating_point.covid_word(value, bands) for value in p])
    return {**bands, "rule": "likely: smallest p with >= 90 % COVID-19 films at or above it; unlikely: largest p "
                             "with <= 2 % COVID-19 films below it (validation, SELECTION_RULES.md)",
            "validation": {word: {"films": int((words == word).sum()),
                                  "covid_share": float(covid[words == word].mean()) if (words == word).any() else None}
                           for word in (operating_point.LIKELY, operating_point.POSSIBLE, operating_point.UNLIKELY)}}


def previous_figures(data: ValidationSet, metadata: dict) -> dict:
    """The validation figures of the operating point the training run chose (kept once refitted)."""
    kept = (metadata.get("operating_point") or {}).get("previous")
    if kept:
        return kept
    weights = metadata.get("decision_weights") or [1.0] * len(LABELS)
    figures = report(data, weights, 0.0)
    return {"covid_weight": weights[LABELS.index(COVID)],
            **{key: figures[key] for key in ("covid_sensitivity", "cxr_accuracy", "adult_normals_called_covid")}}


def fit(model_path: Path, *, split_file: Path) -> dict:
    """Rules 1 and 2 of SELECTION_RULES.md (issue 25) on validation: the sidecar keys to write."""
    predictor = Predictor(model_path, num_threads=1)
    data = load_validation(predictor, split_file=split_file)
    weight = fit_covid_weight(data)
    weights = weights_for(weight)
    margin = fit_band(data, weights)
    figures = report(data, weights, margin)
    return {
        "decision_weights": weights,
        "operating_point": {"rule": "largest COVID-19 weight <= 2.0 calling <= 15 % of the adult validation "
                                    "normals COVID-19 (SELECTION_RULES.md, issue 25)",
                            "covid_weight": weight, "fitted_on": "validation: cxr split val rows + cxr-extra val",
                            "validation": figures, "previous": previous_figures(data, predictor.metadata)},
        "uncertain_band": {"margin": margin, "rule": "ln(top / runner-up weighted score) < margin; smallest margin "
                                                     "leaving >= 97 % right outside, at most 20 % inside"},
        "covid_words": fit_covid_words(data),
    }


def write_sidecar(model_path: Path, fitted: dict) -> dict:
    sidecar = Path(f"{model_path}.json")
    metadata = {**json.loads(sidecar.read_text()), **fitted}
    sidecar.write_text(json.dumps(metadata, indent=2) + "\n")
    return metadata

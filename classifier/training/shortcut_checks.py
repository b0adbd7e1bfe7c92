"""Evidence that the model reads the disease, not the hospital, the view or the film's markers
(issue 18): figures for the evaluation JSON.

* within-source AUCs: one source holding two classes (COVID-19 and Normal in
  `radiography_db`, Normal and Viral Pneumonia in `mooney_a`/`mooney_b`) cannot be told apart
  by hospital, so a high AUC there is about the chest;
* normals by view (AP/PA) and by age band: portable AP films and adults must not mean COVID-19;
* heatmap mass in the outer border and the top band, where markers and text sit;
* the marker test: the same films with a laterality marker pasted in.
"""

import csv
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from classifier.inference import Predictor, heatmap_image
from classifier.labels import LABELS
from classifier.preprocessing import to_model_input
from classifier.training.augmentation import draw_marker
from classifier.training.data import Record

BORDER_FRACTION = 0.10  # of each side
MARKER_TEST_LIMIT = 0.05  # mean absolute change of the COVID-19 probability
PAEDIATRIC_SOURCES = ("mooney_a", "mooney_b")
ADULT_SOURCES = ("radiography_db", "nih_cxr14")
AGE_BANDS = ((18, "18-39"), (40, "40-59"), (60, "60+"))


# --- what the manifests say about each film ---------------------------------------------

@lru_cache(maxsize=16)
def _manifest(root: Path) -> dict[str, dict]:
    path = root / "manifest.csv"
    if not path.exists():
        return {}
    with path.open(newline="") as handle:
        return {row["file"]: row for row in csv.DictReader(handle)}


def film_attributes(data_dir: str | Path, record: Record) -> dict:
    """View and age of a film from the manifest of the folder it lives in ({} if unknown).

    Files are `<label>/<name>` inside a dataset folder, or absolute paths to one (cxr-extra
    films in a combined split), so the folder is two levels up from the file either way.
    """
    path = Path(data_dir) / record.file
    return _manifest(path.parent.parent.resolve()).get(f"{path.parent.name}/{path.name}", {})


def view_of(attributes: dict) -> str:
    view = (attributes.get("view") or "").upper()
    return "AP" if view.startswith("AP") else "PA" if view.startswith("PA") else "unknown"


def age_band_of(attributes: dict, source: str) -> str:
    """From the manifest's age where given; else what the source is known to hold."""
    age = attributes.get("age")
    if age:
        return next((name for low, name in reversed(AGE_BANDS) if int(float(age)) >= low), "child")
    if source in PAEDIATRIC_SOURCES:
        return "child"
    return "adult (age unknown)" if source in ADULT_SOURCES else "unknown"


# --- figures from labels, probabilities and decisions ------------------------------------

def within_source_aucs(y_true: np.ndarray, probabilities: np.ndarray, sources: list[str]) -> dict:
    """For each source with two or more classes, the AUC of each pair of its classes.

    Score for "a_vs_b": p(a) / (p(a) + p(b)), on that source's films of classes a and b.
    """
    y_true, sources = np.asarray(y_true), np.asarray(sources)
    result = {}
    for source in sorted(set(sources)):
        present = sorted(set(y_true[sources == source]))
        pairs = {}
        for i, a in enumerate(present):
            for b in present[i + 1:]:
                inside = (sources == source) & np.isin(y_true, (a, b))
                score = probabilities[inside, a] / np.maximum(probabilities[inside, a] + probabilities[inside, b], 1e-12)
                pairs[f"{LABELS[a]}_vs_{LABELS[b]}"] = {
                    "n": int(inside.sum()), "auc": _auc(y_true[inside] == a, score)}
        if pairs:
            result[str(source)] = pairs
    return result


def _auc(positive: np.ndarray, scores: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(positive, scores)) if positive.any() and not positive.all() else None


def normals_by(y_true: np.ndarray, predicted: np.ndarray, groups: list[str]) -> dict:
    """The normals of each group: how many, and the share called Normal and called COVID-19."""
    y_true, predicted, groups = np.asarray(y_true), np.asarray(predicted), np.asarray(groups)
    normal = y_true == LABELS.index("normal")
    result = {}
    for group in sorted(set(groups[normal])):
        calls = predicted[normal & (groups == group)]
        result[str(group)] = {"n": int(len(calls)),
                              "called_normal": float((calls == LABELS.index("normal")).mean()),
                              "called_covid": float((calls == LABELS.index("covid")).mean()),
                              "predicted": {label: int((calls == i).sum()) for i, label in enumerate(LABELS)}}
    return result


def heatmap_mass(cams: np.ndarray, predicted: np.ndarray, size: int) -> dict:
    """Mean share of the served heatmap's mass (of the predicted class) in the border and top band.

    The heatmap is the one the worker shows (`heatmap_image`: min-max scaled, resized). A map
    spread evenly would put `uniform_border` in the border and `uniform_top` in the top band.
    """
    band = max(1, round(size * BORDER_FRACTION))
    border = np.ones((size, size), dtype=bool)
    border[band:size - band, band:size - band] = False
    borders, tops = [], []
    for cam, best in zip(cams, predicted):
        heat = heatmap_image(cam[:, :, best], (size, size)).astype(np.float64)
        total = heat.sum()
        borders.append(heat[border].sum() / total if total else 0.0)
        tops.append(heat[:band].sum() / total if total else 0.0)
    return {"border_fraction": BORDER_FRACTION, "border_share": float(np.mean(borders)),
            "top_band_share": float(np.mean(tops)), "uniform_border": float(border.mean()),
            "uniform_top": band / size, "n": len(borders)}


# --- the marker test ----------------------------------------------------------------------

def paste_marker(pixels: np.ndarray) -> np.ndarray:
    """The test's marker: a bright boxed "D" (PadChest's "derecha") in the top-left corner.

    Deterministic, at the film's own resolution, before the one preprocessing path.
    """
    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))
    side = min(image.size)
    return np.asarray(draw_marker(image, np.random.default_rng(0), letter="D", style="box", shade=255,
                                  size=max(6, round(0.08 * side)), xy=(round(0.04 * side), round(0.04 * side))))


def marker_test(predictor: Predictor, films: list[np.ndarray], y_true: np.ndarray, probabilities: np.ndarray,
                predicted: np.ndarray) -> dict:
    """How much pasting a marker in moves the COVID-19 probability of the same films."""
    marked = np.stack([to_model_input(paste_marker(film), predictor.input_size, equalise=predictor.equalise) for film in films])
    marked_probabilities, marked_predicted = predictor.predict(marked)
    covid = LABELS.index("covid")
    change = marked_probabilities[:, covid] - probabilities[:, covid]
    return {"n": len(films), "marker": "boxed D, top left, 8 % of the side",
            "mean_abs_change_covid": float(np.abs(change).mean()), "mean_change_covid": float(change.mean()),
            "max_abs_change_covid": float(np.abs(change).max()),
            "label_changed": float((marked_predicted != predicted).mean()),
            # Signed, by true class: a marker that pushes normals towards COVID-19 shows here.
            "mean_change_covid_by_label": {LABELS[i]: float(change[y_true == i].mean()) for i in np.unique(y_true)},
            "limit": MARKER_TEST_LIMIT, "within_limit": bool(np.abs(change).mean() <= MARKER_TEST_LIMIT)}


def shortcut_report(*, predictor: Predictor, data_dir: str | Path, records: list[Record], films: list[np.ndarray],
                    y_true: np.ndarray, outputs: dict[str, np.ndarray], predicted: np.ndarray) -> dict:
    """Every issue-18 figure for one evaluation, keyed as in the evaluation JSON."""
    attributes = [film_attributes(data_dir, r) for r in records]
    sources = [r.source for r in records]
    probabilities = outputs["probabilities"]
    report = {
        "within_source_auc": within_source_aucs(y_true, probabilities, sources),
        "normals_by_view": normals_by(y_true, predicted, [view_of(a) for a in attributes]),
        "normals_by_age_band": normals_by(y_true, predicted, [age_band_of(a, s) for a, s in zip(attributes, sources)]),
        "marker_test": marker_test(predictor, films, y_true, probabilities, predicted),
    }
    if "cams" in outputs:
        report["heatmap_mass"] = heatmap_mass(outputs["cams"], predicted, predictor.input_size)
    return report

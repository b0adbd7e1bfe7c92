"""Evaluating a served (LiteRT) model file: metrics JSON and plots.

It evaluates exactly what the worker serves, through the same preprocessing and the same
Predictor; TensorFlow is not needed.
"""

from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from classifier.calibration import expected_calibration_error, reliability_bins
from classifier.inference import Predictor
from classifier.labels import DISPLAY_NAMES, LABELS
from classifier.preprocessing import load_grayscale
from classifier.training.data import DEFAULT_DATA_DIR, Record, load_arrays, read_records, read_split
from classifier.training.shortcut_checks import shortcut_report

PAEDIATRIC_SOURCES = ("mooney_a", "mooney_b")
ADULT_NORMAL_SOURCES = ("radiography_db",)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(LABELS)) -> np.ndarray:
    """Rows: true class, columns: predicted class."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def _ratio(numerator: float, denominator: float) -> float | None:
    return float(numerator / denominator) if denominator else None


def compute_metrics(y_true: np.ndarray, probabilities: np.ndarray, *, predicted: np.ndarray | None = None,
                    sources: list[str] | None = None) -> dict:
    """Every figure of the evaluation JSON except `model`, from labels and probabilities.

    `predicted` is the model's decision (its operating point); by default the most probable label.
    """
    y_true = np.asarray(y_true)
    y_pred = probabilities.argmax(axis=1) if predicted is None else np.asarray(predicted)
    matrix = confusion_matrix(y_true, y_pred)
    total = int(matrix.sum())
    per_class, f1s, aucs = {}, [], []
    for i, label in enumerate(LABELS):
        tp = matrix[i, i]
        fn, fp = matrix[i].sum() - tp, matrix[:, i].sum() - tp
        tn = total - tp - fn - fp
        precision, sensitivity = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        auc = _auc(y_true == i, probabilities[:, i])
        per_class[label] = {"n": int(tp + fn), "sensitivity": sensitivity, "specificity": _ratio(tn, tn + fp),
                            "precision": precision, "auc": auc}
        f1s.append(_ratio(2 * tp, 2 * tp + fp + fn) or 0.0)
        aucs.append(auc)
    metrics = {
        "n": total,
        "accuracy": _ratio(np.trace(matrix), total),
        "macro_f1": float(np.mean(f1s)),
        "macro_auc": None if None in aucs else float(np.mean(aucs)),
        "per_class": per_class,
        "confusion_matrix": {"labels": list(LABELS), "matrix": matrix.tolist()},
        "ece": expected_calibration_error(probabilities, y_true),
    }
    if sources is not None:
        metrics["per_source"] = _per_source(y_true, y_pred, np.asarray(sources))
        metrics["subgroups"] = _normal_subgroups(y_true, y_pred, np.asarray(sources))
    return metrics


def _auc(positive: np.ndarray, scores: np.ndarray) -> float | None:
    if positive.all() or not positive.any():
        return None  # undefined with one class only
    return float(roc_auc_score(positive, scores))


def _group_summary(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    return {"n": int(len(y_true)), "accuracy": _ratio((y_true == y_pred).sum(), len(y_true)),
            "predicted": {label: int((y_pred == i).sum()) for i, label in enumerate(LABELS)}}


def _per_source(y_true: np.ndarray, y_pred: np.ndarray, sources: np.ndarray) -> dict:
    result = {}
    for source in sorted(set(sources)):
        inside = sources == source
        summary = _group_summary(y_true[inside], y_pred[inside])
        summary["labels"] = {LABELS[i]: int((y_true[inside] == i).sum()) for i in np.unique(y_true[inside])}
        # Within one source: did it miss one class (COVID-19 films of one hospital, say)?
        summary["sensitivity"] = {LABELS[i]: _ratio(((y_true == i) & (y_pred == i) & inside).sum(),
                                                    ((y_true == i) & inside).sum()) for i in np.unique(y_true[inside])}
        result[str(source)] = summary
    return result


def _normal_subgroups(y_true: np.ndarray, y_pred: np.ndarray, sources: np.ndarray) -> dict:
    """Normals split by age: a network that only learned "child or adult" fails one of them."""
    normal = y_true == LABELS.index("normal")
    groups = {"paediatric_normals": normal & np.isin(sources, PAEDIATRIC_SOURCES),
              "adult_normals": normal & np.isin(sources, ADULT_NORMAL_SOURCES)}
    return {name: _group_summary(y_true[inside], y_pred[inside]) for name, inside in groups.items() if inside.any()}


def band_figures(y: np.ndarray, probabilities: np.ndarray, predicted: np.ndarray, band: np.ndarray) -> dict:
    """Issue 25: how many films get no suggestion (the uncertain band) and how right the rest are."""
    covid = LABELS.index("covid")
    outside = ~band
    return {"share": float(band.mean()), "films": int(band.sum()),
            "accuracy_outside": _ratio((predicted == y)[outside].sum(), outside.sum()),
            "accuracy_inside": _ratio((predicted == y)[band].sum(), band.sum()),
            "covid_sensitivity_outside": _ratio(((predicted == covid) & (y == covid) & outside).sum(),
                                                ((y == covid) & outside).sum()),
            "called_covid_outside": _ratio(((predicted == covid) & outside).sum(), outside.sum())}


def evaluate(*, model_path: str | Path, data_dir: str | Path | None = None, records: list[Record] | None = None,
             plots_dir: str | Path | None = None, gate_path: str | Path | None = None) -> dict:
    """Evaluate a model file on a folder (all its images) or on given records (e.g. a test split).

    With neither, the test split saved beside the model, read from the folder it was trained on.
    """
    predictor = Predictor(model_path)
    if data_dir is None:
        data_dir = training_data_dir(predictor)
        if records is None:
            records = saved_test_split(model_path)
    records = records if records is not None else read_records(data_dir)
    x, y = load_arrays(data_dir, records, predictor.input_size, equalise=predictor.equalise)
    outputs = predictor.outputs(x)
    probabilities, predicted = outputs["probabilities"], predictor.decide(outputs)
    sources = [r.source for r in records]
    metrics = compute_metrics(y, probabilities, predicted=predicted,
                              sources=None if set(sources) == {"unknown"} else sources)
    plain = compute_metrics(y, probabilities)  # what the label would be without the operating point
    metrics["argmax"] = {"accuracy": plain["accuracy"], "covid_sensitivity": plain["per_class"]["covid"]["sensitivity"]}
    metrics["uncertain_band"] = band_figures(y, probabilities, predicted, predictor.uncertain(probabilities))
    metrics["model"] = {"name": predictor.metadata["name"], "sha256": predictor.sha256}
    metrics["misclassified"] = misclassified(records, y, predicted, probabilities)
    films = [load_grayscale(Path(data_dir) / r.file) for r in records]
    # Issue 18: within-source AUCs, normals by view and age, heatmap border share, marker test.
    metrics.update(shortcut_report(predictor=predictor, data_dir=data_dir, records=records, films=films,
                                   y_true=y, outputs=outputs, predicted=predicted))
    if gate_path is not None:  # how many of these films the input gate lets through to the model
        from classifier.gate import get_gate
        from classifier.training.gate.evaluation import chest_pass_rates

        passed = chest_pass_rates(get_gate(gate_path), films, records)
        metrics["gate_pass_rate"] = passed["pass_rate"]
        metrics["gate_pass_rate_per_source"] = {name: row["pass_rate"] for name, row in passed["per_source"].items()}
        metrics["gate_refused"] = passed["refused"]
    if plots_dir:
        save_plots(y, probabilities, metrics, Path(plots_dir))
    return metrics


def misclassified(records: list[Record], y_true: np.ndarray, y_pred: np.ndarray,
                  probabilities: np.ndarray) -> list[dict]:
    """Each wrongly labelled image, for error analysis: a reader can open the very films."""
    return [{"file": record.file, "source": record.source, "group": record.group, "label": LABELS[true],
             "predicted": LABELS[pred], "probabilities": {label: round(float(p), 4) for label, p in zip(LABELS, row)}}
            for record, true, pred, row in zip(records, y_true, y_pred, probabilities) if true != pred]


def training_data_dir(predictor: Predictor) -> Path:
    """Where the model was trained from if that folder is here, else the shared dataset (../shared)."""
    trained_on = Path(predictor.metadata.get("data", ""))
    return trained_on if predictor.metadata.get("data") and trained_on.is_dir() else DEFAULT_DATA_DIR


def saved_test_split(model_path: str | Path) -> list[Record]:
    return read_split(Path(model_path).parent / "split.csv")["test"]


def save_plots(y: np.ndarray, probabilities: np.ndarray, metrics: dict, plots_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots_dir.mkdir(parents=True, exist_ok=True)
    names = [DISPLAY_NAMES[label] for label in LABELS]
    title = metrics["model"]["name"]
    paths = []

    figure, axis = plt.subplots(figsize=(5, 4.5))
    matrix = np.array(metrics["confusion_matrix"]["matrix"])
    axis.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        axis.text(column, row, str(count), ha="center", va="center",
                  color="white" if count > matrix.max() / 2 else "black")
    axis.set(xticks=range(len(names)), yticks=range(len(names)), xticklabels=names, yticklabels=names,
             xlabel="predicted", ylabel="true", title=f"Confusion matrix\n{title}")
    paths.append(_save(figure, plots_dir / "confusion_matrix.png"))

    figure, axis = plt.subplots(figsize=(5, 4.5))
    for i, name in enumerate(names):
        fpr, tpr, _ = roc_curve(y == i, probabilities[:, i])
        axis.plot(fpr, tpr, label=f"{name} (AUC {metrics['per_class'][LABELS[i]]['auc']:.3f})")
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":")
    axis.set(xlabel="1 - specificity", ylabel="sensitivity", title=f"ROC, one class vs rest\n{title}")
    axis.legend(loc="lower right")
    paths.append(_save(figure, plots_dir / "roc.png"))

    figure, axis = plt.subplots(figsize=(5, 4.5))
    bins = reliability_bins(probabilities, y)
    axis.bar([(b["low"] + b["high"]) / 2 for b in bins], [b["accuracy"] for b in bins],
             width=1 / 15, edgecolor="black", label="accuracy")
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
    axis.set(xlabel="confidence of the predicted class", ylabel="accuracy",
             title=f"Reliability (ECE {metrics['ece']:.3f})\n{title}")
    axis.legend(loc="upper left")
    paths.append(_save(figure, plots_dir / "reliability.png"))
    return paths


def _save(figure, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path

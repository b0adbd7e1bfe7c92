"""Training one architecture on a dataset folder, end to end.

Writes into the output folder: `<arch>.keras` (best weights by validation loss),
`<arch>.tflite` + `<arch>.tflite.json` (the served form, calibrated), `split.csv`,
`training_curves.png` and `training.json` (figures of this run).
"""

import dataclasses
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from classifier.training.batchnorm import precise_batchnorm_callback
from classifier.calibration import (
    covid_decision_weight, expected_calibration_error, fit_temperature, negative_log_likelihood, softmax,
)
from classifier.training.data import (
    Record, class_weights, load_arrays, read_records, read_split, source_balanced_weights, split_records, write_split,
)
from classifier.labels import LABELS
from classifier.training.export import check_agreement, export_litert, keras_logits
from classifier.training.networks import get_architecture

# Triage operating point: a missed COVID-19 case costs more than a false alarm that the
# radiologist clears, so the label weighs the COVID-19 probability up until validation
# sensitivity reaches this (the probabilities shown stay calibrated).
COVID_TARGET_SENSITIVITY = 0.98


def train(*, arch: str, data_dir: str | Path, out_dir: str | Path, epochs: int | None = None, seed: int = 42,
          split_file: str | Path | None = None, input_size: int | None = None,
          precise_bn: bool = False, cue_augmentation: bool = False, extra_data_dir: str | Path | None = None,
          histogram_equalisation: bool = False, balance_sources: bool = False, verbose: int = 1) -> dict:
    """Train, calibrate and export; return the run's figures (also saved as training.json).

    `input_size` overrides the architecture's default side in pixels (the networks are fully
    convolutional up to global pooling, so `own` takes any multiple of 16). `precise_bn`
    re-estimates BatchNorm statistics on the training images before each validation.
    `cue_augmentation` draws markers, text, frames and acquisition changes on training films
    of every class (`classifier.training.augmentation`); `extra_data_dir` (e.g. cxr-extra) is split by
    its own groups with the same seed and added to train, validation and test.
    `histogram_equalisation` equalises every input (`to_model_input(equalise=True)`); the
    sidecar records it, so the Predictor serves the model the same way. `balance_sources`
    weighs every source of a class alike (`source_balanced_weights`) instead of classes only.
    """
    import keras

    architecture = get_architecture(arch)
    if input_size:
        architecture = dataclasses.replace(architecture, input_size=input_size)
    data_dir, out_dir = Path(data_dir).resolve(), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)

    split = read_split(split_file) if split_file else split_records(read_records(data_dir), seed=seed)
    if extra_data_dir:
        split = add_extra_data(split, Path(extra_data_dir).resolve(), seed=seed)
    write_split(out_dir / "split.csv", split)
    x_train, y_train = load_arrays(data_dir, split["train"], architecture.input_size, equalise=histogram_equalisation)
    x_val, y_val = load_arrays(data_dir, split["val"], architecture.input_size, equalise=histogram_equalisation)

    model = architecture.build(architecture.input_size)
    model.compile(optimizer=keras.optimizers.Adam(architecture.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    checkpoint = out_dir / f"{arch}.keras"
    callbacks = _callbacks(checkpoint)
    if precise_bn:  # first, so the validation loss the others read uses the recomputed statistics
        callbacks.insert(0, precise_batchnorm_callback(x_train, architecture.batch_size))
    started = time.perf_counter()
    weights = source_balanced_weights(split["train"]) if balance_sources else None
    history = model.fit(
        _training_dataset(x_train, y_train, architecture, seed, cue_augmentation=cue_augmentation,
                          equalise=histogram_equalisation, weights=weights),
        validation_data=(x_val, y_val),
        epochs=epochs or architecture.epochs,
        class_weight=None if balance_sources else class_weights(y_train),
        callbacks=callbacks,
        verbose=verbose,
    )
    train_seconds = time.perf_counter() - started
    model = keras.models.load_model(checkpoint, compile=False)  # the best epoch, as saved
    model.save(checkpoint)  # again without the optimizer state: a third of the size

    name = f"{arch}-{datetime.now(timezone.utc):%Y%m%d-%H%M}-seed{seed}"
    calibration = calibrate_and_export(model, out_dir / f"{arch}.tflite", x_val=x_val, y_val=y_val, metadata={
        "name": name, "architecture": arch, "labels": list(LABELS), "input_size": architecture.input_size,
        "data": str(data_dir), "split": "split.csv", "seed": seed, "cue_augmentation": cue_augmentation,
        "extra_data": str(Path(extra_data_dir).resolve()) if extra_data_dir else None,
        "histogram_equalisation": histogram_equalisation})
    epochs_run = len(history.history["loss"])
    summary = {
        "name": name, "architecture": arch, "seed": seed, "precise_bn": precise_bn,
        "cue_augmentation": cue_augmentation, "extra_data": str(Path(extra_data_dir).resolve()) if extra_data_dir else None,
        "histogram_equalisation": histogram_equalisation, "balance_sources": balance_sources,
        "parameters": int(model.count_params()),
        "input_size": architecture.input_size, "epochs_run": epochs_run,
        "best_epoch": int(np.argmin(history.history["val_loss"])) + 1,
        "train_images": len(y_train), "val_images": len(y_val), "test_images": len(split["test"]),
        "train_minutes": train_seconds / 60,
        "train_images_per_second": len(y_train) * epochs_run / train_seconds,
        **calibration,
        "keras_file": checkpoint.name,
    }
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2))
    plot_curves(history.history, out_dir / "training_curves.png", title=name)
    return summary


def add_extra_data(split: dict[str, list[Record]], extra_dir: Path, *, seed: int) -> dict[str, list[Record]]:
    """Another folder's films split by its own groups and added to each split.

    Its files are kept as absolute paths, so the saved split.csv still names every film.
    """
    extra = [dataclasses.replace(r, file=str(extra_dir / r.file)) for r in read_records(extra_dir)]
    if {r.file for r in extra} & {r.file for records in split.values() for r in records}:
        raise ValueError(f"The split already holds films of {extra_dir}: pass a split without them")
    extra_split = split_records(extra, seed=seed)
    return {name: records + extra_split[name] for name, records in split.items()}


def _training_dataset(x: np.ndarray, y: np.ndarray, architecture, seed: int, *, cue_augmentation: bool = False,
                      equalise: bool = False, weights: np.ndarray | None = None):
    """Shuffled, augmented batches of (images, labels) or, with per-film weights, (images, labels, weights)."""
    import tensorflow as tf

    import keras

    from classifier.training.augmentation import augment_batch

    augment = keras.Sequential(architecture.augmentation())
    columns = (x, y) if weights is None else (x, y, weights.astype(np.float32))
    dataset = (tf.data.Dataset.from_tensor_slices(columns)
               .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
               .batch(architecture.batch_size))
    if cue_augmentation:  # in NumPy/PIL, before the Keras layers; a fresh seed per batch
        def draw(images, *rest):
            batch_seed = tf.random.uniform([], 0, 2**31 - 1, dtype=tf.int64, seed=seed)
            drawn = tf.numpy_function(lambda pixels, number: augment_batch(pixels, int(number), equalise=equalise),
                                      [images, batch_seed], tf.float32)
            return (tf.ensure_shape(drawn, images.shape), *rest)
        dataset = dataset.map(draw)
    return (dataset
            .map(lambda images, *rest: (augment(images, training=True), *rest), num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def _callbacks(checkpoint: Path) -> list:
    import keras

    return [
        keras.callbacks.ModelCheckpoint(checkpoint, monitor="val_loss", save_best_only=True),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=10),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=4, min_lr=1e-5),
    ]


def calibrate_and_export(model, path: Path, *, x_val: np.ndarray, y_val: np.ndarray, metadata: dict) -> dict:
    """Fit the temperature and the COVID-19 operating point on validation, export, check LiteRT.

    Writes the LiteRT file and its sidecar JSON; returns the calibration figures.
    """
    logits = keras_logits(model, x_val)
    temperature = fit_temperature(logits, y_val)
    probabilities = softmax(logits, temperature)
    covid_weight = covid_decision_weight(probabilities, y_val, target_sensitivity=COVID_TARGET_SENSITIVITY)
    weights = [covid_weight if label == "covid" else 1.0 for label in LABELS]
    export_litert(model, temperature=temperature, path=path, decision_weights=weights)
    figures = {
        "temperature": temperature,
        "val_ece_before": expected_calibration_error(softmax(logits), y_val),
        "val_ece_after": expected_calibration_error(probabilities, y_val),
        "val_accuracy": float((logits.argmax(axis=1) == y_val).mean()),
        "val_nll": negative_log_likelihood(logits, y_val, temperature),
        "covid_decision_weight": covid_weight,
        "val_covid_sensitivity_argmax": float((probabilities.argmax(axis=1)[y_val == 0] == 0).mean()),
        "val_covid_sensitivity": float(((probabilities * weights).argmax(axis=1)[y_val == 0] == 0).mean()),
        "litert_file": path.name,
    }
    sidecar = Path(f"{path}.json")
    sidecar.write_text(json.dumps({**metadata, "temperature": temperature, "decision_weights": weights}, indent=2))
    figures["litert_max_abs_difference"] = check_agreement(model, path, x_val[:64], temperature)
    sidecar.write_text(json.dumps({**json.loads(sidecar.read_text()),
                                   "litert_max_abs_difference": figures["litert_max_abs_difference"]}, indent=2))
    return figures


def plot_curves(history: dict, path: Path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric in zip(axes, ("loss", "accuracy")):
        axis.plot(history[metric], label=f"train {metric}")
        axis.plot(history[f"val_{metric}"], label=f"validation {metric}")
        axis.set_xlabel("epoch")
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)

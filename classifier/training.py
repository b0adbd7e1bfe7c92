"""Training one architecture on a dataset folder, end to end.

Writes into the output folder: `<arch>.keras` (best weights by validation loss),
`<arch>.tflite` + `<arch>.tflite.json` (the served form, calibrated), `split.csv`,
`training_curves.png` and `training.json` (figures of this run).
"""

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from classifier.calibration import expected_calibration_error, fit_temperature, softmax
from classifier.data import class_weights, load_arrays, read_records, read_split, split_records, write_split
from classifier.export import check_agreement, export_litert, keras_logits
from classifier.networks import get_architecture
from classifier.preprocessing import LABELS


def train(*, arch: str, data_dir: str | Path, out_dir: str | Path, epochs: int | None = None, seed: int = 42,
          split_file: str | Path | None = None, verbose: int = 1) -> dict:
    """Train, calibrate and export; return the run's figures (also saved as training.json)."""
    import keras

    architecture = get_architecture(arch)
    data_dir, out_dir = Path(data_dir).resolve(), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)

    split = read_split(split_file) if split_file else split_records(read_records(data_dir), seed=seed)
    write_split(out_dir / "split.csv", split)
    x_train, y_train = load_arrays(data_dir, split["train"], architecture.input_size)
    x_val, y_val = load_arrays(data_dir, split["val"], architecture.input_size)

    model = architecture.build(architecture.input_size)
    model.compile(optimizer=keras.optimizers.Adam(architecture.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    checkpoint = out_dir / f"{arch}.keras"
    started = time.perf_counter()
    history = model.fit(
        _training_dataset(x_train, y_train, architecture, seed),
        validation_data=(x_val, y_val),
        epochs=epochs or architecture.epochs,
        class_weight=class_weights(y_train),
        callbacks=_callbacks(checkpoint),
        verbose=verbose,
    )
    train_seconds = time.perf_counter() - started
    model = keras.models.load_model(checkpoint, compile=False)  # the best epoch, as saved
    model.save(checkpoint)  # again without the optimizer state: a third of the size

    logits = keras_logits(model, x_val)
    temperature = fit_temperature(logits, y_val)
    name = f"{arch}-{datetime.now(timezone.utc):%Y%m%d-%H%M}-seed{seed}"
    tflite = _export(model, out_dir / f"{arch}.tflite", temperature=temperature, x_check=x_val[:64],
                     metadata={"name": name, "architecture": arch, "labels": list(LABELS),
                               "input_size": architecture.input_size, "temperature": temperature,
                               "data": str(data_dir), "split": "split.csv", "seed": seed})
    epochs_run = len(history.history["loss"])
    summary = {
        "name": name, "architecture": arch, "seed": seed, "parameters": int(model.count_params()),
        "input_size": architecture.input_size, "epochs_run": epochs_run,
        "best_epoch": int(np.argmin(history.history["val_loss"])) + 1,
        "train_images": len(y_train), "val_images": len(y_val), "test_images": len(split["test"]),
        "train_minutes": train_seconds / 60,
        "train_images_per_second": len(y_train) * epochs_run / train_seconds,
        "temperature": temperature,
        "val_ece_before": expected_calibration_error(softmax(logits), y_val),
        "val_ece_after": expected_calibration_error(softmax(logits, temperature), y_val),
        "val_accuracy": float((logits.argmax(axis=1) == y_val).mean()),
        "keras_file": checkpoint.name, "litert_file": tflite.name,
    }
    (out_dir / "training.json").write_text(json.dumps(summary, indent=2))
    plot_curves(history.history, out_dir / "training_curves.png", title=name)
    return summary


def _training_dataset(x: np.ndarray, y: np.ndarray, architecture, seed: int):
    import tensorflow as tf

    import keras

    augment = keras.Sequential(architecture.augmentation())
    return (tf.data.Dataset.from_tensor_slices((x, y))
            .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
            .batch(architecture.batch_size)
            .map(lambda images, labels: (augment(images, training=True), labels), num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def _callbacks(checkpoint: Path) -> list:
    import keras

    return [
        keras.callbacks.ModelCheckpoint(checkpoint, monitor="val_loss", save_best_only=True),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=10),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=4, min_lr=1e-5),
    ]


def _export(model, path: Path, *, temperature: float, x_check: np.ndarray, metadata: dict) -> Path:

    export_litert(model, temperature=temperature, path=path)
    Path(f"{path}.json").write_text(json.dumps(metadata, indent=2))
    metadata["litert_max_abs_difference"] = check_agreement(model, path, x_check, temperature)
    Path(f"{path}.json").write_text(json.dumps(metadata, indent=2))
    return path


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

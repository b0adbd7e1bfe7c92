"""Exporting a trained Keras network to the LiteRT file the worker serves.

The exported graph is self-contained: it applies the fitted temperature (so its
probabilities are the calibrated ones), weights them into decision scores (the operating
point chosen on validation; the label is their argmax) and, for networks that end in global average pooling
+ "logits", also returns class activation maps (feature maps times the logits weights):
exact CAM, computed without gradients, which LiteRT cannot give.
"""

import tempfile
from pathlib import Path

import numpy as np

AGREEMENT_TOLERANCE = 1e-3


def members(model) -> list:
    """The networks whose logits a model averages: an ensemble's members, or the model itself.

    An ensemble (`classifier.training.ensemble`) nests one sub-model per member, each returning its
    logits and (when it has them) its "features" maps.
    """
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.Model)] or [model]


def has_cam(model) -> bool:
    return all(any(layer.name == "features" for layer in member.layers) for member in members(model))


def export_litert(model, *, temperature: float, path: str | Path, decision_weights: list[float] | None = None) -> Path:
    import tensorflow as tf

    import keras

    size = model.input_shape[1]
    cam = has_cam(model)
    parts = members(model)
    # One callable per member giving (logits[, features]); an ensemble's members already do.
    heads = parts if len(parts) > 1 else [keras.Model(model.input, [model.get_layer("logits").output]
                                                      + ([model.get_layer("features").output] if cam else []))]
    kernels = [tf.constant(part.get_layer("logits").kernel.numpy()) for part in parts]
    scale = tf.constant(1.0 / temperature, tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 1], tf.float32, name="pixels")])
    def serve(pixels):
        results = [tf.nest.flatten(head(pixels, training=False)) for head in heads]
        # Averaged logits, as the Keras ensemble computes them; one member: its logits.
        logits = tf.add_n([result[0] for result in results]) / len(results)
        served = {"probabilities": tf.nn.softmax(logits * scale)}
        if decision_weights is not None:  # the operating point: the label is argmax of these
            served["decision_scores"] = served["probabilities"] * tf.constant(decision_weights, tf.float32)
        if cam:
            # Each member's logit is GAP(features) . kernel + bias, so the mean of the members'
            # maps is the exact class map of the averaged logits.
            served["cams"] = tf.add_n([tf.einsum("bhwk,kc->bhwc", result[1], kernel)
                                       for result, kernel in zip(results, kernels)]) / len(results)
        return served

    # The variables must be tracked by a SavedModel for the converter to freeze them into the
    # file (converting a bare concrete function leaves Keras 3 variables uninitialised: NaN).
    archive = keras.export.ExportArchive()
    for head in heads:
        archive.track(head)
    archive.add_endpoint(name="serving_default", fn=serve)
    with tempfile.TemporaryDirectory() as saved_model:
        archive.write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=["serving_default"])
        flatbuffer = converter.convert()
    path = Path(path)
    path.write_bytes(flatbuffer)
    return path


def keras_logits(model, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Logits from calling the Keras model directly (predict() adds overhead for nothing here)."""
    import keras

    logits_model = keras.Model(model.input, model.get_layer("logits").output)
    return np.concatenate([np.asarray(logits_model(x[i:i + batch_size], training=False))
                           for i in range(0, len(x), batch_size)])


def check_agreement(model, litert_path: str | Path, x: np.ndarray, temperature: float) -> float:
    """Largest probability difference between Keras and LiteRT on x; raises above 1e-3."""
    from classifier.calibration import softmax
    from classifier.inference import Predictor

    expected = softmax(keras_logits(model, x), temperature)
    got = Predictor(litert_path).probabilities(x)
    worst = float(np.abs(expected - got).max())
    if not worst <= AGREEMENT_TOLERANCE:  # also catches NaN
        raise RuntimeError(f"LiteRT probabilities differ from Keras by {worst:.2e} (> {AGREEMENT_TOLERANCE})")
    return worst

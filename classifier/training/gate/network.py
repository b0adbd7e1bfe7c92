"""The gate's network, its distance score, and its export to LiteRT (training side: Keras).

The network is small (about 30k parameters at 96 x 96): telling a frontal chest film from a
CT slice, a lateral film or a page of text needs the layout of the image, not fine texture.
Its 32-number "embedding" (before the classes) also feeds the distance score: the
Mahalanobis distance from the chest training films, which is large for inputs unlike both
the films and the negatives the network was shown. The exported graph computes both, so
serving needs no NumPy copy of the mean and covariance.
"""

from pathlib import Path

import numpy as np

EMBEDDING_SIZE = 32
AGREEMENT_TOLERANCE = 1e-3


def build_gate_network(size: int, n_classes: int, *, width: int = 16):
    """Strided stem, four separable BatchNorm blocks, global pooling, embedding, classes."""
    import keras
    from keras import layers

    def block(x, filters, *, separable=True, strides=1):
        conv = layers.SeparableConv2D if separable else layers.Conv2D
        x = conv(filters, 3, strides=strides, padding="same", use_bias=False)(x)
        return layers.ReLU()(layers.BatchNormalization(momentum=0.9)(x))

    inputs = keras.Input((size, size, 1), name="pixels")
    x = block(inputs, width, separable=False, strides=2)
    for multiple in (2, 4, 8):
        x = layers.MaxPooling2D()(block(x, width * multiple))
    x = layers.GlobalAveragePooling2D()(block(x, width * 8))
    embedding = layers.Dense(EMBEDDING_SIZE, name="embedding")(x)
    x = layers.Dropout(0.2)(layers.ReLU()(embedding))
    logits = layers.Dense(n_classes, name="logits")(x)
    return keras.Model(inputs, layers.Activation("softmax", name="probabilities")(logits), name="gate")


def embeddings(model, x: np.ndarray, batch_size: int = 128) -> np.ndarray:
    import keras

    head = keras.Model(model.input, model.get_layer("embedding").output)
    return np.concatenate([np.asarray(head(x[i:i + batch_size], training=False)) for i in range(0, len(x), batch_size)])


def fit_mahalanobis(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and whitening matrix W (precision = W W^T), so distance = |(f - mean) W|.

    Ledoit-Wolf shrinkage: a full 32 x 32 covariance from a few thousand films is otherwise
    noisy in its smallest directions, and those dominate a Mahalanobis distance.
    """
    from sklearn.covariance import LedoitWolf

    estimate = LedoitWolf().fit(features)
    return estimate.location_.astype(np.float32), np.linalg.cholesky(estimate.precision_).astype(np.float32)


def serving_model(model, mean: np.ndarray, whitening: np.ndarray):
    """The network with the distance score as a second output, as one Keras model."""
    import keras
    from keras import layers

    whiten = layers.Dense(len(mean), name="whiten", trainable=False)
    centred = whiten(model.get_layer("embedding").output)
    whiten.set_weights([whitening, -mean @ whitening])  # (f - mean) W = f W - mean W
    distance = layers.Lambda(lambda z: keras.ops.sqrt(keras.ops.sum(keras.ops.square(z), axis=-1)),
                             name="ood_distance")(centred)
    return keras.Model(model.input, {"probabilities": model.output, "ood_distance": distance})


def export_gate(model, mean: np.ndarray, whitening: np.ndarray, path: str | Path, *, probe: np.ndarray) -> float:
    """Write the LiteRT file; return its largest relative difference from Keras on `probe` inputs.

    Raises above 1e-3 (relative to the output's scale: distances run into the hundreds).
    """
    served = serving_model(model, mean, whitening)
    path = Path(path)
    served.export(str(path), format="litert", verbose=False)
    expected = served(probe, training=False)
    got = _run_litert(path, probe)
    worst = max(float(np.abs(np.asarray(expected[key]) - got[key]).max() / max(1.0, np.abs(got[key]).max()))
                for key in expected)
    if not worst <= AGREEMENT_TOLERANCE:  # also catches NaN
        raise RuntimeError(f"LiteRT gate outputs differ from Keras by {worst:.2e} (> {AGREEMENT_TOLERANCE})")
    return worst


def _run_litert(path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner()
    return {key: value for key, value in runner(pixels=x).items()}

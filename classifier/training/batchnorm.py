"""Precise BatchNorm statistics: re-estimated on the training images before each validation.

During training, BatchNorm keeps moving averages of its inputs' mean and variance over the
last ~10 batches (momentum 0.9) of *augmented* images, and those averages are what validation
and serving use. On this data that made validation accuracy swing by up to 0.3 from one epoch
to the next, and still by 0.03 when the weights barely moved (learning rate 3e-5, in a run that
averaged the weights), so the checkpoint chosen on validation loss was partly a draw of the last batches.
Recomputing the statistics as the plain average over every training image, unaugmented, removes
that draw ("precise BN", Wu and Johnson 2021): validation accuracy then moves smoothly. It did
not make a better network here (see classifier/MODEL_CARD.md), so it is an option, off by default.
"""

import numpy as np


def precise_batchnorm_callback(x_train: np.ndarray, batch_size: int):
    import keras

    class PreciseBatchNorm(keras.callbacks.Callback):
        def on_test_begin(self, logs=None):  # fit() validates through evaluate(), which calls this
            recompute_statistics(self.model, x_train, batch_size)

    return PreciseBatchNorm()


def recompute_statistics(model, x: np.ndarray, batch_size: int) -> None:
    """Set every BatchNormalization layer's moving mean/variance to the average over `x`'s batches.

    A forward pass in training mode updates moving = m * moving + (1 - m) * batch; with
    m = (k - 1) / k for the k-th batch the result is the exact mean of the batch statistics.
    """
    import keras

    # _flatten_layers also reaches BatchNorm inside nested models (ensemble members).
    layers = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in layers]
    try:
        for k, start in enumerate(range(0, len(x) - batch_size + 1, batch_size), start=1):
            for layer in layers:
                layer.momentum = (k - 1) / k
            model(x[start:start + batch_size], training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum

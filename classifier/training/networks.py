"""The three architectures, selectable by name.

Every network takes (size, size, 1) pixels in [0, 1] (from `to_model_input`) and ends in a
Dense layer named "logits" followed by a softmax named "probabilities": calibration reads the
logits, and networks that pool globally just before "logits" also name their last feature
maps "features", which gives an exact class activation map (CAM) at serving time.
"""

from dataclasses import dataclass, field
from typing import Callable

import keras
from keras import layers

from classifier.labels import LABELS


@dataclass(frozen=True)
class Architecture:
    name: str
    input_size: int
    batch_size: int
    learning_rate: float
    epochs: int
    build: Callable[[int], keras.Model]
    augmentation: Callable[[], list] = field(repr=False)
    description: str = ""


def _head(x, *, dropout: float):
    x = layers.Dropout(dropout)(x)
    logits = layers.Dense(len(LABELS), name="logits")(x)
    return layers.Activation("softmax", name="probabilities")(logits)


def build_paper(size: int = 70) -> keras.Model:
    """The paper's network: 3 convolutions and 2 dropout layers on 70x70 grayscale."""
    inputs = keras.Input((size, size, 1))
    x = inputs
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(128, activation="relu")(x)
    return keras.Model(inputs, _head(x, dropout=0.5), name="paper")


def build_blog(size: int = 224) -> keras.Model:
    """The blog's network: 224x224x3, three conv blocks with growing filters, flatten, dense.

    Grayscale is repeated to 3 channels inside the model, as the blog fed RGB-converted films.
    """
    inputs = keras.Input((size, size, 1))
    x = layers.Concatenate()([inputs, inputs, inputs])
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu")(x)
    return keras.Model(inputs, _head(x, dropout=0.5), name="blog")


def _normalise(x, *, name: str | None = None):
    # Momentum 0.9, not Keras' 0.99: these activations have a small variance, and with 0.99 the
    # moving variance stays near its initial 1.0 for ~1000 steps, so validation (which uses the
    # moving statistics) predicted a single class for the first epochs.
    x = layers.BatchNormalization(momentum=0.9)(x)
    return layers.ReLU(name=name)(x)


def _separable_block(x, filters: int):
    for _ in range(2):
        x = _normalise(layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x))
    return x


def build_own(size: int = 160) -> keras.Model:
    """The project's network: a strided stem, BatchNorm separable blocks, global average pooling.

    A stride-2 stem and separable convolutions keep training affordable on two CPU cores;
    global pooling makes it small (about 0.2M parameters) and gives exact CAM heatmaps.
    """
    inputs = keras.Input((size, size, 1))
    x = _normalise(layers.Conv2D(32, 5, strides=2, padding="same", use_bias=False)(inputs))
    x = _normalise(layers.Conv2D(32, 3, padding="same", use_bias=False)(x))
    for filters in (64, 128, 256):
        x = layers.MaxPooling2D()(x)
        x = _separable_block(x, filters)
    # No pooling before the last layer: its maps (1/16 of the input) are the CAM's resolution.
    x = _normalise(layers.SeparableConv2D(256, 3, padding="same", use_bias=False)(x), name="features")
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, _head(x, dropout=0.3), name="own")


def _radiograph_augmentation() -> list:
    """Changes a radiograph can plausibly undergo: exposure, contrast, slight tilt and shift.

    No horizontal flip (it moves the heart) and no large zoom (it made normal lungs look
    consolidated in the paper).
    """
    return [
        layers.RandomBrightness(0.15, value_range=(0.0, 1.0)),
        layers.RandomContrast(0.2, value_range=(0.0, 1.0)),
        layers.RandomRotation(0.02, fill_mode="constant"),
        layers.RandomTranslation(0.05, 0.05, fill_mode="constant"),
        layers.RandomZoom((-0.05, 0.05), fill_mode="constant"),
    ]


def _paper_augmentation() -> list:
    return [layers.RandomBrightness(0.2, value_range=(0.0, 1.0))]


def _blog_augmentation() -> list:
    return [
        layers.RandomFlip("horizontal"),
        layers.RandomZoom(0.2),
        layers.RandomShear(0.2),
    ]


ARCHITECTURES = {
    "paper": Architecture(
        "paper", 70, 128, 1e-3, 60, build_paper, _paper_augmentation,
        "3 conv + 2 dropout, 70x70x1, brightness augmentation, batch 128",
    ),
    "blog": Architecture(
        "blog", 224, 32, 1e-3, 10, build_blog, _blog_augmentation,
        "3 conv blocks (32/64/128), flatten, dense 64, 224x224x3, shear/zoom/flip augmentation",
    ),
    "own": Architecture(
        "own", 160, 32, 2e-3, 45, build_own, _radiograph_augmentation,
        "strided stem + BatchNorm separable blocks + global average pooling, 160x160x1",
    ),
}


def get_architecture(name: str) -> Architecture:
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"Unknown architecture {name!r}; choose from {', '.join(ARCHITECTURES)}") from None


def build_tiny(size: int = 32) -> keras.Model:
    """A few-thousand-parameter network of the same shape as `own`, for tests and smoke runs."""
    inputs = keras.Input((size, size, 1))
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = layers.SeparableConv2D(16, 3, padding="same", activation="relu", name="features")(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, _head(x, dropout=0.0), name="tiny")


ARCHITECTURES["tiny"] = Architecture(
    "tiny", 32, 16, 1e-2, 1, build_tiny, _radiograph_augmentation, "test-sized network, 32x32x1",
)

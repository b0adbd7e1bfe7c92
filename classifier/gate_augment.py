"""Random changes made to the gate's training images, on the raw pixels, before `gate_input`.

Chest films get what an upload of a whole frontal film can look like: exposure, contrast, a
slight tilt, a tighter or looser frame, black borders, a mirror image. Negatives get more
(larger crops, quarter turns). Both get blur *and* sharpening, JPEG and noise, so sharpness
cannot tell the classes apart: several not-cxr sources are blurry (MedNIST was 64 px), but a
sharp film must pass and a sharp negative must be refused.
"""

import io

import numpy as np
from PIL import Image, ImageFilter, ImageOps

_TURNS = (Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180, Image.Transpose.ROTATE_270)


def augment_chest(rng, pixels: np.ndarray) -> np.ndarray:
    # The frame keeps at least 88 % of each side: lungs_cut_off crops keep at most 55 %.
    image = _frame(rng, Image.fromarray(pixels), keep=0.88)
    if rng.random() < 0.3:
        image = ImageOps.mirror(image)
    if rng.random() < 0.5:
        image = image.rotate(rng.uniform(-7, 7), resample=Image.Resampling.BILINEAR)
    if rng.random() < 0.2:
        image = _pad(rng, image, most=0.08)
    return _finish(rng, image)


def augment_negative(rng, pixels: np.ndarray, *, turn: bool = True) -> np.ndarray:
    """`turn`: quarter turns too (not for lateral films: a lateral on its side is no test case)."""
    image = _frame(rng, Image.fromarray(pixels), keep=0.6)
    if rng.random() < 0.5:
        image = ImageOps.mirror(image)
    if turn and rng.random() < 0.3:
        image = image.transpose(_TURNS[rng.integers(3)])
    if rng.random() < 0.4:
        image = image.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BILINEAR)
    return _finish(rng, image)


def _frame(rng, image: Image.Image, *, keep: float) -> Image.Image:
    """A random window of at least `keep` of each side, stretched by up to 15 % one way."""
    width, height = image.size
    w, h = int(width * rng.uniform(keep, 1)), int(height * rng.uniform(keep, 1))
    left, top = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
    stretch = rng.uniform(0.85, 1.15)
    return image.crop((left, top, left + w, top + h)).resize((width, max(16, int(height * stretch))),
                                                               Image.Resampling.BILINEAR)


def _pad(rng, image: Image.Image, *, most: float) -> Image.Image:
    width, height = image.size
    border = [int(rng.uniform(0, most) * side) for side in (width, height, width, height)]
    return ImageOps.expand(image, tuple(border), fill=0)


def _finish(rng, image: Image.Image) -> np.ndarray:
    """Blur or sharpen, then exposure, then sensor noise and JPEG, each at random."""
    sharpness = rng.random()
    if sharpness < 0.25:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    elif sharpness < 0.5:
        image = image.filter(ImageFilter.UnsharpMask(radius=rng.uniform(1, 3), percent=int(rng.integers(50, 200))))
    values = np.asarray(image, dtype=np.float32) / 255
    values = values ** rng.uniform(0.65, 1.5)
    values = (values - values.mean()) * rng.uniform(0.75, 1.3) + values.mean() + rng.uniform(-0.08, 0.08)
    if rng.random() < 0.2:
        values = values + rng.normal(0, rng.uniform(0.005, 0.03), values.shape)
    pixels = np.clip(np.rint(values * 255), 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(rng.integers(30, 90)))
        pixels = np.asarray(Image.open(buffer).convert("L"))
    return pixels

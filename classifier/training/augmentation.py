"""Training-only augmentation: one chain of random changes to films, for the classifier and the gate.

The classifier's (issue 18: the film's markers, its frame and its acquisition must not tell the
class). The sources of the dataset differ in things that are not the disease: laterality markers and
burned-in text (Spanish "D"/"I" and "DCHA." on PadChest COVID-19 films), annotation arrows,
black borders, and sharpness (native-resolution COVID-19 films, upscaled normals). Drawing
these on films of *every* class at random makes them useless as cues. `augment_cues` works on
model inputs (float32 in [0, 1], (size, size, 1)).

The gate's, on the raw pixels before `gate_input`: chest films get what an upload of a whole
frontal film can look like (exposure, contrast, a slight tilt, a tighter or looser frame, black
borders, a mirror image); negatives get more (larger crops, quarter turns). Both get blur *and*
sharpening, JPEG and noise, so sharpness cannot tell the classes apart: several not-cxr sources
are blurry (MedNIST was 64 px), but a sharp film must pass and a sharp negative must be refused.

Both end the same way, `sensor_and_storage`: sensor noise, then a JPEG round trip, each at random.
Serving never calls this module.
"""

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

MARKER_LETTERS = ("L", "R", "D", "I")
TEXT_SNIPPETS = ("DCHA.", "PORTABLE", "AP", "PA", "SUPINE", "ERECT", "Day 3", "12:40", "ICU", "HOSP.")


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=max(6, size))


def draw_marker(image: Image.Image, rng: np.random.Generator, *, letter: str | None = None,
                xy: tuple[int, int] | None = None, style: str | None = None, shade: int | None = None,
                size: int | None = None) -> Image.Image:
    """A laterality marker: a letter, plain, circled or boxed, bright or dark, at xy (default random).

    Each argument left out is drawn at random: letter, style, shade, size (6-12 % of the side), place.
    """
    side = image.size[0]
    letter = letter or str(rng.choice(MARKER_LETTERS))
    style = style or str(rng.choice(("plain", "circle", "box")))
    shade = int(rng.choice((235, 255, 10))) if shade is None else shade
    size = size or int(side * rng.uniform(0.06, 0.12))
    x, y = xy if xy is not None else (int(rng.integers(0, side - 2 * size)), int(rng.integers(0, side - 2 * size)))
    draw = ImageDraw.Draw(image)
    if style != "plain":
        box = (x, y, x + int(1.5 * size), y + int(1.5 * size))
        shape = draw.ellipse if style == "circle" else draw.rectangle
        shape(box, outline=shade, width=max(1, size // 8))
    draw.text((x + size // 4, y + size // 8), letter, fill=shade, font=_font(size))
    return image


def draw_text(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    side = image.size[0]
    size = int(side * rng.uniform(0.04, 0.08))
    x, y = int(rng.integers(0, side * 3 // 4)), int(rng.integers(0, side - size))
    ImageDraw.Draw(image).text((x, y), str(rng.choice(TEXT_SNIPPETS)), fill=int(rng.choice((220, 255, 15))),
                               font=_font(size))
    return image


def draw_ruler_or_arrow(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    side = image.size[0]
    draw = ImageDraw.Draw(image)
    shade = int(rng.choice((230, 255, 20)))
    if rng.random() < 0.5:  # a ruler: a line with ticks, along an edge or anywhere
        x, y = int(rng.integers(0, side // 2)), int(rng.integers(0, side))
        length = int(side * rng.uniform(0.2, 0.5))
        draw.line((x, y, x + length, y), fill=shade, width=1)
        for tick in range(x, x + length, max(2, side // 40)):
            draw.line((tick, y, tick, y - max(2, side // 60)), fill=shade, width=1)
    else:  # an annotation arrow pointing at a random spot
        tip = rng.integers(side // 5, 4 * side // 5, size=2)
        angle = rng.uniform(0, 2 * np.pi)
        length = side * rng.uniform(0.08, 0.2)
        tail = tip + length * np.array([np.cos(angle), np.sin(angle)])
        draw.line((*tail, *tip), fill=shade, width=max(1, side // 80))
        for turn in (0.4, -0.4):
            wing = tip + 0.3 * length * np.array([np.cos(angle + turn), np.sin(angle + turn)])
            draw.line((*tip, *wing), fill=shade, width=max(1, side // 80))
    return image


def reframe(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random border crop (zoom in), pad (zoom out on black) or black frame, same size out."""
    side = pixels.shape[0]
    kind = rng.choice(("crop", "pad", "frame"))
    margins = rng.integers(1, max(2, side // 10), size=4)  # top, bottom, left, right
    top, bottom, left, right = (int(m) for m in margins)
    if kind == "frame":
        framed = pixels.copy()
        framed[:top], framed[side - bottom:], framed[:, :left], framed[:, side - right:] = 0, 0, 0, 0
        return framed
    image = Image.fromarray(pixels)
    if kind == "crop":
        image = image.crop((left, top, side - right, side - bottom))
    else:
        canvas = Image.new("L", (side + left + right, side + top + bottom), 0)
        canvas.paste(image, (left, top))
        image = canvas
    return np.asarray(image.resize((side, side), Image.Resampling.BILINEAR))


def reacquire(pixels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another film of the same chest: tone curve, blur or sharpening, resampling, noise, JPEG."""
    side = pixels.shape[0]
    image = Image.fromarray(pixels)
    if rng.random() < 0.5:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)) if rng.random() < 0.6
                             else ImageFilter.UnsharpMask(radius=2, percent=int(rng.integers(50, 150))))
    if rng.random() < 0.3:  # down and up: a film that was stored small
        small = int(side * rng.uniform(0.5, 0.85))
        image = image.resize((small, small), Image.Resampling.BILINEAR).resize((side, side), Image.Resampling.BILINEAR)
    values = np.asarray(image, dtype=np.float32) / 255.0
    if rng.random() < 0.6:
        values = values ** rng.uniform(0.7, 1.4)
    return sensor_and_storage(values, rng, p_noise=0.3, p_jpeg=0.3)


def sensor_and_storage(values: np.ndarray, rng: np.random.Generator, *, p_noise: float, p_jpeg: float) -> np.ndarray:
    """The end of every chain: Gaussian sensor noise (with probability `p_noise`) on values in
    [0, 1], then 8-bit pixels, re-saved as a JPEG of random quality (with probability `p_jpeg`)."""
    if rng.random() < p_noise:
        values = values + rng.normal(0, rng.uniform(0.005, 0.03), values.shape)
    pixels = np.clip(np.rint(values * 255), 0, 255).astype(np.uint8)
    if rng.random() < p_jpeg:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=int(rng.integers(30, 90)))
        pixels = np.asarray(Image.open(buffer).convert("L"))
    return pixels


def augment_cues(x: np.ndarray, rng: np.random.Generator, *, p_marker: float = 0.5, p_text: float = 0.3,
                 p_annotation: float = 0.2, p_frame: float = 0.3, p_acquisition: float = 0.5,
                 equalise: bool = False) -> np.ndarray:
    """One model input (size, size, 1) in [0, 1] with random cues drawn in, whatever its class.

    `equalise` (for a model with histogram equalisation) equalises the result again, so the
    network trains only on equalised inputs, as it is served.
    """
    pixels = np.clip(np.rint(x[:, :, 0] * 255), 0, 255).astype(np.uint8)
    if rng.random() < p_acquisition:
        pixels = reacquire(pixels, rng)
    if rng.random() < p_frame:
        pixels = reframe(pixels, rng)
    image = Image.fromarray(pixels)
    for _ in range(int(rng.random() < p_marker) + int(rng.random() < p_marker / 3)):
        draw_marker(image, rng)
    if rng.random() < p_text:
        draw_text(image, rng)
    if rng.random() < p_annotation:
        draw_ruler_or_arrow(image, rng)
    if equalise:
        image = ImageOps.equalize(image)
    return (np.asarray(image, dtype=np.float32) / 255.0)[:, :, np.newaxis]


def augment_batch(images: np.ndarray, seed: int, *, equalise: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([augment_cues(image, rng, equalise=equalise) for image in images]).astype(np.float32)


# The gate's chain (on raw pixels of any size, before `gate_input`).
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
    """Blur or sharpen, then exposure, then `sensor_and_storage`, each at random."""
    sharpness = rng.random()
    if sharpness < 0.25:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    elif sharpness < 0.5:
        image = image.filter(ImageFilter.UnsharpMask(radius=rng.uniform(1, 3), percent=int(rng.integers(50, 200))))
    values = np.asarray(image, dtype=np.float32) / 255
    values = values ** rng.uniform(0.65, 1.5)
    values = (values - values.mean()) * rng.uniform(0.75, 1.3) + values.mean() + rng.uniform(-0.08, 0.08)
    return sensor_and_storage(values, rng, p_noise=0.2, p_jpeg=0.2)

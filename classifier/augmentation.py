"""Training-only augmentation against the shortcuts of issue 18: the film's markers, its
frame and its acquisition must not tell the class.

The sources of the dataset differ in things that are not the disease: laterality markers and
burned-in text (Spanish "D"/"I" and "DCHA." on PadChest COVID-19 films), annotation arrows,
black borders, and sharpness (native-resolution COVID-19 films, upscaled normals). Drawing
these on films of *every* class at random makes them useless as cues. Works on model inputs
(float32 in [0, 1], (size, size, 1)); serving never calls it.
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
    if rng.random() < 0.3:
        values = values + rng.normal(0, rng.uniform(0.005, 0.03), values.shape)
    out = np.clip(np.rint(values * 255), 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        buffer = io.BytesIO()
        Image.fromarray(out).save(buffer, format="JPEG", quality=int(rng.integers(30, 90)))
        out = np.asarray(Image.open(buffer).convert("L"))
    return out


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

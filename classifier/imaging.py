"""Decoding uploaded chest X-rays (PNG, JPEG, DICOM) into one 8-bit grayscale array.

The file type is decided by the content (magic bytes), never by a name or a browser's
content type. Every refusal raises `ImageRejected` with a message a clinic user can act on.
Limits are arguments, not Django settings, so training scripts can use this module too.
Checks run cheapest first: bytes, then the pixel count read from the header, and only then
the full decode, so a decompression bomb is refused before it costs memory.
"""

import io
import logging
import math
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from classifier.texts import gettext_noop

log = logging.getLogger(__name__)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
DICOM_MAGIC_OFFSET = 128

# What other files people attach by mistake, to say what the file looks like.
_LOOKALIKES = [
    (b"%PDF", gettext_noop("a PDF")),
    (b"GIF8", gettext_noop("a GIF image")),
    (b"BM", gettext_noop("a BMP image")),
    (b"II*\x00", gettext_noop("a TIFF image")),
    (b"MM\x00*", gettext_noop("a TIFF image")),
    (b"PK\x03\x04", gettext_noop("a ZIP archive or Office document")),
    (b"\xd0\xcf\x11\xe0", gettext_noop("an old Office document")),
    (b"\x1f\x8b", gettext_noop("a gzip archive")),
    (b"\x00\x00\x00\x0cjP  ", gettext_noop("a JPEG 2000 image")),
]
WEBP, HTML, XML, TEXT, OTHER_FILE = (gettext_noop("a WebP image"), gettext_noop("an HTML page"),
                                     gettext_noop("an XML or SVG file"), gettext_noop("a text file"),
                                     gettext_noop("some other kind of file"))

# The reasons a file is refused, each a whole sentence with its values as %(name)s (classifier/texts.py).
EMPTY = gettext_noop("The file is empty.")
TOO_LARGE = gettext_noop("The file (%(size)s) is larger than the %(limit)s limit.")
NOT_AN_IMAGE = gettext_noop("This file is not a PNG, JPEG or DICOM image (it looks like %(looks_like)s).")
TOO_MANY_PIXELS = gettext_noop("The image is %(width)s x %(height)s pixels (%(megapixels)s megapixels); "
                               "the limit is %(limit)s megapixels.")
TOO_FEW_PIXELS = gettext_noop("The image is only %(width)s x %(height)s pixels; a chest radiograph needs at "
                              "least %(min_side)s pixels on each side.")
BOMB = gettext_noop("The image has too many pixels to be decoded safely.")
NO_PIXEL_DATA = gettext_noop("This DICOM file contains no image (no pixel data); it may be a report or a "
                             "worklist entry.")
UNSUPPORTED_SYNTAX = gettext_noop("This DICOM file uses the %(syntax)s transfer syntax, which is not supported. "
                                  "Export it uncompressed, RLE, deflated, JPEG or JPEG 2000, or as PNG.")
DAMAGED = gettext_noop("This %(kind)s file is damaged or incomplete. Export it again, or try another copy.")


# Only syntaxes whose decoders are pinned in requirements.txt (pydicom itself; pylibjpeg-libjpeg for
# JPEG, pylibjpeg-openjpeg for JPEG 2000) and tested here; anything else is refused by name rather
# than handed to whichever optional plugin happens to be installed. The DICOM listener accepts these.
DICOM_TRANSFER_SYNTAXES = (
    "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",  # implicit/explicit LE, explicit BE
    "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.5",  # deflated explicit LE, RLE lossless
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51",  # JPEG baseline, extended
    "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70",  # JPEG lossless, lossless SV1
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91",  # JPEG 2000 lossless, JPEG 2000
)
JPEG_2000_SYNTAXES = DICOM_TRANSFER_SYNTAXES[-2:]
# The shorter side a JPEG 2000 film is decoded at when only the models need it (`at_least_side`): above
# three times the network's 160 px input and the gate's box reduction to 2 x 96 px. A 2500 x 3000 film
# decodes at 625 x 750 in a fifteenth of the time of its full resolution (issue 31).
WORKING_SIDE = 512


class ImageRejected(ValueError):
    """The upload is not an acceptable chest image; str(error) is the user-facing reason, in English (pages
    show it in the reader's language: cases/words.py)."""

    def __init__(self, text: str, **values):
        super().__init__(text % values if values else text)


@dataclass(frozen=True)
class DecodedImage:
    pixels: np.ndarray  # uint8, 2-D, grayscale, 0 = black
    format: str  # "PNG", "JPEG" or "DICOM"
    width: int
    height: int
    dicom: dict | None = None  # {"patient_id": str, "view_position": str} for DICOM

    @property
    def reduced(self) -> bool:
        """The pixels are a lower resolution level of the film (width x height), not the film itself."""
        return self.pixels.shape != (self.height, self.width)


def decode_image(data: bytes, *, max_bytes: int | None = None, max_pixels: int | None = None,
                 min_side: int | None = None, at_least_side: int | None = None) -> DecodedImage:
    """`at_least_side`: a film that stores lower resolutions of itself (a JPEG 2000 DICOM) is decoded at the
    smallest whose shorter side is still at least this many pixels; any other film, whole."""
    if not data:
        raise ImageRejected(EMPTY)
    check_file_size(len(data), max_bytes=max_bytes)
    kind = sniff_format(data)
    if kind == "DICOM":
        pixels, header, (width, height) = _decode_dicom(data, max_pixels, min_side, at_least_side)
    else:
        pixels, header = _decode_raster(data, kind, max_pixels, min_side), None
        height, width = pixels.shape
    return DecodedImage(pixels=pixels, format=kind, width=width, height=height, dicom=header)


def check_file_size(size: int, *, max_bytes: int | None) -> None:
    """Also for callers that know an upload's size before reading it into memory."""
    if max_bytes is not None and size > max_bytes:
        raise ImageRejected(TOO_LARGE, size=_size(size, rounding=math.ceil),
                            limit=_size(max_bytes, rounding=math.floor))


def sniff_format(data: bytes) -> str:
    if data.startswith(PNG_MAGIC):
        return "PNG"
    if data.startswith(JPEG_MAGIC):
        return "JPEG"
    if data[DICOM_MAGIC_OFFSET:DICOM_MAGIC_OFFSET + 4] == b"DICM":
        return "DICOM"
    raise ImageRejected(NOT_AN_IMAGE, looks_like=_looks_like(data))


def to_8bit(values: np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    """Map [low, high] (default: the image's own range) linearly onto 0..255.

    Integer pixels of up to 16 bits (most films) go through a lookup table of the same mapping,
    computed once per value present: the same result, ten times faster on a 2500 x 3000 film than
    mapping each pixel in floating point."""
    if values.dtype.kind in "ui" and values.dtype.itemsize <= 2 and values.size:
        smallest, largest = int(values.min()), int(values.max())
        table = _scaled(np.arange(smallest, largest + 1, dtype=np.float64),
                        float(smallest) if low is None else low, float(largest) if high is None else high)
        return table[values.astype(np.int32) - smallest]
    values = values.astype(np.float64)
    return _scaled(values, float(values.min()) if low is None else low, float(values.max()) if high is None else high)


def _scaled(values: np.ndarray, low: float, high: float) -> np.ndarray:
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    scaled = (values - low) * (255.0 / (high - low))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _check_size(width: int, height: int, max_pixels: int | None, min_side: int | None) -> None:
    if max_pixels is not None and width * height > max_pixels:
        raise ImageRejected(TOO_MANY_PIXELS, width=width, height=height,
                            megapixels=f"{width * height / 1e6:.1f}", limit=f"{max_pixels / 1e6:.1f}")
    if min_side is not None and min(width, height) < min_side:
        raise ImageRejected(TOO_FEW_PIXELS, width=width, height=height, min_side=min_side)


def _decode_raster(data: bytes, kind: str, max_pixels: int | None, min_side: int | None) -> np.ndarray:
    pixels = _raster_grayscale(data, kind, max_pixels=max_pixels, min_side=min_side)
    return np.asarray(pixels, dtype=np.uint8).copy() if isinstance(pixels, Image.Image) else pixels


def decode_picture(data: bytes) -> Image.Image:
    """What `decode_image(data).pixels` holds, as a Pillow image in mode L, for a caller that only
    shrinks it (the worker). A PNG or JPEG is handed over as decoded: in the worker, the two whole-film
    copies into numpy cost 2 to 8 ms per 2048 px film (fresh memory pages each case), beside 7 to 13 ms
    for the decoding itself, and shrinking needs no array."""
    kind = sniff_format(data) if data else ""
    # DICOM, and every refusal worded as decode_image words it
    pixels = _raster_grayscale(data, kind) if kind in ("PNG", "JPEG") else decode_image(data).pixels
    return pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)


def _raster_grayscale(data: bytes, kind: str, *, max_pixels: int | None = None,
                     min_side: int | None = None) -> Image.Image | np.ndarray:
    """A PNG or JPEG as 8-bit grayscale, upright: a Pillow image in mode L, or for 16-bit and float
    files an array (the range used stretched onto 8 bits)."""
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb guard warns between 1x and 2x MAX_IMAGE_PIXELS: refuse there too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[kind])
            _check_size(*image.size, max_pixels, min_side)  # from the header, before decoding
            image.load()  # a truncated file fails here (LOAD_TRUNCATED_IMAGES stays off)
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(BOMB) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise _damaged(kind, error) from None
    # Phones store JPEGs sideways with an EXIF rotation tag. In place: otherwise every upright film is
    # copied whole (about 2 ms at 2048 px, on each upload and each classification).
    ImageOps.exif_transpose(image, in_place=True)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return to_8bit(np.asarray(image))  # 16-bit: stretch the range actually used onto 8 bits
    return image if image.mode == "L" else image.convert("L")  # colour, palette, 1-bit, alpha: luminance only


def _decode_dicom(data: bytes, max_pixels: int | None, min_side: int | None,
                  at_least_side: int | None) -> tuple[np.ndarray, dict, tuple[int, int]]:
    import pydicom  # imported only when a DICOM arrives: it is slow to import
    from pydicom.pixels import apply_color_lut, pixel_array

    try:
        ds = pydicom.dcmread(io.BytesIO(data))
        syntax = ds.file_meta.TransferSyntaxUID
    except Exception as error:  # pydicom raises many types for malformed files
        raise _damaged("DICOM", error) from None
    if "PixelData" not in ds:
        raise ImageRejected(NO_PIXEL_DATA)
    if syntax not in DICOM_TRANSFER_SYNTAXES:
        raise ImageRejected(UNSUPPORTED_SYNTAX, syntax=syntax.name)
    header = {"patient_id": str(ds.get("PatientID", "") or "").strip(),
              "view_position": str(ds.get("ViewPosition", "") or "").strip().upper()}
    try:
        size = int(ds.Columns), int(ds.Rows)
        _check_size(*size, max_pixels, min_side)
        frame = _jpeg2000_frame(ds, at_least_side) if syntax in JPEG_2000_SYNTAXES else None
        if frame is None:
            frame = pixel_array(ds, index=0)  # only the first frame is a radiograph to classify
        photometric = str(ds.PhotometricInterpretation).strip()
        if photometric == "PALETTE COLOR":
            frame = apply_color_lut(frame, ds)
        if frame.ndim == 3:  # RGB (pydicom converts YBR to RGB): luminance, on its own bit depth
            luminance = frame[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
            return to_8bit(luminance, 0, float(np.iinfo(frame.dtype).max)), header, size
        pixels = _monochrome_to_8bit(frame, ds)
    except ImageRejected:
        raise
    except Exception as error:
        raise _damaged("DICOM", error) from None
    if photometric == "MONOCHROME1":  # 0 means white in MONOCHROME1
        pixels = 255 - pixels
    return pixels, header, size


def _jpeg2000_frame(ds, at_least_side: int | None) -> np.ndarray | None:
    """The first frame of a grayscale JPEG 2000 film, decoded by Pillow's openjpeg: whole, or with
    `at_least_side` at the smallest of its resolution levels (each halves both sides) whose shorter side
    is at least that, without decoding the finer levels at all.

    Pillow's decoder, not pydicom's (pylibjpeg-openjpeg): the same pixels, but it lets other threads run
    while it decodes, where pylibjpeg holds the interpreter lock for the whole second, and so stops every
    other association of the DICOM listener. None leaves the frame to pydicom: colour or signed pixels, a
    codestream that disagrees with the header, or one Pillow cannot decode (pydicom then says whether the
    file is damaged).
    """
    rows, columns = int(ds.Rows), int(ds.Columns)
    if int(ds.get("SamplesPerPixel", 1)) != 1 or int(ds.get("PixelRepresentation", 0)) != 0:
        return None
    levels = 0
    while at_least_side and -(-min(rows, columns) // 2 ** (levels + 1)) >= at_least_side:
        levels += 1
    try:
        from pydicom.encaps import get_frame

        codestream = get_frame(ds.PixelData, 0, number_of_frames=int(ds.get("NumberOfFrames", 1) or 1))
        image = Image.open(io.BytesIO(codestream), formats=["JPEG2000"])
        if image.size != (columns, rows) or image.mode not in ("L", "I;16"):
            return None
        image.reduce = min(levels, _decomposition_levels(codestream))
        image.load()
        return np.asarray(image)
    except Exception as error:  # noqa: BLE001 - Pillow and openjpeg raise many types
        log.info("Leaving a JPEG 2000 frame to pydicom: %s: %s", type(error).__name__, error)
        return None


def _decomposition_levels(codestream: bytes) -> int:
    """The wavelet levels of a JPEG 2000 codestream, from its main header's COD marker segment (ISO/IEC
    15444-1 A.6.1); 0 (decode it whole) when a COC segment may set others for the component, or there is
    no COD."""
    position = 2  # after SOC
    while position + 4 <= len(codestream):
        marker, length = struct.unpack(">HH", codestream[position:position + 4])
        if marker == 0xFF52 and position + 9 < len(codestream):  # COD: Lcod, Scod, SGcod (4), then the levels
            return codestream[position + 9]
        if marker in (0xFF53, 0xFF90):  # COC, or SOT: the main header ended without a COD
            return 0
        position += 2 + length
    return 0


def _monochrome_to_8bit(frame: np.ndarray, ds) -> np.ndarray:
    """Modality LUT (rescale slope/intercept), then the first VOI window, as a viewer would."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    values = apply_modality_lut(frame, ds)
    centre, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    if centre is not None and width is not None and width >= 1:
        # DICOM PS3.3 C.11.2.1.2 linear window: [c - 0.5 - (w-1)/2, c - 0.5 + (w-1)/2] -> full range
        return to_8bit(values, centre - 0.5 - (width - 1) / 2, centre - 0.5 + (width - 1) / 2)
    if "VOILUTSequence" in ds:
        return to_8bit(apply_voi_lut(values, ds, index=0))
    return to_8bit(values)


def _first(value) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, Sequence) and not isinstance(value, str):  # several windows: the first
        value = value[0] if len(value) else None
    return None if value is None else float(value)


def _damaged(kind: str, error: Exception) -> ImageRejected:
    # The library's words ("cannot identify image file", "5 bytes not processed") help whoever
    # reads the log, not the user; they never reach the page.
    log.info("Refused a damaged %s upload: %s: %s", kind, type(error).__name__, error)
    return ImageRejected(DAMAGED, kind=kind)


def _looks_like(data: bytes) -> str:
    for magic, name in _LOOKALIKES:
        if data.startswith(magic):
            return name
    if data[8:12] == b"WEBP" and data.startswith(b"RIFF"):
        return WEBP
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")):
        return HTML
    if head.startswith(b"<?xml") or head.startswith(b"<svg"):
        return XML
    try:
        data[:4096].decode("utf-8")
        return TEXT
    except UnicodeDecodeError:
        return OTHER_FILE


def _size(size: int, *, rounding) -> str:
    """Bytes for people, to a tenth of a kB or MB: a file is rounded up and a limit down, so a file
    one byte over the limit never reads as the same size."""
    for unit, scale in (("MB", 1024 * 1024), ("kB", 1024)):
        if size >= scale:
            tenths = rounding(size * 10 / scale)
            return f"{tenths // 10} {unit}" if tenths % 10 == 0 else f"{tenths / 10:.1f} {unit}"
    return f"{size} bytes"

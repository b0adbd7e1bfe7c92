"""The display image: the one derived copy of a film that browsers are shown and the worker reads;
and the pixels the models classify (`classification_pixels`).

At most DISPLAY_MAX_SIDE on its long side, so a 7000 px film costs the web server one bounded
resize and the worker a bounded decode and heatmap (the network's input is 160 px anyway). An
upload that already is an 8-bit grayscale PNG of a displayable size is kept as it is, with only
its image chunks (IHDR, IDAT, IEND): no re-encoding, and no text or metadata chunk a user sent.
The original stays untouched for download.

A JPEG 2000 film (issue 31) is different: decoding all of its 2500 x 3000 pixels takes about a
second, and the models need a sixteenth of them, which JPEG 2000 stores as a lower resolution level.
Intake decodes that level only, files the case, and queues its display for the upkeep worker
(`make_display`) while the classification worker classifies the film from the same level; until it is
made the case's `display_name` is empty and `display_name_of` makes it on first need. The display is
the same full-quality PNG either way.
"""

import io
import struct
import zlib

from PIL import Image

from classifier.imaging import JPEG_2000_SYNTAXES, WORKING_SIDE, DecodedImage, decode_image
from classifier.preprocessing import Pixels, load_picture

from .. import storage
from ..models import Case
from ..storage.columns import discard

DISPLAY_MAX_SIDE = 2048
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMAGE_CHUNKS = (b"IHDR", b"IDAT", b"IEND")
GRAYSCALE, EIGHT_BITS = 0, 8


def display_png(image: DecodedImage, data: bytes) -> bytes:
    if image.format == "PNG" and max(image.width, image.height) <= DISPLAY_MAX_SIDE:
        kept = image_chunks(data)
        if kept is not None:
            return kept
    if image.reduced:  # decoded for the models only: the display is made from every pixel of the film
        image = decode_image(data)
    picture = Image.fromarray(image.pixels)
    if max(picture.size) > DISPLAY_MAX_SIDE:
        # reducing_gap: shrink by whole factors first (cheap), then a true Lanczos filter.
        picture.thumbnail((DISPLAY_MAX_SIDE, DISPLAY_MAX_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    buffer = io.BytesIO()
    # Level 1: a film barely compresses further, and higher levels cost several times the time.
    picture.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def image_chunks(data: bytes) -> bytes | None:
    """The PNG rebuilt from its IHDR, IDAT and IEND chunks, when it is 8-bit grayscale with no
    orientation tag (which decoding would have applied); otherwise None (re-encode it)."""
    chunks, position = [], len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        end = position + 12 + length
        body = data[position + 8:position + 8 + length]
        if end > len(data) or zlib.crc32(kind + body) != struct.unpack(">I", data[end - 4:end])[0]:
            return None
        if kind == b"eXIf":
            return None
        if kind in IMAGE_CHUNKS:
            chunks.append(data[position:end])
        position = end
        if kind == b"IEND":
            break
    if not chunks or chunks[0][4:8] != b"IHDR" or chunks[-1][4:8] != b"IEND":
        return None
    bit_depth, colour_type = chunks[0][16], chunks[0][17]
    if (colour_type, bit_depth) != (GRAYSCALE, EIGHT_BITS):
        return None
    return PNG_SIGNATURE + b"".join(chunks)


def display_name_of(case: Case) -> str:
    """The storage name of the case's display PNG, made now from the original when intake left it for later.

    Claimed by compare-and-set on the empty column, as the heatmap composite is: when two makers race
    (the upkeep worker, a page asking for the image), the loser deletes its own file and uses the winner's.
    """
    if case.display_name:
        return case.display_name
    with storage.open_file(case.image_name) as handle:
        data = handle.read()
    name = storage.save_bytes(display_png(decode_image(data), data), ".png")
    if not Case.objects.filter(pk=case.pk, display_name="").update(display_name=name):
        discard([name])
        case.refresh_from_db(fields=["display_name"])
        return case.display_name
    case.display_name = name
    return name


def make_display(case_id: int) -> bool:
    """The upkeep worker's task, queued by intake after the commit: the display of a film intake decoded at a
    lower resolution. In a process of its own, not the listener's: a JPEG 2000 decode holds Python's
    interpreter lock for its whole second (Pillow's and pylibjpeg's alike), which would stop every other
    association the listener is receiving. False when the case is gone."""
    case = Case.objects.filter(pk=case_id).first()
    if case is None:
        return False
    display_name_of(case)
    return True


def classification_pixels(case: Case) -> Pixels:
    """The 8-bit pixels the models (the served one, the gate, those on trial) classify the case's film from.

    The display's, except for a JPEG 2000 film: its original at a lower resolution level (at least
    WORKING_SIDE on its shorter side), as intake decoded it. Chosen by the film's transfer syntax, never by
    whether the display is made yet, so a film always gets the same prediction; within 0.05 of the
    probabilities of the same film sent uncompressed (tests/test_jpeg2000_films.py).
    """
    if case.image_format == "DICOM":
        import pydicom  # imported only for a DICOM: it is slow to import

        with storage.open_file(case.image_name) as handle:
            if pydicom.dcmread(handle, stop_before_pixels=True).file_meta.TransferSyntaxUID in JPEG_2000_SYNTAXES:
                handle.seek(0)
                return decode_image(handle.read(), at_least_side=WORKING_SIDE).pixels
    with storage.open_file(display_name_of(case)) as handle:
        return load_picture(handle.read())  # a Pillow image: the gate and model only shrink it, no array copy

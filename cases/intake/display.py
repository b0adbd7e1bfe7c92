"""The display image: the one derived copy of a film that browsers are shown and the worker reads.

At most DISPLAY_MAX_SIDE on its long side, so a 7000 px film costs the web server one bounded
resize and the worker a bounded decode and heatmap (the network's input is 160 px anyway). An
upload that already is an 8-bit grayscale PNG of a displayable size is kept as it is, with only
its image chunks (IHDR, IDAT, IEND): no re-encoding, and no text or metadata chunk a user sent.
The original stays untouched for download.
"""

import io
import struct
import zlib

from PIL import Image

from classifier.imaging import DecodedImage

DISPLAY_MAX_SIDE = 2048
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMAGE_CHUNKS = (b"IHDR", b"IDAT", b"IEND")
GRAYSCALE, EIGHT_BITS = 0, 8


def display_png(image: DecodedImage, data: bytes) -> bytes:
    if image.format == "PNG" and max(image.width, image.height) <= DISPLAY_MAX_SIDE:
        kept = image_chunks(data)
        if kept is not None:
            return kept
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

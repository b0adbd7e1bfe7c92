"""Decoding uploads: every accepted format becomes one 8-bit grayscale array, every bad file a clear refusal."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image
from pydicom import uid

from classifier.imaging import ImageRejected, decode_image
from cxrsite.testing.dicoms import dicom_bytes, encapsulated_dicom_bytes, jpeg2000_dicom_bytes, jpeg_dicom_bytes
from cxrsite.testing.images import chest_like_array, encode, jpeg_bytes, png_bytes

DAMAGED = "This {} file is damaged or incomplete. Export it again, or try another copy."


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny real PNG whose header claims a huge size: a decompression bomb's first bytes."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def rejection(data: bytes, **limits) -> str:
    with pytest.raises(ImageRejected) as caught:
        decode_image(data, **limits)
    return str(caught.value)


def test_a_png_decodes_to_its_own_grayscale_pixels():
    pixels = chest_like_array(256)
    decoded = decode_image(encode(pixels, "PNG"))
    assert (decoded.format, decoded.width, decoded.height, decoded.dicom) == ("PNG", 256, 256, None)
    assert decoded.pixels.dtype == np.uint8
    assert np.array_equal(decoded.pixels, pixels)


def test_a_jpeg_decodes_close_to_the_original():
    decoded = decode_image(jpeg_bytes(256))
    assert decoded.format == "JPEG" and decoded.pixels.shape == (256, 256)
    assert np.abs(decoded.pixels.astype(int) - chest_like_array(256).astype(int)).mean() < 6


def test_a_colour_png_is_converted_to_grayscale():
    decoded = decode_image(encode(chest_like_array(200), "PNG", mode="RGB"))
    assert decoded.pixels.ndim == 2 and np.array_equal(decoded.pixels, chest_like_array(200))


def test_a_16_bit_png_is_stretched_onto_8_bits():
    wide = (chest_like_array(160).astype(np.uint16) * 200)
    decoded = decode_image(encode(wide, "PNG"))
    assert decoded.pixels.dtype == np.uint8
    assert decoded.pixels.min() == 0 and decoded.pixels.max() == 255


def test_an_uncompressed_dicom_returns_pixels_patient_id_and_view():
    pixels = chest_like_array(192)
    decoded = decode_image(dicom_bytes(pixels, patient_id="H-42", view_position="AP"))
    assert decoded.format == "DICOM" and (decoded.width, decoded.height) == (192, 192)
    assert decoded.dicom == {"patient_id": "H-42", "view_position": "AP"}
    expected = np.rint((pixels - float(pixels.min())) * 255 / (pixels.max() - float(pixels.min())))
    assert np.array_equal(decoded.pixels, expected.astype(np.uint8))


@pytest.mark.parametrize("syntax", [uid.RLELossless, uid.DeflatedExplicitVRLittleEndian])
def test_rle_and_deflated_dicoms_decode_to_the_same_pixels_as_uncompressed(syntax):
    pixels = (chest_like_array(160).astype(np.uint16) * 16)
    plain = decode_image(dicom_bytes(pixels)).pixels
    assert np.array_equal(decode_image(dicom_bytes(pixels, syntax=syntax)).pixels, plain)


def test_a_16_bit_monochrome1_dicom_is_rescaled_windowed_and_inverted():
    raw = np.array([[0, 500, 1000, 1500, 2000, 4000]] * 6, dtype=np.uint16)
    data = dicom_bytes(raw, photometric="MONOCHROME1", rescale=(2.0, -1000.0), window=(1000.5, 2001))
    pixels = decode_image(data).pixels
    # rescaled: -1000, 0, 1000, 2000, 3000, 7000; window [0, 2000] -> 0, 0, 127.5, 255, 255, 255; inverted
    assert pixels[0].tolist() == [255, 255, 127, 0, 0, 0]


def test_a_dicom_without_a_window_uses_its_full_range():
    raw = np.array([[100, 200, 300, 400]] * 4, dtype=np.uint16)
    assert decode_image(dicom_bytes(raw)).pixels[0].tolist() == [0, 85, 170, 255]


def test_an_empty_file_is_refused():
    assert rejection(b"") == "The file is empty."


@pytest.mark.parametrize(("data", "looks_like"), [
    (b"%PDF-1.7\n1 0 obj <<>> endobj\n", "a PDF"),
    (b"<!DOCTYPE html><html><body>hello</body></html>", "an HTML page"),
    (b"GIF89a" + bytes(100), "a GIF image"),
    (b"just some notes about the patient", "a text file"),
])
def test_a_file_of_another_type_is_named_in_the_refusal(data, looks_like):
    assert rejection(data) == f"This file is not a PNG, JPEG or DICOM image (it looks like {looks_like})."


def test_a_truncated_png_is_refused():
    assert rejection(png_bytes()[:-2000]) == DAMAGED.format("PNG")


def test_a_truncated_jpeg_is_refused():
    assert rejection(jpeg_bytes()[:-1500]) == DAMAGED.format("JPEG")


def test_a_file_over_the_byte_limit_is_refused_before_decoding():
    message = rejection(png_bytes(), max_bytes=10_000)
    assert message.startswith("The file (") and message.endswith(") is larger than the 9.7 kB limit.")


def test_a_pixel_bomb_is_refused_from_its_header():
    bomb = png_claiming_size(9_000, 9_000)
    assert len(bomb) < 200
    assert "(81.0 megapixels); the limit is 50.0 megapixels" in rejection(bomb, max_pixels=50_000_000)


def test_a_pixel_bomb_is_refused_even_without_a_limit_from_the_caller():
    assert rejection(png_claiming_size(100_000, 100_000)) == "The image has too many pixels to be decoded safely."


def test_a_dicom_claiming_too_many_pixels_is_refused_before_decoding():
    assert "megapixels" in rejection(dicom_bytes(chest_like_array(256)), max_pixels=256 * 255)


def test_an_image_too_small_to_be_a_radiograph_is_refused():
    message = rejection(png_bytes(64), min_side=128)
    assert message == "The image is only 64 x 64 pixels; a chest radiograph needs at least 128 pixels on each side."


def test_a_dicom_without_pixel_data_is_refused():
    assert "no pixel data" in rejection(dicom_bytes(None))


def test_jpeg_and_jpeg_2000_dicoms_decode_to_the_film_they_compress():
    pixels = chest_like_array(192)
    plain = decode_image(dicom_bytes(pixels)).pixels
    assert np.array_equal(decode_image(jpeg2000_dicom_bytes(pixels)).pixels, plain)  # lossless
    lossy = decode_image(jpeg_dicom_bytes(pixels)).pixels.astype(int)
    assert lossy.shape == plain.shape and np.abs(lossy - plain).mean() < 6  # JPEG baseline at quality 95


def test_a_dicom_in_an_unsupported_transfer_syntax_is_refused_naming_it():
    message = rejection(encapsulated_dicom_bytes(chest_like_array(192), uid.MPEG2MPML, format="JPEG"))
    assert "MPEG2 Main Profile / Main Level" in message and "not supported" in message


def test_a_truncated_dicom_is_refused():
    assert rejection(dicom_bytes(chest_like_array(192))[:9000]) == DAMAGED.format("DICOM")


def test_a_jpeg_rotated_by_its_exif_tag_is_turned_upright():
    tall = chest_like_array(256)[:, :160]
    image = Image.fromarray(np.ascontiguousarray(np.rot90(tall)))
    exif = Image.Exif()
    exif[0x0112] = 8  # orientation: rotate 90 clockwise to view
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif.tobytes())
    decoded = decode_image(buffer.getvalue())
    assert (decoded.width, decoded.height) == (160, 256)


def test_a_colour_dicom_is_reduced_to_its_luminance():
    gray = chest_like_array(160)
    decoded = decode_image(dicom_bytes(np.stack([gray] * 3, axis=-1), photometric="RGB"))
    assert decoded.pixels.shape == (160, 160)
    assert np.abs(decoded.pixels.astype(int) - gray.astype(int)).max() <= 1

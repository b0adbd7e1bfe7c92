"""DICOM files written with pydicom for tests: real files, built the way modalities build them."""

import io
import struct
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom import uid
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate


def dicom_bytes(pixels: np.ndarray | None, *, syntax=uid.ExplicitVRLittleEndian, photometric: str = "MONOCHROME2",
                patient_id: str = "MRN-100", view_position: str = "PA", rescale: tuple[float, float] | None = None,
                window: tuple[float, float] | None = None, extra: dict | None = None) -> bytes:
    """A chest X-ray DICOM; `pixels=None` writes one without pixel data (a report-like object).

    `extra` sets more attributes by keyword (`{"PatientSex": "F", "SOPInstanceUID": ...}`).
    """
    ds = _dataset(uid.ExplicitVRLittleEndian if syntax == uid.RLELossless else syntax, patient_id, view_position)
    for keyword, value in (extra or {}).items():
        setattr(ds, keyword, value)
    ds.file_meta.MediaStorageSOPInstanceUID, ds.file_meta.MediaStorageSOPClassUID = ds.SOPInstanceUID, ds.SOPClassUID
    if pixels is not None:
        _set_pixels(ds, pixels, photometric)
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if syntax == uid.RLELossless:
        ds.compress(uid.RLELossless, encoding_plugin="pydicom")
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def jpeg2000_dicom_bytes(pixels: np.ndarray, *, patient_id: str = "MRN-100") -> bytes:
    """A JPEG 2000 compressed DICOM whose codestream Pillow encodes."""
    return encapsulated_dicom_bytes(pixels, uid.JPEG2000Lossless, patient_id=patient_id, format="JPEG2000",
                                    no_jp2=True)


def jpeg_dicom_bytes(pixels: np.ndarray, *, patient_id: str = "MRN-100") -> bytes:
    """A JPEG baseline (8-bit lossy) DICOM, as many X-ray units send; Pillow encodes the frame."""
    return encapsulated_dicom_bytes(pixels, uid.JPEGBaseline8Bit, patient_id=patient_id, format="JPEG", quality=95)


def encapsulated_dicom_bytes(pixels: np.ndarray, syntax, *, patient_id: str = "MRN-100", **pillow) -> bytes:
    """A DICOM labelled with a compressed `syntax` whose one frame Pillow encodes with `pillow` options."""
    ds = _dataset(syntax, patient_id, "PA")
    _set_pixels(ds, pixels, "MONOCHROME2")
    codestream = io.BytesIO()
    Image.fromarray(pixels).save(codestream, **pillow)
    ds.PixelData = encapsulate([codestream.getvalue()])
    ds["PixelData"].VR = "OB"
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def write_large_dicom(path: Path, *, side: int, patient_id: str = "MRN-100") -> int:
    """A 16-bit `side` x `side` film written to `path` without ever holding its pixels in memory (a
    10240 px side is 200 MiB); returns the file's size."""
    header = _dataset(uid.ExplicitVRLittleEndian, patient_id, "PA")
    header.Rows = header.Columns = side
    header.SamplesPerPixel, header.PhotometricInterpretation = 1, "MONOCHROME2"
    header.BitsAllocated = header.BitsStored = 16
    header.HighBit, header.PixelRepresentation = 15, 0
    length = side * side * 2
    with path.open("wb") as file:
        header.save_as(file, enforce_file_format=True)
        file.write(b"\xe0\x7f\x10\x00OW\x00\x00" + struct.pack("<I", length))  # (7FE0,0010) OW, then its value
        row = bytes(side * 2)
        for _ in range(side):
            file.write(row)
        return file.tell()


def _dataset(syntax, patient_id: str, view_position: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = uid.DigitalXRayImageStorageForPresentation
    meta.MediaStorageSOPInstanceUID = uid.generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uid.generate_uid(), uid.generate_uid()
    ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "1", 1, 1
    ds.Modality = "DX"
    ds.PatientID = patient_id
    ds.PatientName = "Test^Patient"
    ds.ViewPosition = view_position
    ds.BodyPartExamined = "CHEST"
    return ds


def _set_pixels(ds: Dataset, pixels: np.ndarray, photometric: str) -> None:
    ds.Rows, ds.Columns = pixels.shape[:2]
    ds.SamplesPerPixel = 3 if pixels.ndim == 3 else 1
    if pixels.ndim == 3:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = ds.BitsStored = pixels.dtype.itemsize * 8
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.tobytes()
    ds["PixelData"].VR = "OW" if pixels.dtype.itemsize == 2 else "OB"

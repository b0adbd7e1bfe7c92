"""The DICOM objects sent back beside the original study: a Structured Report and a Secondary Capture.

Both carry the original's patient and study (same Study Instance UID), each in a series of its own
(PS3.3 C.7.3.1: one modality per series): viewers that hide SR series must still show the capture.
The report holds the AI suggestion, its probabilities and model version and, once signed,
the radiologist's finding and note; the capture is the film with the heatmap and the words
"AI suggestion, not a diagnosis" burned in, for viewers that cannot show a report.
"""

import io

import highdicom as hd
import numpy as np
import pydicom
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from classifier import labels

from .. import storage
from ..models import Prediction, Review

MANUFACTURER = "CXR Triage"
SCHEME = "99CXRTRIAGE"  # our private coding scheme (PS3.16 8.2: "99" prefixes are local)
WARNING = "AI suggestion, not a diagnosis"
REPORT_SERIES = (9001, "CXR Triage report: AI suggestion and review")
CAPTURE_SERIES = (9002, f"CXR Triage heatmap: {WARNING}")
NO_UNITS = hd.sr.CodedConcept("1", "UCUM", "no units")
CONTAINS = hd.sr.RelationshipTypeValues.CONTAINS


def concept(value: str, meaning: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(value, SCHEME, meaning)


def structured_report(*, source: Dataset, prediction: Prediction | None, review: Review | None, series_uid: str,
                      previous: Dataset | None = None) -> Dataset:
    """A Comprehensive SR; with a review it is complete and verified, else a preliminary suggestion."""
    code, text, number = hd.sr.CodeContentItem, hd.sr.TextContentItem, hd.sr.NumContentItem
    items = [] if prediction is None else [  # None: no suggestion people may see (a blind or human read)
        _contained(code, concept("ai-suggestion", WARNING), _finding_code(prediction.label)),
        _contained(text, hd.sr.CodedConcept("111001", "DCM", "Algorithm Name"), MANUFACTURER),
        _contained(text, hd.sr.CodedConcept("111003", "DCM", "Algorithm Version"), prediction.model_version.name),
        *(_contained(number, concept(f"p-{label}", f"Probability of {labels.FINDING_NAMES[label]}"),
                     round(float(prediction.probabilities[label]), 6), NO_UNITS) for label in labels.LABELS),
    ]
    if review is not None:
        items.append(_contained(code, hd.sr.CodedConcept("121071", "DCM", "Finding"), _finding_code(review.finding)))
        if review.note:
            items.append(_contained(text, hd.sr.CodedConcept("121106", "DCM", "Comment"), review.note))
    root = hd.sr.ContainerContentItem(hd.sr.CodedConcept("18748-4", "LN", "Diagnostic imaging report"))
    root.ContentSequence = items
    signed = review is not None
    report = hd.sr.ComprehensiveSR(
        evidence=[source], content=root, series_instance_uid=series_uid, series_number=REPORT_SERIES[0],
        series_description=REPORT_SERIES[1],
        sop_instance_uid=generate_uid(), instance_number=1, manufacturer=MANUFACTURER,
        is_complete=signed, is_final=signed, is_verified=signed,
        verifying_observer_name=_person(review) if signed else None,
        verifying_organization=MANUFACTURER if signed else None,
        previous_versions=[previous] if previous is not None else None,
    )
    report.CodingSchemeIdentificationSequence = [_local_scheme()]
    return report


def secondary_capture(*, source: Dataset, heatmap_png: bytes, series_uid: str) -> Dataset:
    with Image.open(io.BytesIO(heatmap_png)) as image:
        film = image.convert("RGB")
    pixels = np.asarray(_burn_in(film), dtype=np.uint8)
    capture = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=source, pixel_array=pixels, photometric_interpretation="RGB", bits_allocated=8,
        coordinate_system="PATIENT", series_instance_uid=series_uid, series_number=CAPTURE_SERIES[0],
        series_description=CAPTURE_SERIES[1], sop_instance_uid=generate_uid(), instance_number=1,
        manufacturer=MANUFACTURER, patient_orientation=("L", "F"),
        transfer_syntax_uid=pydicom.uid.ExplicitVRLittleEndian,
    )
    capture.BurnedInAnnotation = "YES"  # the warning is in the pixels: a de-identifier must know
    # Without it, the General Series module wants a (left or right) Laterality; a chest is unpaired.
    capture.ImageLaterality = source.get("ImageLaterality") or "U"
    return capture


def source_header(data: bytes) -> Dataset:
    """The original's header, with the patient and study attributes highdicom copies always present:
    they are type 2 (may be empty), and units do leave some out."""
    header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                    "AccessionNumber", "ReferringPhysicianName", "StudyID"):
        if keyword not in header:
            setattr(header, keyword, "")
    return header


def read(name: str) -> Dataset:
    """A built object back from private storage."""
    with storage.open_file(name) as handle:
        return pydicom.dcmread(handle)


def encoded(dataset: Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _burn_in(film: Image.Image) -> Image.Image:
    """The warning in a black band at the top, large enough to read on a thumbnail."""
    draw = ImageDraw.Draw(film)
    size = max(12, film.width // 24)
    font = ImageFont.load_default(size=size)
    draw.rectangle([0, 0, film.width, int(size * 1.6)], fill=(0, 0, 0))
    draw.text((size // 2, size // 4), WARNING, fill=(255, 255, 255), font=font)
    return film


def _local_scheme() -> Dataset:
    """Declares our private coding scheme in the report (SOP Common, Coding Scheme Identification)."""
    item = Dataset()
    item.CodingSchemeDesignator, item.CodingSchemeName = SCHEME, "CXR Triage local codes"
    item.CodingSchemeResponsibleOrganization = MANUFACTURER
    return item


def _contained(item_class, name, *values):
    return item_class(name, *values, relationship_type=CONTAINS)


def _finding_code(label: str) -> hd.sr.CodedConcept:
    return concept(label, labels.FINDING_NAMES[label])


def _person(review: Review) -> str:
    user = review.reviewer
    return f"{user.last_name or user.get_username()}^{user.first_name}"

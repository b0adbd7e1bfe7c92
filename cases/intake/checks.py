"""Intake rules, once for both ways a film arrives: the new-case form and the DICOM listener.

The content checks and limits of every upload (`check_upload`), what a DICOM file's own header
says (`read_dicom_header`: the one place intake reads it), the patient number with its invisible
characters refused, the cross-checks of what staff typed against the header, and the patient's
demographics. A rule that fails raises `IntakeRefused` (or the classifier's `ImageRejected` for the
image itself) with a reason written for people: the form shows it on the field it names, the
listener answers it as a DICOM failure status.

DICOM policy: a blank patient number or view is filled in from the header (PatientID,
ViewPosition); one typed in that disagrees with the header is refused, so a file cannot silently
be filed under the wrong patient.
"""

import io
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.utils.translation import gettext, gettext_lazy, gettext_noop

from classifier.imaging import WORKING_SIDE, DecodedImage, ImageRejected, check_file_size, decode_image

from ..models import Case, Patient
from ..text import InvisibleCharacters, identifier_key, normalised_identifier

# One whole sentence for each thing a rule can name (never a translated name put into a sentence).
INVISIBLE = {
    "patient number": gettext_lazy(
        "The patient number contains invisible or control characters (for example text-direction marks), "
        "which would make it display differently from what it is. Type it again."),
    "patient number in the DICOM file": gettext_lazy(
        "The patient number in the DICOM file contains invisible or control characters (for example "
        "text-direction marks), which would make it display differently from what it is. Type it again."),
}
DISAGREES = {
    "patient number": gettext_lazy("The DICOM file says the patient number is “%(from_dicom)s”, not "
                                   "“%(entered)s”. Check the form and the file."),
    "view": gettext_lazy("The DICOM file says the view is “%(from_dicom)s”, not “%(entered)s”. "
                         "Check the form and the file."),
}
UNREADABLE_HEADER = gettext_noop("The dataset could not be read.")  # an ImageRejected: shown via cases/words.py
NO_PATIENT_ID = gettext_lazy("The dataset has no PatientID to file it under.")
# DICOM ViewPosition (PS3.3 C.8.11.5) to our views; lateral has two codes.
DICOM_VIEWS = {"PA": Case.View.PA, "AP": Case.View.AP, "LL": Case.View.LATERAL, "RL": Case.View.LATERAL,
               "LATERAL": Case.View.LATERAL, "LAT": Case.View.LATERAL}
SEXES = {Patient.Sex.FEMALE, Patient.Sex.MALE, Patient.Sex.OTHER}


class IntakeRefused(ValueError):
    """An intake rule refuses what was sent; str(error) is the reason, for the person or the device."""


@dataclass(frozen=True)
class CaseDetails:
    mrn: str
    birth_year: int | None
    sex: str
    view: str
    symptoms: str = ""
    onset_date: date | None = None
    spo2: int | None = None
    notes: str = ""
    urgent: bool = False


@dataclass(frozen=True)
class DicomHeader:
    """What intake takes from a DICOM file's header."""
    sop_instance_uid: str
    patient_id: str  # as the file has it (trimmed); normalised by `patient_number`
    view: str  # a Case.View, or "" when the header has none we know
    birth_year: int | None
    sex: str  # a Patient.Sex, UNKNOWN when the header has none we know


@dataclass(frozen=True)
class CheckedUpload:
    """An upload that passed the content checks: what `submit_case` stores."""
    image: DecodedImage
    data: bytes  # the original, stored as it came
    filename: str  # the sender's name for it, kept for display only ("" from a DICOM node)
    header: DicomHeader | None = None  # for a DICOM file
    sha256: str = ""  # the data's, when the caller has it already (a resumable upload checks it): not again


def check_size(size: int) -> None:
    """For a size known before reading the upload: a huge file is refused without reading it into memory."""
    check_file_size(size, max_bytes=settings.CXR_UPLOAD_MAX_BYTES)


def check_upload(data: bytes, *, filename: str, header: DicomHeader | None = None) -> CheckedUpload:
    """The content checks and limits of every intake path (raises ImageRejected); a DICOM's header
    is read unless the caller has read it already. A JPEG 2000 film is decoded at the resolution the
    models read it at (display.classification_pixels), not whole: its display is made after the case."""
    image = decode_image(data, max_bytes=settings.CXR_UPLOAD_MAX_BYTES, max_pixels=settings.CXR_UPLOAD_MAX_PIXELS,
                         min_side=settings.CXR_UPLOAD_MIN_SIDE, at_least_side=WORKING_SIDE)
    if image.format == "DICOM" and header is None:
        header = read_dicom_header(data)
    return CheckedUpload(image=image, data=data, filename=filename, header=header)


def read_dicom_header(data: bytes) -> DicomHeader:
    """The header of a DICOM file, without its pixels; ImageRejected when it cannot be read."""
    import pydicom  # imported only when a DICOM arrives: it is slow to import

    try:
        header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        sop_instance_uid = str(header.SOPInstanceUID)
    except Exception:  # pydicom raises many types for malformed data
        raise ImageRejected(UNREADABLE_HEADER) from None
    return DicomHeader(
        sop_instance_uid=sop_instance_uid,
        patient_id=_text(header, "PatientID"),
        view=DICOM_VIEWS.get(_text(header, "ViewPosition").upper(), ""),
        birth_year=_birth_year(_text(header, "PatientBirthDate")),
        sex=_sex(_text(header, "PatientSex").upper()),
    )


def patient_number(text: str, *, what: str = "patient number") -> str:
    """A patient number as it is stored (cases.text); IntakeRefused when it has invisible characters."""
    try:
        return normalised_identifier(text)
    except InvisibleCharacters:
        raise IntakeRefused(str(INVISIBLE[what])) from None


def reconciled(entered: str, from_dicom: str, *, what: str) -> str:
    """What was typed, else what the DICOM header says ("" when neither); IntakeRefused when both
    are given and disagree."""
    if entered and from_dicom and identifier_key(entered) != identifier_key(from_dicom):
        raise IntakeRefused(DISAGREES[what] % {"from_dicom": from_dicom, "entered": entered})
    return entered or from_dicom


def birth_year_of(age: int | None, birth_year: int | None, *, today: date | None = None) -> int | None:
    """The birth year given, or the one an age in years implies; IntakeRefused when both are given and
    more than a year apart."""
    if age is None:
        return birth_year
    from_age = (today or date.today()).year - age
    if birth_year is not None and abs(birth_year - from_age) > 1:
        raise IntakeRefused(gettext("An age of %(age)s does not match the birth year %(birth_year)s.")
                            % {"age": age, "birth_year": birth_year})
    return birth_year if birth_year is not None else from_age


def received_details(header: DicomHeader) -> CaseDetails:
    """A case received over the network: the patient and view from its header (PA when it names
    none). A device cannot be asked, so a missing or unusable PatientID refuses the instance, with a
    reason that says which (it goes back to the unit in a 64-character ErrorComment)."""
    try:
        mrn = normalised_identifier(header.patient_id)
    except InvisibleCharacters as hidden:
        raise IntakeRefused(gettext("The PatientID has %(hidden)s.") % {"hidden": hidden}) from None
    if not mrn:
        raise IntakeRefused(str(NO_PATIENT_ID))
    return CaseDetails(mrn=mrn, birth_year=header.birth_year, sex=header.sex, view=header.view or Case.View.PA)


def _text(header, keyword: str) -> str:
    return str(header.get(keyword, "") or "").strip()


def _birth_year(text: str) -> int | None:
    return int(text[:4]) if len(text) >= 4 and text[:4].isdigit() and int(text[:4]) >= 1880 else None


def _sex(code: str) -> str:
    return code if code in SEXES else Patient.Sex.UNKNOWN

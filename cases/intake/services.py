"""Intake: turning a checked upload and the form's details into a patient case."""

import io
import os
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from PIL import Image

from classifier.imaging import DecodedImage

from .. import storage
from ..audit.actors import Actor
from ..audit.services import record
from ..classification.services import enqueue_case
from ..models import AuditEvent, Case, Clinic, DicomNode, Patient

SUFFIX_BY_FORMAT = {"PNG": ".png", "JPEG": ".jpg", "DICOM": ".dcm"}


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
class DicomOrigin:
    """Where a case received over the DICOM network came from (cases/dicom/)."""
    node: DicomNode
    sop_instance_uid: str


def submit_case(*, actor: Actor, clinic: Clinic, details: CaseDetails, image: DecodedImage, data: bytes,
                filename: str, origin: DicomOrigin | None = None) -> Case:
    """Create the case, its files and its audit event together, or nothing at all.

    With an `origin` the case is attributed to the sending node instead of a user, and a second
    case with the same SOP Instance UID fails on its unique constraint (IntegrityError).

    Files cannot join a database transaction, so they are written inside it and deleted
    again if anything fails before the commit. `durable=True` makes this the outermost
    transaction: a caller's rollback after we return could otherwise orphan the files.
    """
    written: list[str] = []
    try:
        with transaction.atomic(durable=True):
            patient, returning = _patient_for(clinic=clinic, details=details)
            written.append(storage.save_bytes(data, SUFFIX_BY_FORMAT[image.format]))
            written.append(storage.save_bytes(display_png(image), ".png"))
            case = Case.objects.create(
                clinic=clinic, patient=patient, submitted_by=actor.user if origin is None else None,
                received_from=origin and origin.node, sop_instance_uid=origin and origin.sop_instance_uid,
                symptoms=details.symptoms, onset_date=details.onset_date, spo2=details.spo2,
                notes=details.notes, view=details.view, urgent=details.urgent,
                image_name=written[0], display_name=written[1], image_sha256=storage.sha256_of(data),
                image_format=image.format, image_width=image.width, image_height=image.height,
                original_filename=os.path.basename(filename)[:255],
            )
            record(AuditEvent.Action.CASE_SUBMITTED, actor=actor, case=case, details={
                "patient": str(patient.public_id), "returning_patient": returning, "format": image.format,
                "sha256": case.image_sha256, "bytes": len(data), "width": image.width, "height": image.height,
            })
            if origin is not None:
                record(AuditEvent.Action.DICOM_INSTANCE_RECEIVED, actor=actor, case=case, details={
                    "node": origin.node.ae_title, "sop_instance_uid": origin.sop_instance_uid, "outcome": "stored"})
            _enqueue_after_commit(case)
    except BaseException:
        for name in written:
            storage.delete(name)
        raise
    return case


def display_png(image: DecodedImage) -> bytes:
    """The one derived image browsers are shown; DICOM and 16-bit originals are not displayable."""
    buffer = io.BytesIO()
    Image.fromarray(image.pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _patient_for(*, clinic: Clinic, details: CaseDetails) -> tuple[Patient, bool]:
    """The clinic's patient with this MRN (a returning patient keeps their record), or a new one."""
    patient, created = Patient.objects.get_or_create(
        clinic=clinic, mrn=details.mrn, defaults={"birth_year": details.birth_year, "sex": details.sex}
    )
    if not created:
        _fill_unknown_demographics(patient, details)
    return patient, not created


def _fill_unknown_demographics(patient: Patient, details: CaseDetails) -> None:
    # Only blanks are filled: what an earlier visit recorded is never overwritten by intake.
    changed = []
    if patient.birth_year is None and details.birth_year is not None:
        patient.birth_year = details.birth_year
        changed.append("birth_year")
    if patient.sex == Patient.Sex.UNKNOWN and details.sex != Patient.Sex.UNKNOWN:
        patient.sex = details.sex
        changed.append("sex")
    if changed:
        patient.save(update_fields=changed)


def _enqueue_after_commit(case: Case) -> None:
    # on_commit: the worker never sees an uncommitted row. robust: an error while queueing is
    # logged, never raised out of the commit, where submit_case would delete committed files;
    # the case stays "submitted" and the reaper (classification.upkeep) queues it later.
    transaction.on_commit(lambda: enqueue_case(case.id), robust=True)

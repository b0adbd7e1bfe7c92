"""Intake: turning a checked upload and its details (checks.py) into a patient case."""

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from .. import queue, storage
from ..storage.columns import discard
from ..audit.actors import Actor
from ..audit.services import record
from ..classification.services import enqueue_case
from ..models import AuditEvent, Case, Clinic, DicomNode, IdempotencyKey, Integration, Patient
from ..notifications.services import announce_urgent_case
from ..text import identifier_key
from ..workflow import transition
from .checks import CaseDetails, CheckedUpload
from .display import display_png
from .selectors import FORM_KEY_PREFIX, case_filed_with, form_caller

log = logging.getLogger(__name__)
SUFFIX_BY_FORMAT = {"PNG": ".png", "JPEG": ".jpg", "DICOM": ".dcm"}


class StorageUnavailable(Exception):
    """The image could not be written (storage full or read-only); nothing was saved."""


@dataclass(frozen=True)
class DicomOrigin:
    """Where a case received over the DICOM network came from (cases/dicom/)."""
    node: DicomNode
    sop_instance_uid: str

    def case_fields(self) -> dict:
        return {"received_from": self.node, "sop_instance_uid": self.sop_instance_uid}

    def record_arrival(self, *, actor: Actor, case: Case) -> None:
        record(AuditEvent.Action.DICOM_INSTANCE_RECEIVED, actor=actor, case=case, details={
            "node": self.node.ae_title, "sop_instance_uid": self.sop_instance_uid, "outcome": "stored"})


@dataclass(frozen=True)
class IntegrationOrigin:
    """A case an outside system submitted with its API token (cases/integrations/)."""
    integration: Integration

    def case_fields(self) -> dict:
        return {"submitted_via": self.integration}

    def record_arrival(self, *, actor: Actor, case: Case) -> None:
        pass  # its case_submitted event names the integration as the actor


def submit_case(*, actor: Actor, clinic: Clinic, details: CaseDetails, upload: CheckedUpload,
                origin: DicomOrigin | IntegrationOrigin | None = None,
                also: Callable[[Case], None] | None = None) -> Case:
    """Create the case, its files and its audit event together, or nothing at all.

    1. Outside any transaction (it is the slow part, and SQLite's write lock is site-wide):
       the display image, the hash, and both files, each written atomically.
    2. One short transaction: the patient, the case and its audit event. `durable=True` makes
       it the outermost, so a caller's rollback cannot orphan the files after we return.
    3. After the commit: the case is queued (on_commit, robust: a broker error is logged and
       the case waits for the reaper as "submitted").
       Then a JPEG 2000 film's display is queued for the upkeep worker (display.py).
    The files are removed only if that transaction did not commit. Once it has, nothing here
    deletes them, whatever happens next (a hung broker, a request aborted mid-publish).
    With an `origin` the case is attributed to the sending node or integration instead of a user, and a
    second case with the same SOP Instance UID fails on its unique constraint (IntegrityError).
    `also(case)` makes further writes that must commit or roll back with the case (the API binds its
    Idempotency-Key so); an urgent case tells the radiologists on duty (after the commit).
    """
    image, data = upload.image, upload.data
    # A film intake decoded at a lower resolution (JPEG 2000) gets its display after the commit: its full
    # decode is most of intake's time, and the worker classifies it without one (display.py).
    display = None if image.reduced else display_png(image, data)
    sha256 = upload.sha256 or storage.sha256_of(data)
    written: list[str] = []
    committed = False

    def after_commit():
        nonlocal committed
        committed = True  # first: the publish below may hang or be aborted
        enqueue_case(case.id)

    try:
        try:
            written.append(storage.save_bytes(data, SUFFIX_BY_FORMAT[image.format]))
            written.append(storage.save_bytes(display, ".png") if display is not None else "")
        except OSError as error:
            log.error("Could not store an uploaded image: %s", error)
            raise StorageUnavailable from None
        with transaction.atomic(durable=True):
            patient, returning = _patient_for(clinic=clinic, details=details)
            case = Case.objects.create(
                clinic=clinic, patient=patient, **(origin.case_fields() if origin else {"submitted_by": actor.user}),
                symptoms=details.symptoms, onset_date=details.onset_date, spo2=details.spo2,
                notes=details.notes, view=details.view, urgent=details.urgent,
                image_name=written[0], display_name=written[1], image_sha256=sha256,
                image_format=image.format, image_width=image.width, image_height=image.height,
                original_filename=os.path.basename(upload.filename)[:255],
            )
            record(AuditEvent.Action.CASE_SUBMITTED, actor=actor, case=case, details={
                "patient": str(patient.public_id), "returning_patient": returning, "format": image.format,
                "sha256": sha256, "bytes": len(data), "width": image.width, "height": image.height,
            })
            if origin is not None:
                origin.record_arrival(actor=actor, case=case)
            if also is not None:
                also(case)
            if case.urgent:
                announce_urgent_case(case=case)
            transaction.on_commit(after_commit, robust=True)
            if display is None:  # after the case's own message: the film is classified first
                transaction.on_commit(lambda: queue.publish(queue.MAKE_DISPLAY_TASK, case.id, retry=False),
                                    robust=True)
    except BaseException:
        if not committed:
            discard(written)
        raise
    return case


def submit_form_case(*, actor: Actor, clinic: Clinic, details: CaseDetails, upload: CheckedUpload,
                     submission_key) -> tuple[Case, bool]:
    """The new-case form's submission, at most once per form shown: (the case, whether it was filed before).

    The key is bound to the case in the case's own transaction (`submit_case(also=...)`); two sends of one
    form at the same moment both store files, the second fails on the key's unique constraint, its files
    are removed, and it answers the first one's case.
    """
    caller, key = form_caller(actor.user), f"{FORM_KEY_PREFIX}{submission_key}"

    def bind(case: Case) -> None:
        IdempotencyKey.objects.create(caller=caller, key=key, fingerprint="", case=case)

    try:
        return submit_case(actor=actor, clinic=clinic, details=details, upload=upload,
                           also=bind if submission_key else None), False
    except IntegrityError:
        earlier = case_filed_with(actor.user, submission_key)
        if earlier is None:
            raise
        return earlier, True


class CaseNotRefused(Exception):
    """Only a case whose film the input gate refused, not yet read, may be withdrawn or get a new image."""


def _check_refused(case: Case) -> None:
    if not case.gate_reason or case.status != Case.Status.PREDICTED:
        raise CaseNotRefused(gettext("Only a case whose image was refused, and that no radiologist has read yet, "
                                     "can be withdrawn or get a new image."))


def _withdraw(case: Case, *, actor: Actor, action: str, details: dict, **fields) -> None:
    """The compare-and-set move to withdrawn and its one audit event; inside the caller's transaction."""
    if transition(case.pk, source=Case.Status.PREDICTED, target=Case.Status.WITHDRAWN, actor=actor,
                  audited=False, **fields) is None:
        raise CaseNotRefused(gettext("This case was read or withdrawn meanwhile; nothing was changed."))
    record(action, actor=actor, case=case, details={"gate_reason": case.gate_reason, **details})


def withdraw_case(*, case: Case, actor: Actor) -> None:
    """Take a refused film off the radiologists' worklist; the case and its image are kept."""
    _check_refused(case)
    with transaction.atomic():
        _withdraw(case, actor=actor, action=AuditEvent.Action.CASE_WITHDRAWN, details={})
    case.status = Case.Status.WITHDRAWN


def replace_case_image(*, case: Case, actor: Actor, upload: CheckedUpload) -> Case:
    """File a better image of a refused film as a new case with the same patient and details, and withdraw
    the first (kept, with its image, pointing at the new one), both in the new case's transaction: if the
    first was read meanwhile, nothing is filed."""
    _check_refused(case)
    patient = case.patient
    details = CaseDetails(mrn=patient.mrn, birth_year=patient.birth_year, sex=patient.sex, view=case.view,
                          symptoms=case.symptoms, onset_date=case.onset_date, spo2=case.spo2, notes=case.notes,
                          urgent=case.urgent)

    def withdraw_first(new: Case) -> None:
        _withdraw(case, actor=actor, action=AuditEvent.Action.CASE_IMAGE_REPLACED, replaced_by=new, details={
            "replaced_by": str(new.public_id), "first_image_sha256": case.image_sha256})

    return submit_case(actor=actor, clinic=case.clinic, details=details, upload=upload, also=withdraw_first)


def _patient_for(*, clinic: Clinic, details: CaseDetails) -> tuple[Patient, bool]:
    """The clinic's patient with this MRN in any spelling (a returning patient keeps their record and
    the number as first entered), or a new one."""
    patient, created = Patient.objects.get_or_create(
        clinic=clinic, mrn_key=identifier_key(details.mrn),
        defaults={"mrn": details.mrn, "birth_year": details.birth_year, "sex": details.sex},
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

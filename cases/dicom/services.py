"""Receiving an instance over the DICOM network: the web form's intake path, and a DICOM status.

The listener hands each C-STORE here. The checks are the form's (`decode_upload`, the MRN and
view rules); the case is made by `submit_case`, so storage, audit and the on-commit enqueue are
the form's too. A resent SOP Instance UID answers success and creates nothing; a refused
instance answers a failure status with the reason, in the log and the audit trail.
"""

import io
import logging
from dataclasses import dataclass

import pydicom
from django.conf import settings
from django.db import IntegrityError, transaction

from classifier.imaging import ImageRejected, check_file_size

from ..audit.actors import Actor
from ..audit.services import record
from ..intake.forms import decode_upload, view_from_dicom
from ..intake.services import CaseDetails, DicomOrigin, submit_case
from ..models import AuditEvent, Case, DicomNode, Patient
from ..text import InvisibleCharacters, normalised_identifier

log = logging.getLogger(__name__)

SUCCESS = 0x0000
CANNOT_UNDERSTAND = 0xC000  # PS3.4 B.2.3: "Error: cannot understand", the refusal we answer
SEXES = {Patient.Sex.FEMALE, Patient.Sex.MALE, Patient.Sex.OTHER}


@dataclass(frozen=True)
class Received:
    status: int
    outcome: str  # "stored", "duplicate" or "rejected"
    reason: str = ""
    case: Case | None = None


def receive_instance(*, node: DicomNode, data: bytes, address: str | None) -> Received:
    """File one received instance (a DICOM file's bytes) under the node's clinic, at most once."""
    actor = Actor.dicom_node(node.ae_title, address)
    try:
        header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        sop_uid = str(header.SOPInstanceUID)
    except Exception:  # pydicom raises many types for malformed data
        return _refuse(node, actor, "", "The dataset could not be read.")
    if Case.objects.filter(sop_instance_uid=sop_uid).exists():
        return _duplicate(node, actor, sop_uid)
    try:
        image = decode_upload(data)
    except ImageRejected as error:
        return _refuse(node, actor, sop_uid, str(error))
    try:
        mrn = normalised_identifier(image.dicom.get("patient_id", ""))
    except InvisibleCharacters as hidden:
        return _refuse(node, actor, sop_uid, f"The PatientID has {hidden}.")
    if not mrn:
        return _refuse(node, actor, sop_uid, "The dataset has no PatientID to file it under.")
    details = CaseDetails(mrn=mrn, birth_year=_birth_year(header), sex=_sex(header),
                          view=view_from_dicom(image.dicom) or Case.View.PA)
    try:
        case = submit_case(actor=actor, clinic=node.clinic, details=details, image=image, data=data,
                           filename="", origin=DicomOrigin(node=node, sop_instance_uid=sop_uid))
    except IntegrityError:
        # Another association stored the same instance a moment ago: the unique UID decided.
        if Case.objects.filter(sop_instance_uid=sop_uid).exists():
            return _duplicate(node, actor, sop_uid)
        raise
    log.info("Stored %s from %s as case %s", sop_uid, node.ae_title, case.public_id)
    return Received(SUCCESS, "stored", case=case)


def refuse_too_large(*, node: DicomNode, size: int, sop_uid: str, address: str | None) -> Received:
    """An instance the listener stopped writing once it passed the upload limit: refused with the
    limit's own message, the size it reached included."""
    try:
        check_file_size(size, max_bytes=settings.UPLOAD_MAX_BYTES)
    except ImageRejected as error:
        return _refuse(node, Actor.dicom_node(node.ae_title, address), sop_uid, str(error))
    raise ValueError(f"{size} bytes are within the upload limit")


def record_refusal(*, address: str, calling: str, called: str, outcome: str, reason: str, count: int) -> int:
    """The audit event of `count` associations refused (or connections dropped) for one reason; its id."""
    details = {"node": calling, "called": called, "address": address, "outcome": outcome, "reason": reason,
               "count": count}
    with transaction.atomic():
        return record(AuditEvent.Action.DICOM_ASSOCIATION, actor=Actor.dicom_node(calling, address),
                      details=details).pk


def complete_details(*, case: Case, details: dict) -> list[str]:
    """Save the clinical details staff add to a received case; returns the fields that changed.

    A plain save of the changed fields: the audit receiver for case edits records each change,
    with the request's actor, inside this transaction (as for an edit in the admin).
    """
    changed = [name for name, value in details.items() if getattr(case, name) != value]
    with transaction.atomic():
        for name in changed:
            setattr(case, name, details[name])
        if changed:
            case.save(update_fields=changed)
    return changed


def _duplicate(node: DicomNode, actor: Actor, sop_uid: str) -> Received:
    case = Case.objects.get(sop_instance_uid=sop_uid)
    _audit(actor, node, sop_uid, "duplicate", case=case)
    return Received(SUCCESS, "duplicate", case=case)


def _refuse(node: DicomNode, actor: Actor, sop_uid: str, reason: str) -> Received:
    log.warning("Refused instance %s from %s: %s", sop_uid or "(unreadable)", node.ae_title, reason)
    _audit(actor, node, sop_uid, "rejected", reason=reason)
    return Received(CANNOT_UNDERSTAND, "rejected", reason=reason)


def _audit(actor: Actor, node: DicomNode, sop_uid: str, outcome: str, *, case=None, reason: str = "") -> None:
    with transaction.atomic():
        record(AuditEvent.Action.DICOM_INSTANCE_RECEIVED, actor=actor, case=case, clinic=node.clinic, details={
            "node": node.ae_title, "sop_instance_uid": sop_uid, "outcome": outcome,
            **({"reason": reason} if reason else {})})


def _birth_year(header) -> int | None:
    text = str(header.get("PatientBirthDate", "") or "")
    return int(text[:4]) if len(text) >= 4 and text[:4].isdigit() and int(text[:4]) >= 1880 else None


def _sex(header) -> str:
    sex = str(header.get("PatientSex", "") or "").strip().upper()
    return sex if sex in SEXES else Patient.Sex.UNKNOWN

"""Receiving an instance over the DICOM network: the web form's intake path, and a DICOM status.

The listener hands each C-STORE here. The checks are the form's (cases/intake/checks.py: the
content checks and limits, the header, the patient number); the case is made by `submit_case`,
so storage, audit and the on-commit enqueue are the form's too. A resent SOP Instance UID answers
success and creates nothing; a refused instance answers a failure status with the reason, in the
log and the audit trail.
"""

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from classifier.imaging import ImageRejected

from ..audit.actors import Actor
from ..audit.services import record
from ..intake.checks import IntakeRefused, check_size, check_upload, read_dicom_header, received_details
from ..intake.services import DicomOrigin, submit_case
from ..models import AuditEvent, Case, DicomNode

log = logging.getLogger(__name__)

SUCCESS = 0x0000
CANNOT_UNDERSTAND = 0xC000  # PS3.4 B.2.3: "Error: cannot understand", the refusal we answer


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
        header = read_dicom_header(data)  # first, alone: a resent instance is answered without decoding it
    except ImageRejected as error:
        return _refuse(node, actor, "", str(error))
    sop_uid = header.sop_instance_uid
    if Case.objects.filter(sop_instance_uid=sop_uid).exists():
        return _duplicate(node, actor, sop_uid)
    try:
        upload = check_upload(data, filename="", header=header)
        details = received_details(header)
    except (ImageRejected, IntakeRefused) as error:
        return _refuse(node, actor, sop_uid, str(error))
    try:
        case = submit_case(actor=actor, clinic=node.clinic, details=details, upload=upload,
                           origin=DicomOrigin(node=node, sop_instance_uid=sop_uid))
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
        check_size(size)
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


"""The DICOM Storage SCP: X-ray units send films here (C-STORE) and test the connection (C-ECHO).

Only a registered `DicomNode` may associate, from its own AE title and address; every
association and every instance is audited. Each association runs in its own thread, so each
has its own database connection, closed when the connection closes.
"""

import logging

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from pydicom import uid
from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification

from classifier.imaging import DICOM_TRANSFER_SYNTAXES

from ..audit.actors import Actor
from ..audit.services import record
from ..models import AuditEvent
from .selectors import sending_node
from .services import receive_instance

log = logging.getLogger(__name__)

# Chest radiographs: CR, DX (for presentation and for processing) and Secondary Capture.
STORAGE_CLASSES = (uid.ComputedRadiographyImageStorage, uid.DigitalXRayImageStorageForPresentation,
                   uid.DigitalXRayImageStorageForProcessing, uid.SecondaryCaptureImageStorage)
REJECTED_PERMANENT, REJECTED_TRANSIENT, SERVICE_USER = 0x01, 0x02, 0x01
NO_REASON, CALLING_AE_NOT_RECOGNISED = 0x01, 0x03


def make_ae(ae_title: str) -> AE:
    ae = AE(ae_title=ae_title)
    for sop_class in STORAGE_CLASSES:
        ae.add_supported_context(sop_class, list(DICOM_TRANSFER_SYNTAXES))
    ae.add_supported_context(Verification)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = settings.CXR_DICOM_TIMEOUT
    ae.maximum_associations = 16  # a clinic's units at once; more are rejected as "local limit exceeded"
    return ae


def start(*, host: str, port: int, ae_title: str, block: bool):
    """Serve until stopped; with block=False returns the server (call `.shutdown()` on it)."""
    handlers = [(evt.EVT_REQUESTED, check_association), (evt.EVT_C_STORE, store),
                (evt.EVT_C_ECHO, lambda event: 0x0000), (evt.EVT_CONN_CLOSE, _close_connection)]
    log.info("DICOM listener %s on %s:%s", ae_title, host, port)
    return make_ae(ae_title).start_server((host, port), block=block, evt_handlers=handlers)


def check_association(event) -> None:
    """Reject an association unless its calling AE title and address are a node's that may send.

    Fails closed: pynetdicom accepts the association when this handler raises, so any error
    (the database is unreachable) rejects it, transiently, for the modality to try again.
    """
    requestor = event.assoc.requestor
    calling, address = requestor.primitive.calling_ae_title.strip(), requestor.address
    try:
        close_old_connections()
        node = event.assoc.cxr_node = sending_node(ae_title=calling, address=address)
        with transaction.atomic():
            record(AuditEvent.Action.DICOM_ASSOCIATION, actor=Actor.dicom_node(calling, address),
                   clinic=node.clinic if node else None,
                   details={"node": calling, "address": address, "outcome": "accepted" if node else "rejected"})
    except Exception:
        log.exception("Could not check the association from %s at %s", calling, address)
        _reject(event, REJECTED_TRANSIENT)
        return
    if node is None:
        log.warning("Rejected an association from %s at %s: not a registered sending node", calling, address)
        _reject(event, REJECTED_PERMANENT)


def _reject(event, result: int) -> None:
    event.assoc.acse.send_reject(result, SERVICE_USER, CALLING_AE_NOT_RECOGNISED if result == REJECTED_PERMANENT
                                 else NO_REASON)
    event.assoc.kill()


def store(event):
    data = event.encoded_dataset()
    try:
        result = receive_instance(node=event.assoc.cxr_node, data=data, address=event.assoc.requestor.address)
    except Exception:  # the database is down, a disk is full: the sender should retry later
        log.exception("Could not store an instance from %s", event.assoc.cxr_node)
        return 0xA700  # "Refused: out of resources"
    if not result.reason:
        return result.status
    status = Dataset()
    status.Status, status.ErrorComment = result.status, result.reason[:64]
    return status


def _close_connection(event) -> None:
    connection.close()

"""The DICOM Storage SCP: X-ray units send films here (C-STORE) and test the connection (C-ECHO).

Only a registered `DicomNode` may associate, from its own AE title and address, and only to our AE
title; every accepted association and every instance is audited, refusals once per address, title
and reason a minute (admission.py). Each association runs in its own thread, so each has its own
database connection, closed when the connection closes.

Against hostile peers (issue 28): a connection waits in a lobby, without a thread, until it speaks
(closed after REQUEST_TIMEOUT seconds of silence, at most WAITING_PER_ADDRESS per address); only
accepted associations take one of MAX_ASSOCIATIONS slots; an instance is written to a temporary
file as it arrives, and no longer once it passes the upload limit (incoming.py).
"""

import logging
import threading

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from pydicom import uid
from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification
from pynetdicom.transport import ThreadedAssociationServer

from classifier.imaging import DICOM_TRANSFER_SYNTAXES

from ..audit.actors import Actor
from ..audit.services import record
from ..models import AuditEvent
from .admission import Lobby, RefusalTally, Slots
from .incoming import SizeLimitedDIMSE, receive_into
from .selectors import audit_event_recorded, sending_node
from .services import receive_instance, record_refusal, refuse_too_large

log = logging.getLogger(__name__)

# Chest radiographs: CR, DX (for presentation and for processing) and Secondary Capture.
STORAGE_CLASSES = (uid.ComputedRadiographyImageStorage, uid.DigitalXRayImageStorageForPresentation,
                   uid.DigitalXRayImageStorageForProcessing, uid.SecondaryCaptureImageStorage)
MAX_ASSOCIATIONS = 16  # a clinic's units at once; more are rejected as "local limit exceeded"
WAITING_PER_ADDRESS, WAITING_TOTAL = 4, 64
REQUEST_TIMEOUT = 5.0  # seconds a new connection may stay silent: units ask within milliseconds
# A-ASSOCIATE-RJ (PS3.8 9.3.4): result, source, reason.
PERMANENT, TRANSIENT = 0x01, 0x02
SERVICE_USER, SERVICE_PROVIDER_PRESENTATION = 0x01, 0x03
NO_REASON, CALLING_AE_NOT_RECOGNISED, CALLED_AE_NOT_RECOGNISED, LOCAL_LIMIT_EXCEEDED = 0x01, 0x03, 0x07, 0x02
NOT_REGISTERED = "calling AE title or address not registered"
NOT_OUR_TITLE = "called AE title is not ours"
NO_FREE_SLOT = "every association slot is taken"


class GuardedServer(ThreadedAssociationServer):
    """pynetdicom's server, but a new connection waits in the lobby until it speaks."""

    lobby: Lobby

    def process_request(self, request, client_address) -> None:
        self.lobby.admit(request, client_address)

    def hand_over(self, request, client_address) -> None:
        super().process_request(request, client_address)  # a thread, and pynetdicom's association


class Listener:
    """The running SCP: its server, lobby, slots and refusal tally, and the event handlers that use them."""

    def __init__(self, ae_title: str):
        self.ae_title = ae_title
        self.slots = Slots(MAX_ASSOCIATIONS)
        self.refusals = RefusalTally(write=self._record_refusal, recorded=audit_event_recorded)
        self.server: GuardedServer | None = None

    def start(self, *, host: str, port: int) -> "Listener":
        receive_into(settings.CXR_DATA_DIR)
        handlers = [(evt.EVT_CONN_OPEN, self._open_connection), (evt.EVT_REQUESTED, self.check_association),
                    (evt.EVT_C_STORE, self.store), (evt.EVT_C_ECHO, lambda event: 0x0000),
                    (evt.EVT_CONN_CLOSE, self._close_connection)]
        ae = make_ae(self.ae_title)
        self.server = ae.make_server((host, port), ae_title=self.ae_title, evt_handlers=handlers,
                                     server_class=GuardedServer)
        self.server.lobby = Lobby(hand_over=self.server.hand_over, drop=self._dropped, per_address=WAITING_PER_ADDRESS,
                                  total=WAITING_TOTAL, timeout=REQUEST_TIMEOUT)
        ae._servers.append(self.server)  # as AE.start_server does: the server's shutdown() removes it
        self.refusals.start()
        self.server.lobby.start()
        threading.Thread(target=self.server.serve_forever, name="dicom-server", daemon=True).start()
        log.info("DICOM listener %s on %s:%s", self.ae_title, host, port)
        return self

    def shutdown(self) -> None:
        self.server.lobby.stop()
        self.server.shutdown()
        self.refusals.stop()

    def check_association(self, event) -> None:
        """Reject an association unless it calls our AE title from the AE title and address of a node
        that may send, and a slot is free.

        Fails closed: pynetdicom accepts the association when this handler raises, so any error
        (the database is unreachable) rejects it, transiently, for the modality to try again.
        """
        requestor = event.assoc.requestor
        calling, address = requestor.primitive.calling_ae_title.strip(), requestor.address
        called = requestor.primitive.called_ae_title.strip()
        try:
            close_old_connections()
            node = event.assoc.cxr_node = sending_node(ae_title=calling, address=address)
            if node is None:  # first: a stranger learns nothing, not even that it has our title wrong
                return self._refuse(event, calling, called, NOT_REGISTERED, PERMANENT, SERVICE_USER,
                                    CALLING_AE_NOT_RECOGNISED)
            if called != self.ae_title.strip():
                return self._refuse(event, calling, called, NOT_OUR_TITLE, PERMANENT, SERVICE_USER,
                                    CALLED_AE_NOT_RECOGNISED)
            if not self.slots.take(event.assoc):
                return self._refuse(event, calling, called, NO_FREE_SLOT, TRANSIENT, SERVICE_PROVIDER_PRESENTATION,
                                    LOCAL_LIMIT_EXCEEDED)
            with transaction.atomic():
                record(AuditEvent.Action.DICOM_ASSOCIATION, actor=Actor.dicom_node(calling, address),
                       clinic=node.clinic, details={"node": calling, "address": address, "outcome": "accepted"})
        except Exception:
            log.exception("Could not check the association from %s at %s", calling, address)
            self.slots.release(event.assoc)
            _reject(event, TRANSIENT, SERVICE_USER, NO_REASON)

    def store(self, event):
        node, address = event.assoc.cxr_node, event.assoc.requestor.address
        sop_uid = event.request.AffectedSOPInstanceUID
        try:
            if (size := event.assoc.dimse.size_past_limit(sop_uid)) is not None:
                result = refuse_too_large(node=node, size=size, sop_uid=str(sop_uid), address=address)
            else:
                result = receive_instance(node=node, data=event.dataset_path.read_bytes(), address=address)
        except Exception:  # the database is down, a disk is full: the sender should retry later
            log.exception("Could not store an instance from %s", node)
            return 0xA700  # "Refused: out of resources"
        if not result.reason:
            return result.status
        status = Dataset()
        status.Status, status.ErrorComment = result.status, result.reason[:64]
        return status

    def _refuse(self, event, calling: str, called: str, reason: str, *rejection: int) -> None:
        address = event.assoc.requestor.address
        log.warning("Rejected an association from %s at %s to %s: %s", calling, address, called, reason)
        self._tally(address=address, calling=calling, called=called, outcome="rejected", reason=reason)
        _reject(event, *rejection)  # after the audit row: a peer told "rejected" finds it in the trail

    def _dropped(self, address: str, reason: str) -> None:
        self.refusals.refused_later(address=address, calling="", called="", outcome="dropped", reason=reason)

    def _tally(self, **refusal) -> None:
        try:
            self.refusals.refused(**refusal)
        except Exception:  # the peer was turned away all the same; only its audit row is missing
            log.exception("Could not audit a refusal: %s", refusal)

    @staticmethod
    def _record_refusal(**refusal) -> int:
        close_old_connections()  # also from the tally's thread, which lives as long as the listener
        return record_refusal(**refusal)

    def _open_connection(self, event) -> None:
        event.assoc.dimse = SizeLimitedDIMSE(event.assoc, limit=settings.CXR_UPLOAD_MAX_BYTES)

    def _close_connection(self, event) -> None:
        self.slots.release(event.assoc)
        event.assoc.dimse.discard_partial()
        connection.close()


def make_ae(ae_title: str) -> AE:
    ae = AE(ae_title=ae_title)
    for sop_class in STORAGE_CLASSES:
        ae.add_supported_context(sop_class, list(DICOM_TRANSFER_SYNTAXES))
    ae.add_supported_context(Verification)
    ae.dimse_timeout = ae.network_timeout = settings.CXR_DICOM_TIMEOUT
    ae.acse_timeout = min(REQUEST_TIMEOUT, settings.CXR_DICOM_TIMEOUT)  # ARTIM: a request begun must end soon
    # Our slots decide who associates; pynetdicom's own count (of every connection that spoke) only
    # bounds the threads.
    ae.maximum_associations = MAX_ASSOCIATIONS + WAITING_TOTAL
    return ae


def start(*, host: str, port: int, ae_title: str) -> Listener:
    """Serve until `.shutdown()` is called on the returned listener."""
    return Listener(ae_title).start(host=host, port=port)


def _reject(event, result: int, source: int, reason: int) -> None:
    event.assoc.acse.send_reject(result, source, reason)
    event.assoc.kill()

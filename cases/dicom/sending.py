"""C-STORE to a PACS (pynetdicom as the SCU): the one network call of results out."""

from django.conf import settings
from pydicom import uid
from pydicom.dataset import Dataset
from pynetdicom import AE

# Success, and the warnings a PACS gives when it stored the object after coercing or converting it.
STORED = {0x0000, 0xB000, 0xB006, 0xB007}


class NotDelivered(Exception):
    """The PACS did not take the objects (down, refusing, timing out); the message is for the case page."""


def store(*, host: str, port: int, ae_title: str, datasets: list[Dataset]) -> None:
    """Send every dataset in one association; NotDelivered unless the PACS stored them all."""
    ae = AE(ae_title=settings.CXR_DICOM_AE_TITLE)
    for sop_class in {ds.SOPClassUID for ds in datasets}:
        ae.add_requested_context(sop_class, [uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian])
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = settings.CXR_DICOM_TIMEOUT
    ae.connection_timeout = min(10, settings.CXR_DICOM_TIMEOUT)
    association = ae.associate(host, port, ae_title=ae_title)
    if not association.is_established:
        raise NotDelivered(f"The PACS {ae_title} at {host}:{port} did not accept the connection.")
    try:
        for dataset in datasets:
            status = association.send_c_store(dataset)
            code = status.get("Status") if status else None
            if code not in STORED:
                reason = "no answer" if code is None else f"status 0x{code:04X}"
                raise NotDelivered(f"The PACS {ae_title} did not store the result ({reason}).")
    finally:
        if association.is_established:
            association.release()

"""Received instances are written to a temporary file as they arrive, and no longer past the size limit.

pynetdicom keeps a C-STORE's data set in memory until its last fragment (issue 28: a 190 MB instance
took the listener from 220 to 531 MB before the 25 MB limit refused it). With its
STORE_RECV_CHUNKED_DATASET it writes each fragment to a temporary file instead, here in the private
data folder. `SizeLimitedDIMSE` counts a data set's bytes as they come and, past the limit, passes
on only each fragment's control byte: the peer finishes sending (DICOM has no way to stop a C-STORE
but an abort, and the unit should hear why), nothing more is written, and the store handler answers
a failure status with the instance's full size.
"""

import tempfile
from pathlib import Path

from pynetdicom import _config
from pynetdicom.dimse import DIMSEServiceProvider

FOLDER = "dicom-incoming"


def receive_into(data_dir: Path) -> Path:
    """Write received instances to temporary files in `data_dir`/dicom-incoming (this process's temporary
    folder from now on), emptied first of what a killed listener left there."""
    folder = data_dir / FOLDER
    folder.mkdir(mode=0o700, exist_ok=True)
    for leftover in folder.iterdir():
        leftover.unlink()
    tempfile.tempdir = str(folder)
    _config.STORE_RECV_CHUNKED_DATASET = True
    return folder


class SizeLimitedDIMSE(DIMSEServiceProvider):
    """pynetdicom's DIMSE provider for one association, which stops writing a data set past `limit` bytes."""

    def __init__(self, assoc, *, limit: int):
        super().__init__(assoc)
        self.limit = limit
        self.received = 0  # bytes of the data set being received
        self.oversized: dict[str, int] = {}  # SOP Instance UID -> the size it reached

    def receive_primitive(self, primitive) -> None:
        values = []
        for context_id, data in primitive.presentation_data_value_list:
            if data[0] & 1:  # a command fragment: the next message begins
                self.received = 0
            else:
                self.received += len(data) - 1
                if self.received > self.limit and self.message is not None:
                    self.oversized[str(self.message.command_set.AffectedSOPInstanceUID)] = self.received
                    data = data[:1]  # the control byte alone, which still marks the last fragment
            values.append([context_id, data])
        primitive.presentation_data_value_list = values
        super().receive_primitive(primitive)

    def size_past_limit(self, sop_instance_uid: str) -> int | None:
        """The size an instance reached if it was cut off at the limit, else None."""
        return self.oversized.pop(str(sop_instance_uid), None)

    def discard_partial(self) -> None:
        """The connection closed mid-instance: pynetdicom leaves that instance's temporary file."""
        partial = getattr(self.message, "_data_set_file", None)
        if partial is not None:
            partial.close()
            Path(partial.name).unlink(missing_ok=True)

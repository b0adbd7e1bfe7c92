"""Which model columns name files in private storage: the one list, and the reads and deletes that use it.

Every column that holds a storage name is declared here, once. The orphan sweep keeps any file a
listed column names (`referenced`); `discard` deletes a write's files only when no listed column
names them; tests/test_architecture.py fails when a model gains a column that looks like a file
name and is neither listed here nor known to name something else. A column missing from this
list is a column whose files the sweep deletes a day after they are written.
"""

import logging
from collections.abc import Iterable

from django.db import DatabaseError
from django.db.models import Q

from .. import storage
from ..models import Case, DicomResult, Prediction

log = logging.getLogger(__name__)

STORED_FILE_COLUMNS = {
    Case: ("image_name", "display_name"),  # the original as uploaded, and the display PNG
    # The model's class map (before issue 31, the film with the heatmap; none for a gate refusal or a
    # trial), and the film with the heatmap burned in, made on first need.
    Prediction: ("heatmap_name", "composite_name"),
    DicomResult: ("report_name", "capture_name"),  # the Structured Report and Secondary Capture sent to the PACS
}


def referenced(names: set[str]) -> set[str]:
    """Which of these storage names a row refers to: one query per model of STORED_FILE_COLUMNS."""
    found = set()
    for model, columns in STORED_FILE_COLUMNS.items():
        naming = Q()
        for column in columns:
            naming |= Q(**{f"{column}__in": names})
        found.update(name for row in model._base_manager.filter(naming).values_list(*columns) for name in row)
    return found & names


def discard(names: Iterable[str]) -> None:
    """Delete the files of a write whose row did not commit (or lost a race to another write).

    A name that a row refers to is kept whatever the caller believes, and so is every name when
    the database cannot say (it is down): the sweep removes those once past the grace period.
    """
    names = {name for name in names if name}
    if not names:
        return
    try:
        kept = referenced(names)
    except DatabaseError:
        log.warning("Could not check %d uncommitted file(s) against the database; the sweep will remove them",
                    len(names))
        return
    for name in names - kept:
        storage.delete(name)

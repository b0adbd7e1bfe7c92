"""The orphan sweep: storage files that no row refers to, left by writes that never committed.

A file is written before the row that names it commits (a crash, a full disk or a killed worker
in between leaves it behind), so only files older than CXR_ORPHAN_GRACE_SECONDS are looked
at: far longer than any write-then-commit takes. A file that any column of STORED_FILE_COLUMNS
names is never touched. Run by beat, and by `manage.py sweep_orphan_files [--dry-run]`.
"""

import logging
from itertools import islice

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from .. import storage
from ..audit.actors import Actor
from ..audit.services import record
from ..models import AuditEvent, Case, DicomResult, Prediction

log = logging.getLogger(__name__)
BATCH = 500
# Every model column that names a file in private storage. A column missing here is a column
# whose files the sweep deletes a day after they are written.
STORED_FILE_COLUMNS = {
    Case: ("image_name", "display_name"),
    Prediction: ("heatmap_name",),
    DicomResult: ("report_name", "capture_name"),
}


def referenced(names: set[str]) -> set[str]:
    """Which of these storage names a row refers to: one query per model of STORED_FILE_COLUMNS."""
    found = set()
    for model, columns in STORED_FILE_COLUMNS.items():
        naming = Q()
        for column in columns:
            naming |= Q(**{f"{column}__in": names})
        found.update(name for row in model.objects.filter(naming).values_list(*columns) for name in row)
    return found & names


def sweep_orphan_files(*, dry_run: bool = False) -> dict[str, int]:
    """Remove (or with `dry_run` only count) unreferenced files older than the grace period."""
    found = {"orphans": 0, "bytes": 0}
    candidates = storage.stored_files(older_than_seconds=settings.CXR_ORPHAN_GRACE_SECONDS)
    while batch := dict(islice(candidates, BATCH)):
        keep = referenced(set(batch))
        for name, path in batch.items():
            if name in keep and not path.name.endswith(storage.TEMPORARY_SUFFIX):
                continue
            found["orphans"] += 1
            found["bytes"] += path.stat().st_size
            if not dry_run:
                path.unlink(missing_ok=True)
    log.info("Orphan sweep%s: %s unreferenced files, %s bytes", " (dry run)" if dry_run else "",
             found["orphans"], found["bytes"])
    if found["orphans"] and not dry_run:
        with transaction.atomic():
            record(AuditEvent.Action.FILES_SWEPT, actor=Actor.system(),
                   details={**found, "grace_seconds": settings.CXR_ORPHAN_GRACE_SECONDS})
    return found

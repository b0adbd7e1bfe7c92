"""The orphan sweep: storage files that no row refers to, left by writes that never committed.

A file is written before the row that names it commits (a crash, a full disk or a killed worker
in between leaves it behind), so only files older than CXR_ORPHAN_GRACE_SECONDS are looked
at: far longer than any write-then-commit takes. A file that any column of STORED_FILE_COLUMNS
(cases/storage/columns.py) names is never touched. Resumable uploads past their expiry go first: the
row, then its partial file (which only an Upload row ever names). Run by beat, and by `manage.py sweep_orphan_files [--dry-run]`.
"""

import logging
from itertools import islice

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .. import storage
from ..audit.actors import Actor
from ..audit.services import record
from ..models import AuditEvent, Upload
from .columns import discard, referenced

log = logging.getLogger(__name__)
BATCH = 500


def sweep_orphan_files(*, dry_run: bool = False) -> dict[str, int]:
    """Remove (or with `dry_run` only count) expired uploads, and unreferenced files older than the grace period."""
    found = {"expired_uploads": remove_expired_uploads(dry_run=dry_run), "orphans": 0, "bytes": 0}
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
    if (found["orphans"] or found["expired_uploads"]) and not dry_run:
        with transaction.atomic():
            record(AuditEvent.Action.FILES_SWEPT, actor=Actor.system(),
                   details={**found, "grace_seconds": settings.CXR_ORPHAN_GRACE_SECONDS})
    return found


def remove_expired_uploads(*, dry_run: bool = False) -> int:
    """Delete the uploads whose expiry passed, then their partial files; how many.

    Each row goes by a conditional delete (`expires` still past): a chunk that moved its expiry on
    meanwhile keeps it. `discard` then removes the file only if no row names it any more, so a file
    a case names is never removed here, whatever the upload row said.
    """
    expired = Upload.objects.filter(expires__lt=timezone.now())
    if dry_run:
        return expired.count()
    removed = 0
    for pk, partial_name in expired.values_list("pk", "partial_name"):
        if Upload.objects.filter(pk=pk, expires__lt=timezone.now()).delete()[0]:
            removed += 1
            discard([partial_name])
    return removed

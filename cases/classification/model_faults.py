"""A worker machine that cannot load the model it serves: said on /healthz, mailed once, never the image's fault.

Model files live on each worker machine (ModelVersion.file), so a version registered and checked
on one machine can be missing, replaced or corrupt on another. Such a machine fails every case
it takes: each case is released and retried (cause "model", classification.services), and the
machine is recorded here once, as a `ModelFault` row, from its first failed load until it loads
a model again. Opening the row is audited and mailed to the administrators; the cases that
keep failing meanwhile only move its `last_seen`.
"""

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from ..alerts import mail_administrators
from ..audit.actors import Actor
from ..audit.services import record
from ..models import AuditEvent, ModelFault

log = logging.getLogger(__name__)


def model_unavailable(*, worker_host: str, model: str, reason: str) -> bool:
    """Record that `worker_host` could not load `model` (a version's name); True when this opened
    its fault (audited, and the administrators mailed once the row commits)."""
    with transaction.atomic():
        if ModelFault.objects.filter(worker_host=worker_host).update(model=model, reason=reason,
                                                                          last_seen=timezone.now()):
            return False  # already open: the administrators know
        try:
            with transaction.atomic():
                ModelFault.objects.create(worker_host=worker_host, model=model, reason=reason)
        except IntegrityError:
            return False  # another process of this machine opened it a moment ago
        record(AuditEvent.Action.MODEL_FAULT, actor=Actor.worker(worker_host),
               details={"state": "opened", "model_version": model, "reason": reason})
        values = {"model": model, "worker_host": worker_host, "reason": reason}
        transaction.on_commit(lambda: mail_administrators(message=lambda: (
            gettext("CXR Triage: a worker cannot serve the model %(model)s") % values,
            gettext("The worker on %(worker_host)s could not load what it needs to serve the model version "
                    "%(model)s: %(reason)s.\n\n"
                    "Its cases are not failed: they wait and are retried. Check that the model file is on that "
                    "machine and readable (or activate another version). /healthz reports \"model\": false until "
                    "the worker loads a model again; you will not be mailed again about this machine until "
                    "then.") % values)))
    log.error("Worker %s cannot load the model %s: %s", worker_host, model, reason)
    return True


def model_loaded(*, worker_host: str) -> None:
    """Close this machine's fault, if it has one: it has just loaded and run a model."""
    if not ModelFault.objects.filter(worker_host=worker_host).exists():  # a read per case; a write only once
        return
    with transaction.atomic():
        fault = ModelFault.objects.select_for_update().filter(worker_host=worker_host).first()
        if fault is None:
            return
        fault.delete()
        record(AuditEvent.Action.MODEL_FAULT, actor=Actor.worker(worker_host),
               details={"state": "closed", "model_version": fault.model, "since": fault.first_seen.isoformat()})


def open_model_faults() -> list[ModelFault]:
    return list(ModelFault.objects.order_by("first_seen"))

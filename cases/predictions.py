"""Classification write-back: queue a case, classify it exactly once, retry it or give up.

Status flow: submitted -> queued -> classifying -> predicted | failed, and failed -> queued when
an administrator retries. Every transition is a compare-and-set UPDATE on Case.status with an
audit row in the same transaction, so two deliveries of one message, a worker killed half-way
or a reaper running alongside a worker can never write a case twice.

The web process imports this module to enqueue; that loads no model: `classifier.inference`
opens the model runtime (LiteRT) on the first classification in each worker child process.
"""

import io
import logging
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError
from PIL import Image
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from classifier import inference
from classifier.models import ModelVersion
from classifier.preprocessing import load_grayscale
from classifier.registry import register_model
from cxrsite.celery import app

from . import storage
from .audit import record
from .models import Case, Prediction

log = logging.getLogger(__name__)

CLASSIFY_TASK = "cases.tasks.classify_case"
SYSTEM = "system"
BROKER_ERRORS = (BrokerError, RedisConnectionError, RedisTimeoutError, OSError)
# Worth retrying: the database or the broker was briefly unreachable, not the image.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, BrokerError, RedisConnectionError, RedisTimeoutError)
Status = Case.Status


class Outcome:
    PREDICTED = "predicted"
    FAILED = "failed"
    SKIPPED = "skipped"  # another delivery or worker has the case, or it is done


def _transition(case_id: int, *, source: str, target: str, actor_label: str, actor=None, request=None,
                details: dict | None = None, **fields) -> Case | None:
    """Move the case from `source` to `target` if it is still in `source`, and audit it.

    Call inside a transaction. Returns the updated case, or None when another process moved
    it first (0 rows updated), in which case nothing is written.
    """
    moved = Case.objects.filter(pk=case_id, status=source).update(
        status=target, status_changed=timezone.now(), **fields
    )
    if not moved:
        return None
    case = Case.objects.select_related("clinic").get(pk=case_id)
    record(action="status_changed", case=case, actor=actor, actor_label=actor_label, request=request,
           details={"from": source, "to": target, **(details or {})})
    return case


def _publish(case_id: int) -> bool:
    """Hand a queued case to the broker; if it is unreachable, put the case back to submitted.

    A submitted case older than a moment is what the case page shows as "classification
    delayed"; the reaper enqueues it again once the broker answers.
    """
    try:
        app.send_task(CLASSIFY_TASK, args=[case_id])
        return True
    except BROKER_ERRORS as error:
        log.warning("Could not queue case %s for classification: %s", case_id, error)
        with transaction.atomic():
            _transition(case_id, source=Status.QUEUED, target=Status.SUBMITTED, actor_label=SYSTEM,
                        details={"reason": "the queue is unreachable"})
        return False


def enqueue_case(case_id: int) -> bool:
    """Queue a submitted case for classification. Call after the case is committed
    (`transaction.on_commit`). False when the case is not submitted or the broker is down.

    The case becomes queued (committed) before the message is published, so a worker that
    receives the message at once finds it claimable.
    """
    with transaction.atomic():
        if _transition(case_id, source=Status.SUBMITTED, target=Status.QUEUED, actor_label=SYSTEM) is None:
            return False
    return _publish(case_id)


def is_delayed(case: Case) -> bool:
    """True when the case could not be handed to the queue; the reaper will retry."""
    return case.status == Status.SUBMITTED


def retry_case(*, case: Case, request) -> bool:
    """An administrator sends a failed case back to the queue with a fresh attempt count."""
    with transaction.atomic():
        moved = _transition(case.pk, source=Status.FAILED, target=Status.QUEUED, actor_label="", request=request,
                            failure_reason="", attempts=0)
        if moved is None:
            return False
        record(action="case_retried", case=moved, request=request,
               details={"previous_failure": case.failure_reason})
        transaction.on_commit(lambda: _publish(case.pk))
    return True


def classify_case(case_id: int, *, worker_host: str) -> str:
    """Classify one queued case and write its prediction back exactly once.

    1. Claim: queued -> classifying by compare-and-set. 0 rows: another delivery of the same
       message has the case or it is done; return without touching it.
    2. Classify outside any transaction (the slow part).
    3. Write: classifying -> predicted, the Prediction and the audit rows in one transaction.
       If the case left classifying meanwhile (the reaper gave it to a worker that finished
       first) nothing is written.
    An image that cannot be classified fails the case once, with the reason. Transient errors
    release the claim and propagate, so the task retries with backoff.
    """
    actor_label = f"worker@{worker_host}"
    case = Case.objects.filter(pk=case_id, status=Status.QUEUED).first()
    if case is None:
        return Outcome.SKIPPED
    with transaction.atomic():
        claimed = _transition(case_id, source=Status.QUEUED, target=Status.CLASSIFYING, actor_label=actor_label,
                              attempts=F("attempts") + 1)
    if claimed is None:
        return Outcome.SKIPPED
    queue_wait_ms = (claimed.status_changed - case.status_changed).total_seconds() * 1000
    try:
        pixels, result = _classify_image(claimed)
        return _write_prediction(claimed, pixels, result, queue_wait_ms=queue_wait_ms, worker_host=worker_host)
    except TRANSIENT_ERRORS:
        _release(case_id, actor_label=actor_label)
        raise
    except Exception as error:
        log.exception("Case %s cannot be classified", case_id)
        fail_case(case_id, source=Status.CLASSIFYING, reason=f"The image could not be classified: {error}",
                  actor_label=actor_label)
        return Outcome.FAILED


def _classify_image(case: Case):
    with storage.open_file(case.display_name) as handle:
        pixels = load_grayscale(handle.read())
    return pixels, inference.classify(pixels)


def _release(case_id: int, *, actor_label: str) -> None:
    """Best effort: give the case back to the queue; if this fails too, the reaper will."""
    try:
        with transaction.atomic():
            _transition(case_id, source=Status.CLASSIFYING, target=Status.QUEUED, actor_label=actor_label,
                        details={"reason": "transient error, retrying"})
    except TRANSIENT_ERRORS:
        log.warning("Could not release case %s; the reaper will requeue it", case_id)


def _write_prediction(case: Case, pixels: np.ndarray, result, *, queue_wait_ms: float, worker_host: str) -> str:
    actor_label = f"worker@{worker_host}"
    heatmap_name = storage.save_bytes(heatmap_png(pixels, result.heatmap), ".png")
    written = False
    try:
        with transaction.atomic():
            if _transition(case.pk, source=Status.CLASSIFYING, target=Status.PREDICTED, actor_label=actor_label,
                           **Case.suggestion_fields(result.label, result.probabilities)) is None:
                return Outcome.SKIPPED
            version = model_version_for(result)
            try:
                with transaction.atomic():
                    prediction = Prediction.objects.create(
                        case=case, model_version=version, label=result.label,
                        probabilities={k: float(v) for k, v in result.probabilities.items()},
                        heatmap_name=heatmap_name, inference_ms=result.inference_ms,
                        queue_wait_ms=queue_wait_ms, worker_host=worker_host,
                    )
            except IntegrityError:
                # This model already predicted this case (an earlier attempt): keep that row.
                return Outcome.PREDICTED
            record(action="prediction_written", case=case, actor_label=actor_label,
                   details={"prediction": prediction.pk, "label": result.label, "model_version": version.name,
                            "model_sha256": version.sha256, "inference_ms": round(result.inference_ms, 2)})
            written = True
            return Outcome.PREDICTED
    finally:
        if not written:
            storage.delete(heatmap_name)


def model_version_for(result) -> ModelVersion:
    """The registered version of the exact weights that produced `result` (matched by file hash).

    A model pinned with CXR_MODEL_PATH may not be registered yet: it is registered now, so
    every prediction names the model that made it.
    """
    return ModelVersion.objects.filter(sha256=result.model_sha256).first() or register_model(result.model_file)


def heatmap_png(pixels: np.ndarray, heatmap: np.ndarray) -> bytes:
    """The X-ray in gray with the heatmap over it in red-to-yellow, as a PNG."""
    gray = pixels.astype(np.float32)[..., np.newaxis].repeat(3, axis=2)
    heat = heatmap.astype(np.float32) / 255.0
    colour = np.stack([np.ones_like(heat), heat, np.zeros_like(heat)], axis=2) * 255.0
    alpha = (0.6 * heat)[..., np.newaxis]
    blended = gray * (1 - alpha) + colour * alpha
    buffer = io.BytesIO()
    # Level 1: a noisy film barely compresses further, and level 6 costs ~4x the time (~25 ms at 256 px).
    Image.fromarray(np.clip(blended, 0, 255).astype(np.uint8), "RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def fail_case(case_id: int, *, source: str, reason: str, actor_label: str) -> bool:
    with transaction.atomic():
        case = _transition(case_id, source=source, target=Status.FAILED, actor_label=actor_label,
                           details={"reason": reason}, failure_reason=reason)
        if case is None:
            return False
        record(action="classification_failed", case=case, actor_label=actor_label, details={"reason": reason})
    return True


def requeue_stuck_cases() -> dict[str, int]:
    """The reaper: nothing submitted is ever lost, whatever happened to Redis or a worker.

    Cases unchanged for CXR_REQUEUE_AFTER_SECONDS (longer than any task may run):
    - submitted (the broker was down at submission): queued again;
    - queued (the message was lost, e.g. Redis restarted): published again; the timestamp
      is refreshed by compare-and-set so each stuck case is republished once per period;
    - classifying (the worker died): back to queued, or failed after CXR_MAX_ATTEMPTS claims.
    Extra messages are harmless: the claim lets only one of them through.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.CXR_REQUEUE_AFTER_SECONDS)
    stuck = Case.objects.filter(status_changed__lt=cutoff)
    counts = {"submitted": 0, "queued": 0, "classifying": 0, "failed": 0}
    for case_id in stuck.filter(status=Status.SUBMITTED).values_list("pk", flat=True):
        counts["submitted"] += enqueue_case(case_id)
    for case_id, changed in stuck.filter(status=Status.QUEUED).values_list("pk", "status_changed"):
        if Case.objects.filter(pk=case_id, status=Status.QUEUED, status_changed=changed).update(
                status_changed=timezone.now()):
            counts["queued"] += _publish(case_id)
    for case_id, attempts in stuck.filter(status=Status.CLASSIFYING).values_list("pk", "attempts"):
        if attempts >= settings.CXR_MAX_ATTEMPTS:
            reason = f"Gave up after {attempts} attempts: the worker stopped each time while classifying."
            counts["failed"] += fail_case(case_id, source=Status.CLASSIFYING, reason=reason, actor_label=SYSTEM)
            continue
        with transaction.atomic():
            requeued = _transition(case_id, source=Status.CLASSIFYING, target=Status.QUEUED, actor_label=SYSTEM,
                                   details={"reason": "the worker stopped while classifying"})
        if requeued is not None:
            counts["classifying"] += _publish(case_id)
    return counts

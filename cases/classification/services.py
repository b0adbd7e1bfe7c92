"""Classification write-back: queue a case, classify it exactly once, retry it or give up.

Status flow (cases/workflow.py): submitted -> queued -> classifying -> predicted | failed, and
failed -> queued when an administrator retries. Every move is `workflow.transition`, a
compare-and-set with its audit row in the same transaction, so two deliveries of one message, a
worker killed half-way or a reaper running alongside a worker can never write a case twice.

The web process imports this module to enqueue; that loads no model: `classifier.inference`
opens the model runtime (LiteRT) on the first classification in each worker child process.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from classifier import gate, inference
from classifier.imaging import ImageRejected
from classifier.models import ModelVersion
from classifier.registry import model_file, served_gate, served_version

from .. import queue, storage
from ..storage.columns import discard
from ..audit.actors import Actor
from ..audit.services import record
from ..dicom.outbox import queue_results
from ..integrations import webhooks
from ..intake.display import classification_pixels
from ..models import AuditEvent, Case, Prediction
from ..validation.selectors import new_suggestion
from ..workflow import transition
from .faults import IMAGE_FAILURE, UNREADABLE, Cause, EnvironmentFault, environment_cause
from .images import class_map_png
from .model_faults import model_loaded, model_unavailable
from .reasons import no_suggestion_reason

log = logging.getLogger(__name__)

Status = Case.Status
Action = AuditEvent.Action


class Outcome:
    PREDICTED = "predicted"
    FAILED = "failed"
    SKIPPED = "skipped"  # another delivery or worker has the case, or it is done


def publish_case(case_id: int) -> bool:
    """Hand a queued case to the broker; if it is unreachable, put the case back to submitted.

    A submitted case older than a moment is what the case page shows as "classification
    delayed"; the reaper enqueues it again once the broker answers.
    """
    # No publish retries: a broker that is down fails in one socket timeout, and the reaper retries.
    if queue.publish(queue.CLASSIFY_TASK, case_id, retry=False):
        return True
    with transaction.atomic():
        transition(case_id, source=Status.QUEUED, target=Status.SUBMITTED, actor=Actor.system(),
                   details={"reason": "the queue is unreachable"})
    return False


def enqueue_case(case_id: int) -> bool:
    """Queue a submitted case for classification. Call after the case is committed
    (`transaction.on_commit`). False when the case is not submitted or the broker is down.

    The case becomes queued (committed) before the message is published, so a worker that
    receives the message at once finds it claimable.
    """
    with transaction.atomic():
        if transition(case_id, source=Status.SUBMITTED, target=Status.QUEUED, actor=Actor.system()) is None:
            return False
    return publish_case(case_id)


def is_delayed(case: Case) -> bool:
    """True when the case could not be handed to the queue, or has waited in it (or been
    classifying) past the requeue period; the reaper will retry it."""
    if case.status == Status.SUBMITTED:
        return True
    late = timezone.now() - timedelta(seconds=settings.CXR_REQUEUE_AFTER_SECONDS)
    return case.status in (Status.QUEUED, Status.CLASSIFYING) and case.status_changed < late


def retry_case(*, case: Case, actor: Actor) -> bool:
    """An administrator sends a failed case back to the queue with a fresh attempt count."""
    with transaction.atomic():
        moved = transition(case.pk, source=Status.FAILED, target=Status.QUEUED, actor=actor,
                           failure_reason="", failure_cause="", attempts=0, requeues=0)
        if moved is None:
            return False
        record(Action.CASE_RETRIED, actor=actor, case=moved, details={"previous_failure": case.failure_reason})
        transaction.on_commit(lambda: publish_case(case.pk))
    return True


def classify_case(case_id: int, *, worker_host: str) -> str:
    """Classify one queued case and write its prediction back exactly once.

    1. Claim: queued -> classifying by compare-and-set. 0 rows: another delivery of the same
       message has the case or it is done; return without touching it.
    2. Outside any transaction (the slow part): the input gate on the image, then the served
       model version (resolved once) classifies it. An image the gate refuses, or that falls in the
       model's uncertain band, keeps its probabilities for audit, but gets no suggestion, heatmap or
       priority: a human read.
    3. Write: classifying -> predicted, the Prediction and the audit rows in one transaction.
       If the case left classifying meanwhile (the reaper gave it to a worker that finished
       first) nothing is written.
    An image that cannot be classified fails the case once, with a reason staff can read. A
    model that does not load here (classification.model_faults) or a fault of the environment
    (storage, memory, time limit, database, broker) releases the claim, records its cause and
    raises EnvironmentFault, so the task retries with backoff; after that the reaper retries it
    (classification.upkeep), and after CXR_MAX_ATTEMPTS rounds fails it with that cause.
    """
    actor = Actor.worker(worker_host)
    queued_at = Case.objects.filter(pk=case_id, status=Status.QUEUED).values_list("status_changed", flat=True).first()
    if queued_at is None:
        return Outcome.SKIPPED
    with transaction.atomic():
        claimed = transition(case_id, source=Status.QUEUED, target=Status.CLASSIFYING, actor=actor,
                             attempts=F("attempts") + 1)
    if claimed is None:
        return Outcome.SKIPPED
    queue_wait_ms = (claimed.status_changed - queued_at).total_seconds() * 1000
    version = None
    try:
        version = served_version()
        pixels = classification_pixels(claimed)
        verdict = gate.check(pixels, gate_path=served_gate())
        result = inference.classify(pixels, model_path=model_file(version))
        model_loaded(worker_host=worker_host)
        heatmap = class_map_png(result.class_map) if verdict.passed and not result.uncertain else None
        return write_prediction(claimed, version, result, verdict, heatmap, queue_wait_ms=queue_wait_ms,
                                worker_host=worker_host, actor=actor)
    except Exception as error:
        cause = environment_cause(error)
        if cause is None:
            log.exception("Case %s cannot be classified", case_id)
            message = str(error) if isinstance(error, ImageRejected) else UNREADABLE  # never library text
            fail_case(case_id, source=Status.CLASSIFYING, reason=IMAGE_FAILURE % {"reason": message}, cause=Cause.IMAGE,
                      actor=actor)
            return Outcome.FAILED
        log.warning("Case %s: %s (%s); retrying", case_id, Cause(cause).label, type(error).__name__)
        release(case_id, cause=cause, actor=actor)
        if cause == Cause.MODEL:
            report_model_fault(worker_host, version, error)
        raise EnvironmentFault(cause) from error


def report_model_fault(worker_host: str, version: ModelVersion | None, error: Exception) -> None:
    """Best effort, after the case is released: the fault is for /healthz and the administrators."""
    try:
        model_unavailable(worker_host=worker_host, model=version.name if version else "pinned by CXR_MODEL_PATH",
                          reason=str(error))
    except Exception:  # noqa: BLE001 - the case is safe; the next case reports the fault again
        log.exception("Could not record that worker %s cannot load its model", worker_host)


def release(case_id: int, *, cause: str, actor: Actor) -> None:
    """Best effort: give the case back to the queue, not counting the attempt (the image was
    not at fault); if the database is down too, the reaper will."""
    try:
        with transaction.atomic():
            transition(case_id, source=Status.CLASSIFYING, target=Status.QUEUED, actor=actor,
                       details={"reason": "environmental fault, retrying", "cause": cause},
                       failure_cause=cause, attempts=F("attempts") - 1)
    except (OperationalError, InterfaceError):
        log.warning("Could not release case %s; the reaper will requeue it", case_id)


def write_prediction(case: Case, version: ModelVersion, result, verdict, heatmap: bytes | None, *,
                     queue_wait_ms: float, worker_host: str, actor: Actor) -> str:
    heatmap_name = storage.save_bytes(heatmap, ".png") if heatmap is not None else ""
    gate_reason = "" if verdict.passed else verdict.reason
    reason = no_suggestion_reason(gate_passed=verdict.passed, gate_reason=verdict.reason, uncertain=result.uncertain)
    fields = {"probabilities": {k: float(v) for k, v in result.probabilities.items()},
              "uncertain": result.uncertain, "covid_word": result.covid_word, "heatmap_name": heatmap_name,
              "inference_ms": result.inference_ms, "queue_wait_ms": queue_wait_ms,
              "worker_host": worker_host, "gate_passed": verdict.passed, "gate_reason": gate_reason,
              "gate_scores": verdict.scores, "gate_version": verdict.version}
    written = False
    try:
        with transaction.atomic():
            new = new_suggestion(case, version, result.label, result.probabilities, reason)
            label, fields = new.label, {**fields, "label": new.label, "covid_threshold": new.threshold}
            if transition(case.pk, source=Status.CLASSIFYING, target=Status.PREDICTED, actor=actor,
                          **new.columns) is None:
                return Outcome.SKIPPED
            prediction, from_trial = served_prediction(case, version, fields)
            if prediction is None:
                return Outcome.PREDICTED  # an earlier attempt of this version wrote it: keep that row
            record(Action.PREDICTION_WRITTEN, actor=actor, case=case,
                   details={"prediction": prediction.pk, "label": label, "model_version": version.name,
                            "model_sha256": version.sha256, "inference_ms": round(result.inference_ms, 2),
                            "gate": {"passed": verdict.passed, "reason": verdict.reason, "version": verdict.version},
                            "uncertain": result.uncertain,
                            **({"from_trial": True} if from_trial else {})})
            if new.exposed:  # to a PACS that asked for AI suggestions, once the clinic is live
                queue_results(case=case, prediction=prediction)
            webhooks.announce(case=case, event=webhooks.Event.PREDICTED)
            written = True
            return Outcome.PREDICTED
    finally:
        if not written:
            discard([heatmap_name])


def served_prediction(case: Case, version: ModelVersion, fields: dict) -> tuple[Prediction | None, bool]:
    """The row to show for this version's prediction of the case, and whether it was a trial row.

    Usually a new row. If the version already scored the case on silent trial (it is served now),
    that row becomes the served prediction, completed with everything a served one has (heatmap,
    gate result, times): one row per case and version, by the unique constraint. None when this
    version's served prediction already exists.
    """
    try:
        with transaction.atomic():
            return Prediction.objects.create(case=case, model_version=version, **fields), False
    except IntegrityError:
        pass
    prediction = Prediction.objects.select_for_update().filter(case=case, model_version=version, trial=True).first()
    if prediction is None:
        return None, False
    for name, value in fields.items():
        setattr(prediction, name, value)
    prediction.trial, prediction.created = False, timezone.now()  # shown from now on
    prediction.save()
    return prediction, True


def fail_case(case_id: int, *, source: str, reason: str, cause: str, actor: Actor) -> bool:
    with transaction.atomic():
        case = transition(case_id, source=source, target=Status.FAILED, actor=actor,
                          details={"reason": reason}, failure_reason=reason, failure_cause=cause)
        if case is None:
            return False
        record(Action.CLASSIFICATION_FAILED, actor=actor, case=case, details={"reason": reason, "cause": cause})
        webhooks.announce(case=case, event=webhooks.Event.FAILED)
    return True


def retry_failed_cases(*, cases, actor: Actor) -> int:
    """An administrator's bulk retry (e.g. every case that failed for one cause): how many went back."""
    return sum(retry_case(case=case, actor=actor) for case in cases.filter(status=Status.FAILED))

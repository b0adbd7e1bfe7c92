"""Silent trials: versions on trial classify real cases beside the served one, seen by nobody.

A case's served prediction is written first (`services.classify_case`); only then does the
worker queue one `score_trial` task per version on trial that covers the case (its clinics and
its sample). Each trial runs in its own task, so a trial that is slow, broken or retried never
delays, blocks or fails the prediction the radiologist answers. A trial prediction is a
`Prediction` row with `trial=True`: one per case and version by the same unique constraint
(`one_prediction_per_case_and_model`), so a second delivery or a second re-scoring run writes
nothing. It never touches the case's worklist columns (`Case.predicted_label`,
`covid_probability`), and every page reads predictions through `Prediction.objects.shown()`.

Re-scoring the past gives a trial evidence on its first day: `rescore_past_cases` queues a
chain of batches, each scoring up to RESCORE_BATCH reviewed cases in one bounded task.
"""

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from classifier import gate, inference
from classifier.artifacts import ModelFileError
from classifier.models import ModelVersion
from classifier.registry import model_file, served_gate, trial_versions
from classifier.signals import rescoring_requested

from .. import queue
from ..audit.actors import Actor
from ..audit.services import record
from ..intake.display import classification_pixels
from ..models import AuditEvent, Case, Prediction, Review
from .faults import TRANSIENT_ERRORS
from .services import Outcome

log = logging.getLogger(__name__)

RESCORE_BATCH = 100  # cases per re-scoring task: a few seconds of LiteRT, well inside the task time limit
Action = AuditEvent.Action


def start_trials(case_id: int) -> int:
    """Queue the trials that cover a case whose served prediction is committed; how many.

    Never raises: whatever goes wrong here (the broker, the registry) costs the trial its
    evidence for this case, never the case its prediction.
    """
    if not settings.CXR_TRIALS_ENABLED:
        return 0
    try:
        versions = trial_versions()
        if not versions:  # most cases: one query, and no read of the case
            return 0
        case = Case.objects.select_related("clinic").get(pk=case_id)
        versions = [version for version in versions
                    if version.trial_covers(clinic_code=case.clinic.code, case_key=case.public_id)]
        return sum(queue.publish(queue.TRIAL_TASK, case_id, version.pk) for version in versions)
    except Exception:
        log.exception("Could not queue the trials for case %s", case_id)
        return 0


def score_with_trial(*, case_id: int, version_id: int, worker_host: str) -> str:
    """Classify one case with one version on trial and store the prediction once, unseen.

    Skipped when trials are off, the trial has ended, or the version already scored the case.
    An image or model that cannot be classified is audited as a failed trial; transient
    database or broker errors propagate so the task retries.
    """
    version = ModelVersion.objects.filter(pk=version_id, on_trial=True, active=False).first()
    case = Case.objects.select_related("clinic").filter(pk=case_id).first()
    if not settings.CXR_TRIALS_ENABLED or version is None or case is None or already_scored(case, version):
        return Outcome.SKIPPED
    actor = Actor.worker(worker_host)
    try:
        pixels = classification_pixels(case)
        # The served gate, as on the served path: its verdict says whether this prediction could
        # have been a suggestion, and the comparison leaves out the films it refuses.
        verdict = gate.check(pixels, gate_path=served_gate())
        result = inference.classify(pixels, model_path=model_file(version))
    except TRANSIENT_ERRORS:
        raise
    except Exception as error:
        log.exception("Trial version %s cannot classify case %s", version.name, case_id)
        record(Action.TRIAL_FAILED, actor=actor, case=case,
               details={"model_version": version.name, "error": type(error).__name__,
                        "cause": "model" if isinstance(error, ModelFileError) else "other"})
        return Outcome.FAILED
    try:
        with transaction.atomic():
            prediction = Prediction.objects.create(
                case=case, model_version=version, label=result.label, trial=True,
                probabilities={k: float(v) for k, v in result.probabilities.items()},
                inference_ms=result.inference_ms, queue_wait_ms=None, worker_host=worker_host,
                gate_passed=verdict.passed, gate_reason="" if verdict.passed else verdict.reason,
                gate_scores=verdict.scores, gate_version=verdict.version, uncertain=result.uncertain,
                covid_word=result.covid_word)
            record(Action.TRIAL_PREDICTION_WRITTEN, actor=actor, case=case,
                   details={"prediction": prediction.pk, "label": result.label, "model_version": version.name,
                            "model_sha256": version.sha256,
                            "gate": {"passed": verdict.passed, "reason": verdict.reason, "version": verdict.version}})
    except IntegrityError:
        return Outcome.SKIPPED  # another delivery wrote it first: the unique constraint keeps one
    return Outcome.PREDICTED


def already_scored(case: Case, version: ModelVersion) -> bool:
    return Prediction.objects.filter(case=case, model_version=version).exists()


def past_cases_for(version: ModelVersion) -> QuerySet[Case]:
    """Reviewed cases of the trial's clinics that the version has not scored, oldest first.
    Not sampled: the point of re-scoring is evidence, and it runs once, not on every new case."""
    cases = Case.objects.filter(pk__in=Review.objects.in_force().values("case_id"))
    codes = version.trial_clinic_codes()
    if codes:
        cases = cases.filter(clinic__code__in=codes)
    return cases.exclude(predictions__model_version=version).order_by("id")


def rescore_past_cases(*, version: ModelVersion, actor: Actor) -> int:
    """Queue the first batch and audit it; the number of cases waiting to be scored.

    Raises ValueError when the version is not on trial, and ConnectionError when the broker is
    unreachable (nothing is queued or recorded then). The batches run in the worker.
    """
    if not version.on_trial or version.active:
        raise ValueError(f"{version.name} is not on trial.")
    waiting = past_cases_for(version).count()
    if not queue.publish(queue.RESCORE_TASK, version.pk, 0):
        raise ConnectionError("the task queue is unreachable")
    record(Action.TRIAL_RESCORING_STARTED, actor=actor, details={"model_version": version.name, "cases": waiting})
    return waiting


def rescore_batch(*, version_id: int, after_id: int, worker_host: str) -> int:
    """Score the next RESCORE_BATCH past cases after `after_id`, then queue the batch after them.

    Each case is scored as a trial task would, so running re-scoring twice, or beside the
    live trial, writes each prediction once. Returns how many cases this batch looked at.
    """
    version = ModelVersion.objects.filter(pk=version_id, on_trial=True, active=False).first()
    if version is None:
        return 0
    batch = list(past_cases_for(version).filter(pk__gt=after_id).values_list("pk", flat=True)[:RESCORE_BATCH])
    for case_id in batch:
        score_with_trial(case_id=case_id, version_id=version_id, worker_host=worker_host)
    if len(batch) == RESCORE_BATCH:
        queue.publish(queue.RESCORE_TASK, version_id, batch[-1])
    return len(batch)


def rescore_on_request(sender, version, user=None, **kwargs) -> int:
    """Receiver of `classifier.signals.rescoring_requested` (the model admin's action)."""
    actor = Actor.of_user(user) if user is not None else Actor.system()
    return rescore_past_cases(version=version, actor=actor)


def connect() -> None:
    rescoring_requested.connect(rescore_on_request, sender=ModelVersion, dispatch_uid="cases.trials.rescore")

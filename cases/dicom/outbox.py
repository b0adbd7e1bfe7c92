"""Results out: queue the DICOM objects of a signed review (or an AI suggestion), build them once,
send them to the clinic's PACS exactly once, and record how it went.

Exactly once: a result is one row per review (unique `key`), made in the transaction that signs
the review. Its objects are built once and kept (a compare-and-set on the empty file names), so
every retry and every download is the same instances with the same UIDs, and a PACS that got
them already just stores them again. "sent" is written by a compare-and-set from "waiting" with
its audit row, so two deliveries of one task audit one sending.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from pydicom.uid import generate_uid

from .. import queue, storage
from ..storage.columns import discard
from ..audit.actors import Actor
from ..audit.services import record
from ..classification.composites import heatmap_composite
from ..intake.display import display_name_of
from ..models import AuditEvent, Case, DicomResult, Prediction, Review
from . import results, sending
from .selectors import result_node

log = logging.getLogger(__name__)

Status = DicomResult.Status
NotDelivered = sending.NotDelivered


def queue_results(*, case: Case, prediction: Prediction | None, review: Review | None = None) -> DicomResult | None:
    """Call inside the transaction that signs `review` (or writes `prediction`); sends after commit.

    Only a case whose original is DICOM has a study to answer; an AI suggestion is sent only to a
    node that asks for suggestions, and a prediction that is no suggestion (refused, uncertain) never.
    """
    if case.image_format != "DICOM":
        return None
    node = result_node(case)
    if review is None and not (prediction.gives_suggestion and node and node.wants_suggestions):
        return None
    key = f"review-{review.pk}" if review is not None else f"suggestion-{prediction.pk}"
    result, created = DicomResult.objects.get_or_create(
        key=key, defaults={"case": case, "prediction": prediction, "review": review, "node": node})
    if created:
        transaction.on_commit(lambda: publish(result.pk), robust=True)
    return result


def publish(result_id: int) -> bool:
    return queue.publish(queue.SEND_RESULT_TASK, result_id)


def requeue_unsent_results(*, older_than: float) -> int:
    """Publish again the results never tried since `older_than` seconds ago: the broker was down
    when their review was signed (beat runs this with the stuck-case reaper). A second message for
    a result that was merely slow is harmless: the objects are the same and "sent" is set once."""
    cutoff = timezone.now() - timedelta(seconds=older_than)
    stale = DicomResult.objects.filter(status=Status.WAITING, attempts=0, created__lt=cutoff)
    return sum(publish(result_id) for result_id in stale.values_list("pk", flat=True))


def backoff(retries: int) -> int:
    """Seconds before the next try: CXR_DICOM_RETRY_SECONDS doubling, at most 10 minutes."""
    return min(600, settings.CXR_DICOM_RETRY_SECONDS * 2 ** retries)


def deliver_result(result_id: int, *, worker_host: str) -> str:
    """Build the result's objects if not yet built and send them; NotDelivered to be retried."""
    result = DicomResult.objects.select_related("case", "node", "prediction__model_version", "review").get(
        pk=result_id)
    if result.status != Status.WAITING:
        return result.status
    try:
        result = build_objects(result)
    except Exception:  # a file missing from storage: no retry can mend it, and the page must say so
        log.exception("The DICOM objects of result %s could not be built", result_id)
        fail_result(result_id, reason="The DICOM objects could not be built.", worker_host=worker_host)
        return Status.FAILED
    actor = Actor.worker(worker_host)
    if result.node is None:
        DicomResult.objects.filter(pk=result.pk, status=Status.WAITING).update(status=Status.KEPT)
        return Status.KEPT
    node = result.node
    try:
        sending.store(host=node.host, port=node.port, ae_title=node.ae_title,
                      datasets=[results.read(result.report_name), results.read(result.capture_name)])
    except NotDelivered as error:
        DicomResult.objects.filter(pk=result.pk, status=Status.WAITING).update(
            attempts=F("attempts") + 1, last_error=str(error)[:200])
        raise
    with transaction.atomic():
        if DicomResult.objects.filter(pk=result.pk, status=Status.WAITING).update(
                status=Status.SENT, sent_at=timezone.now(), attempts=F("attempts") + 1, last_error=""):
            record(AuditEvent.Action.DICOM_RESULT_SENT, actor=actor, case=result.case, details=_details(result))
    return Status.SENT


def fail_result(result_id: int, *, reason: str, worker_host: str) -> bool:
    """After the last try: the case page shows the result as failed, with the reason."""
    result = DicomResult.objects.select_related("case", "node").get(pk=result_id)
    with transaction.atomic():
        if not DicomResult.objects.filter(pk=result_id, status=Status.WAITING).update(
                status=Status.FAILED, last_error=reason[:200]):
            return False
        record(AuditEvent.Action.DICOM_RESULT_FAILED, actor=Actor.worker(worker_host), case=result.case,
               details={**_details(result), "reason": reason})
    return True


def build_objects(result: DicomResult) -> DicomResult:
    """The SR and SC of this result, written once: a second builder's files are deleted again."""
    if result.report_name:
        return result
    case = result.case
    with storage.open_file(case.image_name) as original:
        source = results.source_header(original.read())
    # The film with the heatmap burned in (made now if no one needed it before); a model that drew
    # no heatmap, or a report with no suggestion (a human read, a clinic validating the AI), leaves the plain film.
    prediction = result.prediction
    with storage.open_file(heatmap_composite(prediction) if prediction is not None and prediction.heatmap_name
                           else display_name_of(case)) as heatmap:
        capture = results.secondary_capture(source=source, heatmap_png=heatmap.read(), series_uid=generate_uid())
    report = results.structured_report(source=source, prediction=result.prediction, review=result.review,
                                       series_uid=generate_uid(), previous=_previous_report(result))
    names = [storage.save_bytes(results.encoded(report), ".dcm"), storage.save_bytes(results.encoded(capture), ".dcm")]
    if not DicomResult.objects.filter(pk=result.pk, report_name="").update(report_name=names[0],
                                                                            capture_name=names[1]):
        discard(names)
    result.refresh_from_db()
    return result


def _previous_report(result: DicomResult):
    """For an amendment, the report it replaces (its Predecessor Documents), when that was built."""
    amended = result.review.amends_id if result.review is not None else None
    earlier = DicomResult.objects.filter(key=f"review-{amended}").exclude(report_name="").first() if amended else None
    return results.read(earlier.report_name) if earlier is not None else None


def _details(result: DicomResult) -> dict:
    return {"result": result.key, "node": result.node.ae_title if result.node else None,
            "amended": bool(result.review and result.review.amends_id)}

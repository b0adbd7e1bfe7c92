"""Signing, and amending, a radiologist's review of a case's AI prediction.

A case moves predicted -> reviewed exactly once, by a compare-and-set (`workflow.transition`), so when two
radiologists sign at the same moment the first one wins and the second is told who did.
Amendments never change a signed review; they add a new one that points at it.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from classifier.labels import FINDINGS, UNUSABLE

from .. import access
from ..audit.actors import Actor
from ..audit.services import record
from ..dicom.outbox import queue_results
from ..integrations import webhooks
from ..notifications.services import announce_result
from ..models import AuditEvent, Case, FirstImpression, Prediction, Review
from ..workflow import transition
from ..validation.selectors import NOTHING_TO_CONFIRM_WHILE_VALIDATING, is_exposed
from .selectors import current_review, latest_prediction


class ReviewError(Exception):
    """The review cannot be signed as asked; the message is meant for the radiologist."""


class ReviewConflict(ReviewError):
    """Someone else signed (or amended) first."""


def may_review(user, case: Case) -> bool:
    """Radiologists (perm cases.add_review) may review only the cases of clinics they serve."""
    return access.can_review(user) and access.clinics_for(user).filter(pk=case.clinic_id).exists()


def _check_finding(*, finding: str, note: str, prediction: Prediction | None) -> bool:
    """Whether the finding agrees with the AI suggestion, derived here and never taken from the form.
    Disagreeing needs a note saying why, except "image not usable" (the reason is the finding itself).
    With no suggestion (the input gate refused the image: a human read) there is nothing to agree with."""
    if finding not in FINDINGS:
        raise ReviewError(gettext("Choose a final finding."))
    if prediction is None:
        return False
    agreed = finding == prediction.label
    if not agreed and finding != UNUSABLE and not note.strip():
        raise ReviewError(gettext("A note is required when you override the AI suggestion."))
    return agreed


def first_impression_of(case: Case, reader) -> FirstImpression | None:
    return case.first_impressions.filter(reader=reader).first()


def needs_first_impression(case: Case, reader) -> bool:
    """In a read-first clinic the AI panel stays closed until this reader has recorded their own finding."""
    return case.clinic.read_first and first_impression_of(case, reader) is None


def record_first_impression(*, case: Case, reader, finding: str, actor: Actor | None = None) -> FirstImpression:
    """Keep a read-first radiologist's own finding, made before seeing the AI; it cannot be changed
    (the unique constraint is the compare-and-set: a second one keeps the first)."""
    _check_reviewer(reader, case)
    if finding not in FINDINGS:
        raise ReviewError(gettext("Choose your first impression."))
    try:
        with transaction.atomic():
            impression = FirstImpression.objects.create(case=case, reader=reader, finding=finding)
            record(AuditEvent.Action.FIRST_IMPRESSION_RECORDED, actor=actor or Actor.of_user(reader), case=case,
                   details={"finding": finding})
    except IntegrityError:
        return first_impression_of(case, reader)
    return impression


def _check_reviewer(reviewer, case: Case) -> None:
    if not may_review(reviewer, case):
        raise ReviewError(gettext("You may review only the cases of clinics you serve."))


def sign_review(*, case: Case, reviewer, finding: str, note: str = "", prediction_id: int | None = None,
                actor: Actor | None = None) -> Review:
    """Sign the final finding for a predicted case; the first signature wins.

    `prediction_id` is the prediction the radiologist looked at (from the form); if a newer one has
    arrived since, signing is refused rather than answering a prediction they did not see.
    Steps, all in one transaction: 1) check who and what, 2) claim the case with
    UPDATE ... WHERE status='predicted' (0 rows: someone signed first, raise ReviewConflict),
    3) write the review and its audit event. `actor` adds the client's address (default: the reviewer).
    """
    _check_reviewer(reviewer, case)
    latest = latest_prediction(case)
    if latest is None:
        raise ReviewError(gettext("This case has no prediction to review yet."))
    if prediction_id is not None and prediction_id != latest.pk:
        raise ReviewConflict(gettext("A newer prediction arrived for this case; look at it before signing."))
    # A human read, or a blind read at a clinic validating the AI, answers no suggestion.
    suggestion = latest if latest.gives_suggestion and is_exposed(latest) else None
    if needs_first_impression(case, reviewer):
        raise ReviewError(gettext("Record your first impression before signing."))
    impression = first_impression_of(case, reviewer) if case.clinic.read_first else None
    agreed = _check_finding(finding=finding, note=note, prediction=suggestion)
    actor = actor or Actor.of_user(reviewer)
    with transaction.atomic():
        # Audited by the review's own event below, in the same transaction.
        if transition(case.pk, source=Case.Status.PREDICTED, target=Case.Status.REVIEWED, actor=actor,
                      audited=False) is None:
            raise _already_signed(case)
        review = Review.objects.create(
            case=case, prediction=suggestion, reviewer=reviewer, finding=finding, note=note.strip(), agreed=agreed,
            first_impression=impression.finding if impression else "",
        )
        record(signing_action(suggestion, agreed),
               actor=actor, case=case, details=_details(review))
        queue_results(case=case, prediction=suggestion, review=review)  # the DICOM report, after commit
        webhooks.announce(case=case, event=webhooks.Event.SIGNED)  # the clinic's systems, after commit
        announce_result(case=case, review=review)  # and its staff who chose to be told
    case.status = Case.Status.REVIEWED
    return review


def confirm_review(*, case: Case, reviewer, note: str = "", actor: Actor | None = None) -> Review:
    """Sign the latest prediction's own label as the final finding."""
    latest = latest_prediction(case)
    if latest is None:
        raise ReviewError(gettext("This case has no prediction to review yet."))
    if not latest.gives_suggestion:
        raise ReviewError(gettext("There is no AI suggestion to confirm: the image needs a human read."))
    if not is_exposed(latest):
        raise ReviewError(str(NOTHING_TO_CONFIRM_WHILE_VALIDATING))
    return sign_review(case=case, reviewer=reviewer, finding=latest.label, note=note, prediction_id=latest.pk,
                       actor=actor)


def amend_review(*, review: Review, reviewer, finding: str, note: str = "", reason: str,
                 actor: Actor | None = None) -> Review:
    """Replace a signed review with a new one that keeps the earlier one (via `amends`).

    The one-to-one `amends` column is the compare-and-set here: a second amendment of the
    same review violates its unique constraint and is reported as a conflict.
    """
    case = review.case
    _check_reviewer(reviewer, case)
    if not reason.strip():
        raise ReviewError(gettext("Give the reason for the amendment."))
    agreed = _check_finding(finding=finding, note=note or reason, prediction=review.prediction)
    try:
        with transaction.atomic():
            amendment = Review.objects.create(
                case=case, prediction=review.prediction, reviewer=reviewer, finding=finding, note=note.strip(),
                agreed=agreed, amends=review, amendment_reason=reason.strip(),
            )
            record(AuditEvent.Action.REVIEW_AMENDED, actor=actor or Actor.of_user(reviewer), case=case,
                   details={**_details(amendment), "amends": review.pk, "reason": amendment.amendment_reason})
            shown = review.prediction if review.prediction is not None and is_exposed(review.prediction) else None
            queue_results(case=case, prediction=shown, review=amendment)  # an amended report
            webhooks.announce(case=case, event=webhooks.Event.AMENDED)
            announce_result(case=case, review=amendment)
    except IntegrityError:
        raise ReviewConflict(gettext("This review was already amended by someone else; reload the case.")) from None
    return amendment


def signing_action(suggestion: Prediction | None, agreed: bool) -> str:
    """A read that answered no suggestion is neither a confirmation nor an override."""
    if suggestion is None:
        return AuditEvent.Action.REVIEW_SIGNED
    return AuditEvent.Action.REVIEW_CONFIRMED if agreed else AuditEvent.Action.REVIEW_OVERRIDDEN


def _already_signed(case: Case) -> ReviewError:
    review = current_review(case)
    if review is None:
        return ReviewError(gettext("This case is not awaiting review."))
    when = timezone.localtime(review.signed_at).strftime("%Y-%m-%d %H:%M")
    return ReviewConflict(gettext("%(reviewer)s already signed this case at %(when)s; your review was not saved.")
                          % {"reviewer": review.reviewer.get_username(), "when": when})


def _details(review: Review) -> dict:
    prediction = review.prediction
    return {
        "review": review.pk,
        "finding": review.finding,
        "predicted": prediction.label if prediction else None,
        "human_read": review.case.gate_reason or None,
        "prediction": prediction.pk if prediction else None,
        "agreed": review.agreed,
        **({"note": review.note} if review.note else {}),  # an override's reason, for the audit trail and its CSV
        **({"first_impression": review.first_impression} if review.first_impression else {}),
    }

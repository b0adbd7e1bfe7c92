"""Reads for radiologists: the worklist (which cases, in which order, how many of each
status) and a case's result (the latest prediction and the review in force).

Ordering (`Case.objects.in_worklist_order`): COVID-19 priority (the latest probability above the threshold in
force at the clinic when it was written, `Case.covid_priority`) first, then the staff "urgent" flag, then the
longest wait.
The latest prediction's label and COVID-19 probability are columns of Case (written with the
prediction), so a page is one query over one table plus a count, whatever the number of cases.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.core.paginator import Page
from django.db import connection
from django.db.models import FloatField, OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Greatest
from django.utils import timezone
from django.utils.translation import gettext

from classifier.labels import LABELS

from ..audit.selectors import start_of_day
from ..classification.reasons import UNCERTAIN, reason_text
from ..models import Case, Prediction, Review
from ..paging import COUNT_CAP, CappedPaginator
from ..validation.selectors import is_exposed, latest_prediction  # noqa: F401  (latest_prediction re-exported)
from ..words import finding_name

PAGE_SIZE = 25
HUMAN_READ = "human_read"  # the worklist filter for images the input gate refused


@dataclass(frozen=True)
class CaseResult:
    """What a case page shows: the prediction people may see (`validation.selectors.exposed_prediction`) and
    the review in force, if any.

    A prediction whose image the input gate refused is no suggestion: `suggestion` is None and
    `human_read` says why the image needs a radiologist's read without one. At a clinic that is validating
    the AI, `prediction` is None, `validating` is True and `latest_id` is what the signing form answers.
    """

    prediction: Prediction | None
    review: Review | None
    validating: bool = False
    latest_id: int | None = None
    refused_reason: str = ""  # the input gate's, even while validating: it is about the image, not a suggestion

    @property
    def suggestion(self) -> Prediction | None:
        return self.prediction if self.prediction is not None and self.prediction.gives_suggestion else None

    @property
    def human_read(self) -> str:
        unknown = gettext("The image did not pass the input check.")
        if self.refused_reason:  # the input gate's, even while validating
            return reason_text(self.refused_reason, unknown)
        if self.prediction is None or self.prediction.gives_suggestion:
            return ""
        if self.prediction.gate_passed:
            return reason_text(UNCERTAIN)
        return reason_text(self.prediction.gate_reason, unknown)


def current_review(case: Case) -> Review | None:
    """The signed review in force: the one no later review amends."""
    return case.reviews.in_force().select_related("reviewer", "prediction").newest_first().first()


def result_for(case: Case) -> CaseResult:
    latest = latest_prediction(case)
    exposed = latest if latest is not None and is_exposed(latest) else None
    return CaseResult(prediction=exposed, review=current_review(case),
                      validating=latest is not None and exposed is None,
                      latest_id=latest.pk if latest is not None else None,
                      refused_reason=latest.gate_reason if latest is not None and latest.gate_passed is False else "")


@dataclass(frozen=True)
class WorklistFilters:
    status: str = Case.Status.PREDICTED
    clinic: int | None = None
    label: str = ""
    submitted_from: date | None = None
    submitted_to: date | None = None


def worklist_for(user, *, filters: WorklistFilters) -> QuerySet[Case]:
    cases = Case.objects.visible_to(user)
    if filters.status:
        cases = cases.filter(status=filters.status)
    if filters.clinic:
        cases = cases.filter(clinic_id=filters.clinic)
    if filters.label == HUMAN_READ:
        cases = cases.exclude(gate_reason="")
    elif filters.label:
        cases = cases.filter(predicted_label=filters.label)
    if filters.submitted_from:
        cases = cases.filter(created__gte=start_of_day(filters.submitted_from))
    if filters.submitted_to:
        cases = cases.filter(created__lt=start_of_day(filters.submitted_to + timedelta(days=1)))
    return cases.in_worklist_order()


def worklist_page(user, *, filters: WorklistFilters, page_number, counts: dict[str, int] | None = None) -> Page:
    """One page of the worklist in three queries: count, the page's ids, then those rows.

    Sorting only ids lets the database read nothing but the case_worklist index while it
    orders every waiting case; the full rows and their patients are fetched for 25 cases.
    The count stops a page past the asked one (cases/paging.py: "Page 1 of 40+" on a long queue). When
    only the status filters, the page's `status_counts` already say the total (exact below their cap, "more
    than the cap" above it): pass them and the count query is skipped, but on pages past the cap.
    """
    ordered = worklist_for(user, filters=filters)
    paginator = CappedPaginator(ordered.values_list("pk", flat=True), PAGE_SIZE)
    known = known_total(filters, counts)
    if known is not None:
        paginator.know(known[0], exact=known[1])
    page = paginator.get_page(page_number)
    page.object_list = list(ordered.filter(pk__in=list(page.object_list)).select_related("patient", "clinic"))
    return page


def known_total(filters: WorklistFilters, counts: dict[str, int] | None) -> tuple[int, bool] | None:
    """The number of cases the filters select, when the per-status counts say it, and whether exactly (every
    count under its cap) or only as a lower bound."""
    if counts is None or filters.clinic or filters.label or filters.submitted_from or filters.submitted_to:
        return None
    selected = [counts.get(filters.status, 0)] if filters.status else list(counts.values())
    return sum(selected), all(count <= COUNT_CAP for count in selected)


def with_outcome(cases: QuerySet[Case]) -> QuerySet[Case]:
    """Annotate the AI's confidence in its label (of the prediction people may see) and the finding of the
    signed review in force (its id, and when it was signed if it is an amendment, let an open case list
    notice a new one)."""
    latest = Prediction.objects.exposed().filter(case=OuterRef("pk")).newest_first()
    final = Review.objects.in_force().filter(case=OuterRef("pk")).newest_first()
    highest = Greatest(*(Cast(KT(f"probabilities__{label}"), FloatField()) for label in LABELS))
    return cases.annotate(
        confidence=Subquery(latest.annotate(p=highest).values("p")[:1], output_field=FloatField()),
        final_finding=Subquery(final.values("finding")[:1]),
        final_review=Subquery(final.values("pk")[:1]),
        final_amended_at=Subquery(final.filter(amends__isnull=False).values("signed_at")[:1]),
    )


MAX_OUTCOMES = 100  # a page of the case list is 25


def outcomes_for(user, public_ids: list[str]) -> list[dict]:
    """What an open page needs to see that a case has moved on: its status and the review in force,
    for the asked cases this user may see (the same read rule as every case page; others are left out).
    `key` changes whenever the page must be redrawn: a new status, prediction people may see (a clinic validating
    the AI shows none: `Prediction.objects.exposed`), signature or amendment."""
    latest = Prediction.objects.exposed().filter(case=OuterRef("pk")).newest_first()
    cases = with_outcome(Case.objects.visible_to(user).filter(public_id__in=public_ids[:MAX_OUTCOMES])).annotate(
        prediction_id=Subquery(latest.values("pk")[:1]),
    ).select_related("patient").order_by()
    return [{
        "id": str(case.public_id),
        "status": case.status,
        "status_display": case.get_status_display(),
        "review": case.final_review,
        "key": f"{case.status}:{case.prediction_id or ''}:{case.final_review or ''}",
        "final": finding_name(case.final_finding or ""),
        "amended_at": _local_minute(case.final_amended_at) if case.final_amended_at else "",
        "announce": _outcome_news(case),
    } for case in cases]


def _local_minute(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def _outcome_news(case: Case) -> str:
    """One sentence a screen reader hears when a listed case gets its finding or an amendment."""
    if not case.final_finding:
        return ""
    values = {"mrn": case.patient.mrn, "finding": finding_name(case.final_finding)}
    if case.final_amended_at:
        return gettext("Patient %(mrn)s: amended at %(when)s, final finding %(finding)s.") % {
            **values, "when": _local_minute(case.final_amended_at)}
    return gettext("Patient %(mrn)s: reviewed, final finding %(finding)s.") % values


def status_counts(user) -> dict[str, int]:
    """Cases per status in this radiologist's clinics, every status present (zero if none), each counted no
    further than COUNT_CAP + 1 (`count_text` shows it as "1,000+"): with a million cases, an exact count of
    the reviewed archive read every row for a figure nobody acts on.

    One query: a capped count per status, each a subquery built from the same read rule
    (`visible_to`) that walks the status's index entries and stops at the cap.
    """
    visible = Case.objects.visible_to(user).order_by()
    parts, params = [], []
    for status in Case.Status.values:
        sql, sql_params = visible.filter(status=status).values("pk")[: COUNT_CAP + 1].query.sql_with_params()
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) capped)")
        params.extend(sql_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = cursor.fetchone()
    return dict(zip(Case.Status.values, row))

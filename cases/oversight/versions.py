"""How each model version agrees with the radiologists: read-only selectors and a chart.

A case's radiologist finding is its review in force (`Review.objects.in_force()`). Every
prediction of a reviewed case is compared with that finding, so a model
version that ran on a case in the background (a silent trial) is measured against the same truth.
"""

import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, F, FloatField, Func, Window
from django.db.models.functions import RowNumber
from django.utils.translation import gettext

from classifier.labels import FINDING_NAMES
from classifier.models import ModelVersion

from ..models import Prediction, Review
from .agreement import DISAGREED, compared_reviews
from .statistics import MatrixRow, confusion_matrix

OVERRIDES_SHOWN = 50


@dataclass(frozen=True)
class Override:
    case_public_id: str
    predicted: str
    finding: str
    note: str
    reviewer: str
    signed_at: datetime


@dataclass(frozen=True)
class VersionOversight:
    version: ModelVersion
    trial: bool  # the role the version had when it wrote these predictions: silent trial, or served
    predictions: int
    compared: int
    matrix: list[MatrixRow]
    agreement: float | None
    covid_cases: int
    covid_sensitivity: float | None
    overrides: list[Override]  # the latest OVERRIDES_SHOWN
    override_count: int
    median_to_prediction: timedelta | None
    median_to_review: timedelta | None
    uncertain: int = 0  # predictions in the model's uncertain band: no suggestion, a human read

    @property
    def role(self) -> str:
        return gettext("silent trial") if self.trial else gettext("served")

    @property
    def agreement_percent(self) -> str:
        return percent(self.agreement)

    @property
    def covid_sensitivity_percent(self) -> str:
        return percent(self.covid_sensitivity)

    @property
    def median_to_prediction_text(self) -> str:
        return duration_text(self.median_to_prediction)

    @property
    def median_to_review_text(self) -> str:
        return duration_text(self.median_to_review)


def percent(fraction: float | None) -> str:
    return "–" if fraction is None else f"{100 * fraction:.1f}%"


def duration_text(duration: timedelta | None) -> str:
    if duration is None:
        return "–"
    seconds = round(duration.total_seconds())
    hours, minutes_left = divmod(seconds // 60, 60)
    if hours:
        return gettext("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes_left}
    if minutes_left:
        return gettext("%(minutes)s min %(seconds)s s") % {"minutes": minutes_left, "seconds": seconds % 60}
    return gettext("%(seconds)s s") % {"seconds": seconds}


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class Seconds(Func):
    """A datetime as seconds since the epoch, in the database's own arithmetic: Django subtracts
    datetimes on SQLite through a Python function called once per row (seconds at 100,000 cases)."""

    output_field = FloatField()
    template = "EXTRACT(EPOCH FROM %(expressions)s)"

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="(julianday(%(expressions)s) * 86400.0)", **extra)


def median_of(queryset, later, earlier) -> timedelta | None:
    """The median of `later - earlier` over a queryset, in one query: the database ranks the rows
    and returns only the one or two in the middle."""
    value = Seconds(later) - Seconds(earlier)
    middle = list(queryset.order_by().annotate(value=value, rank=Window(RowNumber(), order_by=value.asc()),
                                               size=Window(Count("pk")))
                  .filter(rank__gte=(F("size") + 1) / 2, rank__lte=F("size") / 2 + 1)
                  .values_list("value", flat=True))
    if not middle:
        return None
    return timedelta(seconds=round(sum(middle) / len(middle), 3))


def in_clinics(queryset, case_path: str, clinics):
    """The rows of the given clinics' cases; every clinic when `clinics` is None."""
    return queryset if clinics is None else queryset.filter(**{f"{case_path}clinic__in": clinics})


def oversight_by_version(clinics=None) -> list[VersionOversight]:
    """One summary per version and role (served, silent trial), in grouped queries per figure, so the page
    costs the same at 100 or 100,000 cases. `clinics` (a queryset) limits every figure to those clinics'
    cases. Agreement follows `agreement.DEFINITION`."""

    predictions = {(version_id, trial): n for version_id, trial, n in (
        in_clinics(Prediction.objects, "case__", clinics).order_by().values("model_version_id", "trial")
        .annotate(n=Count("id")).values_list("model_version_id", "trial", "n"))}
    pairs: dict[tuple[int, bool], dict[tuple[str, str], int]] = {}
    for version_id, trial, finding, label, n in (
            compared_reviews(clinics).order_by()
            .values("suggestion__model_version_id", "suggestion__trial", "finding", "suggestion__label")
            .annotate(n=Count("id"))
            .values_list("suggestion__model_version_id", "suggestion__trial", "finding", "suggestion__label", "n")):
        pairs.setdefault((version_id, trial), {})[(finding, label)] = n
    # A review answers a shown prediction: every override is the served role's.
    overrides = dict(in_clinics(Review.objects.in_force(), "case__", clinics).filter(DISAGREED)
                     .order_by().values("prediction__model_version_id").annotate(n=Count("id"))
                     .values_list("prediction__model_version_id", "n"))
    uncertain = {(version_id, trial): n for version_id, trial, n in (
        in_clinics(Prediction.objects.filter(uncertain=True), "case__", clinics).order_by()
        .values("model_version_id", "trial").annotate(n=Count("id")).values_list("model_version_id", "trial", "n"))}
    versions = {version.pk: version for version in ModelVersion.objects.filter(
        pk__in={version_id for version_id, _ in predictions})}
    keys = sorted(predictions, key=lambda key: (versions[key[0]].created, key[0], key[1]))
    return [summarise(versions[version_id], predictions[(version_id, trial)], pairs.get((version_id, trial), {}),
                      0 if trial else overrides.get(version_id, 0), trial=trial, clinics=clinics,
                      uncertain=uncertain.get((version_id, trial), 0))
            for version_id, trial in keys]


def summarise(version: ModelVersion, predictions: int, pairs: dict[tuple[str, str], int],
              override_count: int, *, trial: bool = False, clinics=None, uncertain: int = 0) -> VersionOversight:
    compared = sum(pairs.values())
    covid_cases = sum(n for (finding, _), n in pairs.items() if finding == "covid")
    # Turnarounds are the served predictions': a trial's, often written by re-scoring weeks later, have none.
    own = in_clinics(Prediction.objects.shown().filter(model_version=version), "case__", clinics)
    # The first signature on a prediction is its original review (amendments come later and have `amends`).
    reviewed = own.filter(reviews__amends__isnull=True, reviews__signed_at__gte=F("created"))
    return VersionOversight(
        version=version,
        trial=trial,
        predictions=predictions,
        compared=compared,
        matrix=confusion_matrix(pairs),
        agreement=ratio(sum(n for (finding, label), n in pairs.items() if finding == label), compared),
        covid_cases=covid_cases,
        covid_sensitivity=ratio(pairs.get(("covid", "covid"), 0), covid_cases),
        overrides=[] if trial else latest_overrides(version, clinics),
        override_count=override_count,
        median_to_prediction=None if trial else median_of(own, "created", "case__created"),
        median_to_review=None if trial else median_of(reviewed, "reviews__signed_at", "created"),
        uncertain=uncertain,
    )


def latest_overrides(version: ModelVersion, clinics=None) -> list[Override]:
    """The version's latest overrides (final findings that differ from its suggestion), newest first."""
    reviews = (in_clinics(Review.objects.in_force(), "case__", clinics)
               .filter(DISAGREED, prediction__model_version=version)
               .select_related("reviewer", "case", "prediction").newest_first()[:OVERRIDES_SHOWN])
    return [Override(str(review.case.public_id), FINDING_NAMES.get(label_of(review), "–"),
                     FINDING_NAMES[review.finding], review.note, review.reviewer.get_username(), review.signed_at)
            for review in reviews]


def label_of(review: Review) -> str:
    return review.prediction.label if review.prediction_id else ""


def chart_png(summaries: list[VersionOversight]) -> bytes:
    """Agreement and COVID-19 sensitivity per version, and the median turnarounds, as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported here: only this view needs it
    from matplotlib.figure import Figure

    names = [f"{s.version.name} ({s.role})" for s in summaries]
    positions = range(len(summaries))
    figure = Figure(figsize=(10, 4), dpi=100, layout="constrained")
    rates, times = figure.subplots(1, 2)
    width = 0.38
    rates.bar([x - width / 2 for x in positions], [100 * (s.agreement or 0) for s in summaries], width,
              label="Agreement with radiologist")
    rates.bar([x + width / 2 for x in positions], [100 * (s.covid_sensitivity or 0) for s in summaries], width,
              label="COVID-19 sensitivity")
    rates.set(ylim=(0, 125), yticks=range(0, 101, 20), ylabel="%", title="Model against radiologist findings")
    times.bar([x - width / 2 for x in positions], [minutes(s.median_to_prediction) for s in summaries], width,
              label="Submission to prediction")
    times.bar([x + width / 2 for x in positions], [minutes(s.median_to_review) for s in summaries], width,
              label="Prediction to review")
    times.set(ylim=(0, 1.25 * max([minutes(s.median_to_prediction) for s in summaries]
                                  + [minutes(s.median_to_review) for s in summaries] + [1])),
              ylabel="minutes (median)", title="Turnaround")
    for axes in (rates, times):
        axes.set_xticks(list(positions), names, rotation=20, ha="right")
        axes.legend(fontsize="small", loc="upper left", ncols=2)  # above the bars: the axes leave headroom
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def minutes(duration: timedelta | None) -> float:
    return duration.total_seconds() / 60 if duration is not None else 0.0

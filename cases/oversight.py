"""How each model version agrees with the radiologists: read-only selectors and a chart.

A case's radiologist finding is its final review: the latest review that no later review
amends. Every prediction of a reviewed case is compared with that finding, so a model
version that ran on a case in the background is measured against the same truth.
"""

import io
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Min

from classifier.models import ModelVersion

from .models import Prediction, Review

LABELS = ("covid", "normal", "viral_pneumonia")
FINDINGS = (*LABELS, "other")
NAMES = dict(Review.Finding.choices)
OVERRIDES_SHOWN = 50


@dataclass(frozen=True)
class Pair:
    predicted: str
    finding: str


@dataclass(frozen=True)
class Override:
    case_public_id: str
    predicted: str
    finding: str
    note: str
    reviewer: str
    signed_at: datetime


@dataclass(frozen=True)
class MatrixRow:
    finding: str
    counts: list[int]  # in LABELS order
    total: int


@dataclass(frozen=True)
class VersionOversight:
    version: ModelVersion
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
        return f"{hours} h {minutes_left} min"
    return f"{minutes_left} min {seconds % 60} s" if minutes_left else f"{seconds} s"


def confusion_matrix(pairs: list[Pair]) -> list[MatrixRow]:
    """Rows: radiologist finding; columns: predicted label."""
    rows = []
    for finding in FINDINGS:
        counts = [sum(1 for p in pairs if p.finding == finding and p.predicted == label) for label in LABELS]
        rows.append(MatrixRow(NAMES[finding], counts, sum(counts)))
    return rows


def agreement_rate(pairs: list[Pair]) -> float | None:
    return sum(p.predicted == p.finding for p in pairs) / len(pairs) if pairs else None


def sensitivity(pairs: list[Pair], label: str) -> float | None:
    """Of the cases the radiologists found to be `label`, the share the model called `label`."""
    positives = [p for p in pairs if p.finding == label]
    return sum(p.predicted == label for p in positives) / len(positives) if positives else None


def median_duration(durations: list[timedelta]) -> timedelta | None:
    return statistics.median(durations) if durations else None


@dataclass(frozen=True)
class FinalReview:
    id: int
    finding: str
    agreed: bool
    prediction_id: int | None
    signed_at: datetime


def final_reviews() -> dict[int, FinalReview]:
    """Each reviewed case's final review, keyed by case id (plain rows: this reads every review)."""
    rows = (Review.objects.filter(amended_by__isnull=True).order_by("signed_at", "id")
            .values_list("case_id", "id", "finding", "agreed", "prediction_id", "signed_at"))
    return {case_id: FinalReview(*rest) for case_id, *rest in rows}  # later reviews overwrite earlier ones


def oversight_by_version() -> list[VersionOversight]:
    finals = final_reviews()
    first_review = dict(Review.objects.filter(prediction__isnull=False).values("prediction_id")
                        .annotate(first=Min("signed_at")).values_list("prediction_id", "first"))
    predictions = Prediction.objects.values("id", "case_id", "model_version_id", "label", "created", "case__created")
    by_version: dict[int, list[dict]] = {}
    for prediction in predictions:
        by_version.setdefault(prediction["model_version_id"], []).append(prediction)
    version_of_prediction = {p["id"]: p["model_version_id"] for ps in by_version.values() for p in ps}
    versions = ModelVersion.objects.filter(pk__in=by_version).order_by("created", "id")
    return [summarise(version, by_version[version.pk], finals, first_review, version_of_prediction)
            for version in versions]


def summarise(version: ModelVersion, predictions: list[dict], finals: dict[int, FinalReview],
              first_review: dict[int, datetime], version_of_prediction: dict[int, int]) -> VersionOversight:
    pairs = [Pair(p["label"], finals[p["case_id"]].finding) for p in predictions if p["case_id"] in finals]
    override_ids = [review.id for review in sorted(finals.values(), key=lambda r: r.signed_at, reverse=True)
                    if not review.agreed and version_of_prediction.get(review.prediction_id) == version.pk]
    to_review = [first_review[p["id"]] - p["created"] for p in predictions
                 if p["id"] in first_review and first_review[p["id"]] >= p["created"]]
    return VersionOversight(
        version=version,
        predictions=len(predictions),
        compared=len(pairs),
        matrix=confusion_matrix(pairs),
        agreement=agreement_rate(pairs),
        covid_cases=sum(p.finding == "covid" for p in pairs),
        covid_sensitivity=sensitivity(pairs, "covid"),
        overrides=latest_overrides(override_ids[:OVERRIDES_SHOWN]),
        override_count=len(override_ids),
        median_to_prediction=median_duration([p["created"] - p["case__created"] for p in predictions]),
        median_to_review=median_duration(to_review),
    )


def latest_overrides(review_ids: list[int]) -> list[Override]:
    """The overrides a page can show, newest first, loaded with their case, reviewer and prediction."""
    reviews = (Review.objects.filter(pk__in=review_ids).select_related("reviewer", "case", "prediction")
               .order_by("-signed_at", "-id"))
    return [Override(str(review.case.public_id), NAMES.get(label_of(review), "–"), NAMES[review.finding],
                     review.note, review.reviewer.get_username(), review.signed_at) for review in reviews]


def label_of(review: Review) -> str:
    return review.prediction.label if review.prediction_id else ""


def chart_png(summaries: list[VersionOversight]) -> bytes:
    """Agreement and COVID-19 sensitivity per version, and the median turnarounds, as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported here: only this view needs it
    from matplotlib.figure import Figure

    names = [s.version.name for s in summaries]
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

"""Per-clinic oversight: each clinic's weekly figures, read in a few grouped queries.

A case counts in the week it was submitted (Monday to Sunday, in TIME_ZONE). Agreement and the
override rate follow `agreement.DEFINITION` (served predictions only; no suggestion, no count); the
COVID-19 suggestion rate is the share of predicted cases the served model called COVID-19; turnaround
is submission to first signature. Each week names the served versions that predicted its cases. Gate
refusals are the cases whose image the input gate refused (no suggestion, a human read), counted per week
and, over the window, per reason; cases in the model's uncertain band (no suggestion either, a human read)
are counted apart.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, F, Func, IntegerField, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext_lazy

from classifier.labels import COVID

from ..classification.reasons import UNCERTAIN
from ..models import Case, Clinic, Prediction, Review
from .agreement import AGREES, FIRST_ANSWERED, OVERRIDDEN, compared_reviews
from .versions import Seconds, duration_text, percent

# metric -> (numerator field, denominator field, name shown)
METRICS = {
    "agreement": ("agreed", "compared", gettext_lazy("Agreement with radiologists")),
    "override_rate": ("overridden", "first_reviews", gettext_lazy("Override rate")),
    "covid_rate": ("covid_suggested", "predicted", gettext_lazy("COVID-19 suggestion rate")),
}


@dataclass
class Week:
    start: date
    cases: int = 0
    predicted: int = 0
    covid_suggested: int = 0
    reviewed: int = 0  # reviews in force, with or without a suggestion
    compared: int = 0  # served predictions with a suggestion on reviewed cases (agreement.compared_reviews)
    agreed: int = 0
    first_reviews: int = 0
    overridden: int = 0
    turnaround: timedelta | None = None
    gate_refusals: int = 0
    versions: list[str] = field(default_factory=list)  # the served versions that predicted this week's cases
    uncertain: int = 0  # no suggestion: the model's uncertain band
    flagged: set[str] = field(default_factory=set)  # metrics out of their usual range this week

    def counts(self, metric: str) -> tuple[int, int]:
        numerator, denominator, _ = METRICS[metric]
        return getattr(self, numerator), getattr(self, denominator)

    def rate(self, metric: str) -> float | None:
        k, n = self.counts(metric)
        return k / n if n else None

    def cells(self) -> list[tuple[str, bool]]:
        """The metric columns as (text, flagged), in METRICS order."""
        return [(percent(self.rate(metric)), metric in self.flagged) for metric in METRICS]

    @property
    def turnaround_text(self) -> str:
        return duration_text(self.turnaround)



@dataclass
class ClinicWeeks:
    clinic: Clinic
    weeks: list[Week]  # oldest first, one per week of the window, empty weeks included
    refusals_by_reason: dict[str, int] = field(default_factory=dict)  # over the whole window

    @property
    def flagged(self) -> bool:
        return any(week.flagged for week in self.weeks)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def window_starts(weeks: int, today: date | None = None) -> list[date]:
    """The Mondays of the last `weeks` weeks, this one last."""
    current = week_start(today or timezone.localdate())
    return [current - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]


class WeekIndex(Func):
    """Whole weeks from `since` (seconds since the epoch) to a datetime, in the database's own
    arithmetic: TruncWeek on SQLite calls a Python function per row (seconds at 100,000 cases).
    Weeks are 7 x 24 hours from the first Monday shown, so a daylight-saving change moves the
    boundary by an hour."""

    output_field = IntegerField()
    template = "CAST(FLOOR((EXTRACT(EPOCH FROM %(expressions)s) - %(since)s) / 604800) AS INTEGER)"

    def as_sqlite(self, compiler, connection, **extra):
        # julianday counts days from 4714 BC; 2440587.5 is the Unix epoch. Cases before `since`
        # are filtered out, so truncating is flooring.
        template = "CAST((((julianday(%(expressions)s) - 2440587.5) * 86400.0) - %(since)s) / 604800 AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra)


def weekly_figures(clinics, *, weeks: int | None = None, today: date | None = None) -> list[ClinicWeeks]:
    """Every given clinic (a queryset) with its weekly figures over the last `weeks` weeks."""
    starts = window_starts(weeks or settings.CXR_OVERSIGHT_WEEKS, today)
    since = timezone.make_aware(datetime.combine(starts[0], time.min))
    clinic_list = list(clinics.order_by("name"))
    table = {(clinic.pk, index): Week(start) for clinic in clinic_list for index, start in enumerate(starts)}

    def add(rows, **names):
        for row in rows:
            week = table.get((row["clinic_key"], row["week"]))
            if week is not None:
                for attribute, column in names.items():
                    setattr(week, attribute, row[column])

    def week_of(path: str) -> WeekIndex:
        return WeekIndex(path, since=float(since.timestamp()))

    cases = Case.objects.filter(clinic__in=clinic_list, created__gte=since)
    add(cases.annotate(week=week_of("created")).values("week", clinic_key=F("clinic_id")).annotate(
        n=Count("id"), refused_n=Count("id", filter=~Q(gate_reason__in=("", UNCERTAIN)))),
        cases="n", gate_refusals="refused_n")
    # From the served predictions, not the worklist columns: a clinic validating the AI has none shown (nor
    # its "uncertain").
    served = Prediction.objects.shown().filter(case__in=cases)
    add(served.with_suggestion().annotate(week=week_of("case__created")).values(
        "week", clinic_key=F("case__clinic_id")).annotate(
        predicted_n=Count("case_id", distinct=True), covid_n=Count("case_id", distinct=True, filter=Q(label=COVID))),
        predicted="predicted_n", covid_suggested="covid_n")
    add(served.filter(gate_passed=True, uncertain=True).annotate(week=week_of("case__created")).values(
        "week", clinic_key=F("case__clinic_id")).annotate(uncertain_n=Count("case_id", distinct=True)),
        uncertain="uncertain_n")
    by_reason: dict[int, dict[str, int]] = {}
    refused = cases.exclude(gate_reason__in=("", UNCERTAIN)).order_by()
    for clinic_id, reason, n in (refused.values_list("clinic_id", "gate_reason")
                                 .annotate(n=Count("id")).values_list("clinic_id", "gate_reason", "n")):
        by_reason.setdefault(clinic_id, {})[reason] = n
    reviews = Review.objects.filter(case__clinic__in=clinic_list, case__created__gte=since).annotate(
        week=week_of("case__created"))
    in_force, first = Q(amended_by__isnull=True), Q(amends__isnull=True)
    add(reviews.filter(in_force | first).values("week", clinic_key=F("case__clinic_id")).annotate(
        reviewed_n=Count("id", filter=in_force), first_n=Count("id", filter=FIRST_ANSWERED),
        overridden_n=Count("id", filter=OVERRIDDEN)),
        reviewed="reviewed_n", first_reviews="first_n", overridden="overridden_n")
    served = compared_reviews(clinic_list, trial=False).filter(case__created__gte=since)
    add(served.annotate(week=week_of("case__created")).values("week", clinic_key=F("case__clinic_id")).annotate(
        compared_n=Count("id"), agreed_n=Count("id", filter=AGREES)), compared="compared_n", agreed="agreed_n")
    for clinic_id, week, name in (Prediction.objects.shown().filter(case__in=cases)
                                  .annotate(week=week_of("case__created")).order_by("model_version__created")
                                  .values_list("case__clinic_id", "week", "model_version__name").distinct()):
        if (clinic_id, week) in table and name not in table[(clinic_id, week)].versions:
            table[(clinic_id, week)].versions.append(name)
    for key, median in median_turnarounds(reviews.filter(first)).items():
        if key in table:
            table[key].turnaround = median
    return [ClinicWeeks(clinic, [table[(clinic.pk, index)] for index in range(len(starts))],
                        dict(sorted(by_reason.get(clinic.pk, {}).items()))) for clinic in clinic_list]


def median_turnarounds(first_reviews) -> dict[tuple[int, int], timedelta]:
    """Submission to first signature, the median per (clinic, week): the database ranks each
    group's rows and returns only the one or two in the middle."""
    seconds = Seconds("signed_at") - Seconds("case__created")
    group = [F("case__clinic_id"), F("week")]
    middle = (first_reviews.order_by().annotate(seconds=seconds, rank=Window(RowNumber(), partition_by=group,
                                                                  order_by=seconds.asc()),
                                     size=Window(Count("id"), partition_by=group))
              .filter(rank__gte=(F("size") + 1) / 2, rank__lte=F("size") / 2 + 1)
              .values_list("case__clinic_id", "week", "seconds"))
    grouped: dict[tuple[int, int], list[float]] = {}
    for clinic_id, week, value in middle:
        grouped.setdefault((clinic_id, week), []).append(value)
    return {key: timedelta(seconds=round(sum(values) / len(values))) for key, values in grouped.items()}

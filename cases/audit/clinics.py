"""Per-clinic oversight: each clinic's weekly figures, read in four grouped queries.

A case counts in the week it was submitted (Monday to Sunday, in TIME_ZONE). Agreement is the
final finding (the review in force) against the suggestion that review answered; the override
rate is the share of first signatures that disagreed with the suggestion; the COVID-19
suggestion rate is the share of predicted cases the served model called COVID-19; turnaround
is submission to first signature. The input gate does not exist yet: its refusals column
shows "–" until it does.
"""

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, F, Q
from django.db.models.functions import TruncWeek
from django.utils import timezone

from classifier.labels import COVID

from ..models import Case, Clinic, Review
from .oversight import Seconds, duration_text, percent

# metric -> (numerator field, denominator field, name shown)
METRICS = {
    "agreement": ("agreed", "reviewed", "Agreement with radiologists"),
    "override_rate": ("overridden", "first_reviews", "Override rate"),
    "covid_rate": ("covid_suggested", "predicted", "COVID-19 suggestion rate"),
}


@dataclass
class Week:
    start: date
    cases: int = 0
    predicted: int = 0
    covid_suggested: int = 0
    reviewed: int = 0
    agreed: int = 0
    first_reviews: int = 0
    overridden: int = 0
    turnaround: timedelta | None = None
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

    gate_refusals_text = "–"  # no input gate yet


@dataclass
class ClinicWeeks:
    clinic: Clinic
    weeks: list[Week]  # oldest first, one per week of the window, empty weeks included

    @property
    def flagged(self) -> bool:
        return any(week.flagged for week in self.weeks)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def window_starts(weeks: int, today: date | None = None) -> list[date]:
    """The Mondays of the last `weeks` weeks, this one last."""
    current = week_start(today or timezone.localdate())
    return [current - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]


def as_date(value) -> date:
    return timezone.localtime(value).date() if isinstance(value, datetime) else value


def weekly_figures(clinics, *, weeks: int | None = None, today: date | None = None) -> list[ClinicWeeks]:
    """Every given clinic (a queryset) with its weekly figures over the last `weeks` weeks."""
    starts = window_starts(weeks or settings.CXR_OVERSIGHT_WEEKS, today)
    since = timezone.make_aware(datetime.combine(starts[0], time.min))
    clinic_list = list(clinics.order_by("name"))
    table = {(clinic.pk, start): Week(start) for clinic in clinic_list for start in starts}

    def add(rows, **names):
        for row in rows:
            week = table.get((row["clinic_key"], as_date(row["week"])))
            if week is not None:
                for attribute, column in names.items():
                    setattr(week, attribute, row[column])

    cases = Case.objects.filter(clinic__in=clinic_list, created__gte=since)
    add(cases.annotate(week=TruncWeek("created")).values("week", clinic_key=F("clinic_id")).annotate(
        n=Count("id"), predicted_n=Count("id", filter=~Q(predicted_label="")),
        covid_n=Count("id", filter=Q(predicted_label=COVID))),
        cases="n", predicted="predicted_n", covid_suggested="covid_n")
    reviews = Review.objects.filter(case__in=cases).annotate(week=TruncWeek("case__created"))
    in_force, first = Q(amended_by__isnull=True), Q(amends__isnull=True)
    add(reviews.filter(in_force | first).values("week", clinic_key=F("case__clinic_id")).annotate(
        reviewed_n=Count("id", filter=in_force), agreed_n=Count("id", filter=in_force & Q(agreed=True)),
        first_n=Count("id", filter=first), overridden_n=Count("id", filter=first & Q(agreed=False))),
        reviewed="reviewed_n", agreed="agreed_n", first_reviews="first_n", overridden="overridden_n")
    for key, seconds in turnarounds(reviews.filter(first)).items():
        if key in table:
            table[key].turnaround = timedelta(seconds=round(statistics.median(seconds)))
    return [ClinicWeeks(clinic, [table[(clinic.pk, start)] for start in starts]) for clinic in clinic_list]


def turnarounds(first_reviews) -> dict[tuple[int, date], list[float]]:
    """Seconds from submission to first signature, per (clinic, week): one query, medians in Python."""
    grouped: dict[tuple[int, date], list[float]] = {}
    rows = first_reviews.annotate(seconds=Seconds("signed_at") - Seconds("case__created")).values_list(
        "case__clinic_id", "week", "seconds")
    for clinic_id, week, seconds in rows.iterator(chunk_size=5000):
        grouped.setdefault((clinic_id, as_date(week)), []).append(seconds)
    return grouped

"""Reads for the silent trials: each version on trial against the served one, on the same cases.

Only reviewed cases that both versions scored are compared (a pair per case), against the
radiologist's final finding (the review in force). Two grouped queries per version on trial,
whatever the number of cases: the counts per (finding, served label, trial label), and the
latest cases where the two versions disagree.
"""

from dataclasses import dataclass

from django.db.models import Count, F, FilteredRelation, Q, QuerySet

from classifier.labels import display_name
from classifier.models import ModelVersion
from classifier.registry import served_version, trial_versions

from ..models import Review
from .statistics import Comparison, compare
from .versions import in_clinics

DISAGREEMENTS_SHOWN = 50


@dataclass(frozen=True)
class Disagreement:
    case_public_id: str
    finding: str
    served: str
    trial: str


@dataclass(frozen=True)
class TrialComparison:
    trial: ModelVersion
    served: ModelVersion
    comparison: Comparison
    disagreements: list[Disagreement]  # the latest DISAGREEMENTS_SHOWN
    disagreement_count: int


def paired_reviews(trial: ModelVersion, served: ModelVersion, clinics=None) -> QuerySet[Review]:
    """Reviews in force of the cases both versions scored, with both labels as `served_label`, `trial_label`."""
    reviews = in_clinics(Review.objects.in_force(), "case__", clinics).annotate(
        served_prediction=FilteredRelation("case__predictions",
                                           condition=Q(case__predictions__model_version=served)),
        trial_prediction=FilteredRelation("case__predictions",
                                          condition=Q(case__predictions__model_version=trial)),
    )
    return (reviews.filter(served_prediction__id__isnull=False, trial_prediction__id__isnull=False)
            .annotate(served_label=F("served_prediction__label"), trial_label=F("trial_prediction__label")))


def compare_trial(trial: ModelVersion, *, served: ModelVersion | None = None, clinics=None) -> TrialComparison:
    served = served or served_version()
    pairs = paired_reviews(trial, served, clinics)
    triples = {(finding, s, t): n for finding, s, t, n in (
        pairs.order_by().values("finding", "served_label", "trial_label").annotate(n=Count("id"))
        .values_list("finding", "served_label", "trial_label", "n"))}
    comparison = compare(triples)
    # Newest by id, not signing time: the database walks the review ids backwards and stops at the
    # first DISAGREEMENTS_SHOWN, instead of sorting every disagreement.
    differing = pairs.exclude(served_label=F("trial_label")).select_related("case").order_by("-id")
    disagreements = [Disagreement(str(review.case.public_id), display_name(review.finding),
                                  display_name(review.served_label), display_name(review.trial_label))
                     for review in differing[:DISAGREEMENTS_SHOWN]]
    count = sum(n for (_, s, t), n in triples.items() if s != t)
    return TrialComparison(trial, served, comparison, disagreements, count)


def trial_comparisons(clinics=None) -> list[TrialComparison]:
    """Every version on trial (except the served one) against the served version."""
    if not ModelVersion.objects.filter(on_trial=True).exists():
        return []  # and the served version is not looked up (on a fresh install that registers it)
    served = served_version()
    return [compare_trial(trial, served=served, clinics=clinics) for trial in trial_versions(served)]

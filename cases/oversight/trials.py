"""Reads for the silent trials: each version on trial against the served one, on the same cases.

Only reviewed cases that both versions scored are compared (a pair per case), against the
radiologist's final finding (the review in force), and only within the trial's scope (its
clinics). A case the input gate refused got no suggestion, so there is nothing to agree or
disagree with: it is left out, and counted apart. A few grouped queries per version on trial,
whatever the number of cases: the counts per (finding, served label, trial label), the latest
cases where the two versions disagree, and the trial's health (oversight.trial_health).
"""

from dataclasses import dataclass

from django.db.models import Count, F, FilteredRelation, Q, QuerySet

from classifier.labels import display_name
from classifier.models import ModelVersion
from classifier.registry import served_version, trial_versions

from ..models import Clinic, Review
from .statistics import Comparison, compare
from .trial_health import TrialHealth, trial_health
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
    gate_refused: int  # reviewed cases both scored that the input gate refused: not compared
    health: TrialHealth


def trial_scope(trial: ModelVersion, clinics=None):
    """The clinics whose cases a trial's figures count: its own (every clinic when it names none),
    within `clinics` (a queryset; None: every clinic)."""
    codes = trial.trial_clinic_codes()
    if not codes:
        return clinics
    scoped = Clinic.objects.filter(code__in=codes)
    return scoped if clinics is None else scoped.filter(pk__in=clinics.values("pk"))


GATE_REFUSED = Q(served_prediction__gate_passed=False) | Q(trial_prediction__gate_passed=False)


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
    scoped = paired_reviews(trial, served, trial_scope(trial, clinics))
    pairs = scoped.exclude(GATE_REFUSED)
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
    return TrialComparison(trial, served, comparison, disagreements, count,
                           gate_refused=scoped.filter(GATE_REFUSED).count(), health=trial_health(trial, clinics))


def trial_comparisons(clinics=None) -> list[TrialComparison]:
    """Every version on trial (except the served one) against the served version."""
    if not ModelVersion.objects.filter(on_trial=True).exists():
        return []  # and the served version is not looked up (on a fresh install that registers it)
    served = served_version()
    return [compare_trial(trial, served=served, clinics=clinics) for trial in trial_versions(served)]

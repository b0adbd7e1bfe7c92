"""A COVID-19 threshold per clinic, fitted to its radiologists' findings: proposed here; applied only when the
clinic goes live at it (cases/validation), to its new cases.

The worklist puts a case first when the served model's COVID-19 probability is above
CXR_COVID_PRIORITY_THRESHOLD, one value for every clinic. A clinic whose X-ray unit shifts the
model's scores may need another value to keep the same sensitivity. For each clinic with at
least CXR_OPERATING_POINT_MIN_CASES reviewed cases the radiologists found COVID-19, and as many
they did not, this proposes the highest threshold that keeps the target sensitivity
(CXR_OPERATING_POINT_SENSITIVITY) on those cases, with the specificity it gives. Nothing here
changes the worklist: an administrator (or the clinic's auditor) decides on the validation page.
"""

import math
from dataclasses import dataclass

from django.conf import settings

from classifier.labels import COVID

from ..models import Clinic
from .agreement import compared_reviews
from .statistics import Proportion


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float
    sensitivity: Proportion
    specificity: Proportion


def operating_point(threshold: float, positives: list[float], negatives: list[float]) -> OperatingPoint:
    """Sensitivity and specificity of "probability above `threshold`" on these cases."""
    return OperatingPoint(threshold, Proportion(sum(p > threshold for p in positives), len(positives)),
                          Proportion(sum(p <= threshold for p in negatives), len(negatives)))


def fit_threshold(positives: list[float], negatives: list[float], target: float) -> OperatingPoint:
    """The highest threshold, on a 0.001 grid, with at least `target` of the positives above it."""
    ranked = sorted(positives, reverse=True)
    needed = ranked[math.ceil(target * len(ranked)) - 1]  # the lowest score that must stay above
    threshold = (math.ceil(round(needed * 1000, 6)) - 1) / 1000  # strictly below it
    return operating_point(max(threshold, 0.0), positives, negatives)


@dataclass(frozen=True)
class ClinicProposal:
    clinic: Clinic
    covid_cases: int
    other_cases: int
    current: OperatingPoint | None
    proposed: OperatingPoint | None  # None: not enough reviewed cases yet


def proposals(clinics) -> list[ClinicProposal]:
    """One proposal per clinic (a queryset), from its reviewed cases' served COVID-19 probabilities."""
    scores: dict[int, tuple[list[float], list[float]]] = {}
    # From the served predictions, not the worklist columns: a clinic validating the AI has none shown there.
    rows = (compared_reviews(clinics, trial=False)
            .values_list("case__clinic_id", "suggestion__probabilities", "finding"))
    for clinic_id, probabilities, finding in rows.iterator(chunk_size=5000):
        positives, negatives = scores.setdefault(clinic_id, ([], []))
        (positives if finding == COVID else negatives).append(float(probabilities.get(COVID, 0.0)))
    minimum, target = settings.CXR_OPERATING_POINT_MIN_CASES, settings.CXR_OPERATING_POINT_SENSITIVITY
    result = []
    for clinic in clinics.order_by("name"):
        positives, negatives = scores.get(clinic.pk, ([], []))
        enough = len(positives) >= minimum and len(negatives) >= minimum
        current = operating_point(settings.CXR_COVID_PRIORITY_THRESHOLD, positives, negatives) if positives else None
        result.append(ClinicProposal(clinic, len(positives), len(negatives), current,
                                     fit_threshold(positives, negatives, target) if enough else None))
    return result

"""A clinic's evidence for one model version, and the go-live rule.

Counted from the version's predictions of the clinic's cases, served or silent-trial (a trial's re-scored
cases count), against the radiologists' final findings (the review in force; at a silent clinic they read
blind), with the one definition of a compared case (`oversight.agreement.compared_reviews`: a film the gate
refused, or one in the model's uncertain band, gave no suggestion and is left out; both are counted apart). COVID-19 is the positive class and a case is called positive when its COVID-19
probability is above the threshold (`oversight.operating_points`). Every rate keeps its counts.

The go-live rule, for a threshold (the global one, or the clinic's own fitted one): at least
CXR_LOCAL_MIN_POSITIVES reviewed COVID-19 findings and CXR_LOCAL_MIN_NEGATIVES other findings, and the lower
bounds of the exact 95% intervals of sensitivity and specificity above CXR_LOCAL_MIN_SENSITIVITY and
CXR_LOCAL_MIN_SPECIFICITY.
"""

import bisect
import hashlib
import io
import json
import math
import statistics
from dataclasses import dataclass, field, replace
from datetime import timedelta

from django.conf import settings
from django.utils.translation import gettext, gettext_noop, ngettext

from classifier.labels import COVID, FINDINGS
from classifier.models import ModelVersion

from ..models import Clinic, Prediction, Review
from ..oversight.agreement import compared_reviews
from ..oversight.operating_points import OperatingPoint, fit_threshold, operating_point
from ..oversight.statistics import Proportion
from ..oversight.versions import duration_text

GLOBAL, CLINIC = "global", "clinic"
BINS = 10  # equal-width bins of the COVID-19 probability, for the reliability table and the ECE


@dataclass(frozen=True)
class Turnaround:
    median: timedelta | None
    p90: timedelta | None
    n: int

    @property
    def text(self) -> str:
        if not self.n:
            return "–"
        return gettext("median %(median)s, 90th percentile %(p90)s (%(n)s cases)") % {
            "median": duration_text(self.median), "p90": duration_text(self.p90), "n": self.n}


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    n: int
    mean_probability: float | None
    observed: Proportion  # COVID-19 findings among the bin's cases


@dataclass(frozen=True)
class Evidence:
    clinic: Clinic
    version: ModelVersion
    predictions: int  # the version's predictions of the clinic's cases
    reviewed: int  # of those with a suggestion, reviewed: the cases compared
    covid_cases: int
    other_cases: int
    at_global: OperatingPoint | None
    at_clinic: OperatingPoint | None  # the clinic's own threshold, fitted once there are enough cases
    auc: float | None
    ece: float | None
    reliability: list[ReliabilityBin]
    agreement: Proportion
    kappa: float | None
    gate_refusals: Proportion
    uncertain: Proportion  # films the gate passed on which the model was in its uncertain band: no suggestion
    to_prediction: Turnaround
    to_signed: Turnaround
    missing_by_choice: dict[str, list[str]] = field(default_factory=dict)

    def point(self, choice: str) -> OperatingPoint | None:
        return self.at_clinic if choice == CLINIC else self.at_global

    def ready(self, choice: str) -> bool:
        return not self.missing_by_choice[choice]

    @property
    def ready_choices(self) -> list[str]:
        return [choice for choice in (GLOBAL, CLINIC) if self.ready(choice)]

    @property
    def summary(self) -> str:
        """ "ready", or what is missing at the global threshold."""
        if self.ready_choices:
            return gettext("ready")
        return "; ".join(self.missing_by_choice[GLOBAL])

    def as_details(self) -> dict:
        """Every figure the confirmation page shows, as the audit event records it."""
        def point(p: OperatingPoint | None):
            return None if p is None else {"threshold": p.threshold, "sensitivity": [p.sensitivity.k, p.sensitivity.n],
                                           "specificity": [p.specificity.k, p.specificity.n]}

        return {"predictions": self.predictions, "reviewed": self.reviewed, "covid_cases": self.covid_cases,
                "other_cases": self.other_cases, "at_global": point(self.at_global),
                "at_clinic": point(self.at_clinic), "auc": rounded(self.auc), "ece": rounded(self.ece),
                "agreement": [self.agreement.k, self.agreement.n], "kappa": rounded(self.kappa),
                "gate_refusals": [self.gate_refusals.k, self.gate_refusals.n],
                "uncertain": [self.uncertain.k, self.uncertain.n]}

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.as_details(), sort_keys=True).encode()).hexdigest()


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def auc(positives: list[float], negatives: list[float]) -> float | None:
    """The probability that a COVID-19 case scores above another (ties count half): the Mann-Whitney AUC."""
    if not positives or not negatives:
        return None
    ranked = sorted(negatives)
    wins = sum(bisect.bisect_left(ranked, p) + (bisect.bisect_right(ranked, p) - bisect.bisect_left(ranked, p)) / 2
               for p in positives)
    return wins / (len(positives) * len(negatives))


def reliability(scored: list[tuple[float, bool]]) -> tuple[list[ReliabilityBin], float | None]:
    """The reliability table (BINS equal-width bins) and the expected calibration error over them."""
    groups: list[list[tuple[float, bool]]] = [[] for _ in range(BINS)]
    for probability, positive in scored:
        groups[min(int(probability * BINS), BINS - 1)].append((probability, positive))
    bins, error = [], 0.0
    for index, group in enumerate(groups):
        mean = sum(p for p, _ in group) / len(group) if group else None
        observed = Proportion(sum(positive for _, positive in group), len(group))
        bins.append(ReliabilityBin(index / BINS, (index + 1) / BINS, len(group), mean, observed))
        if group:
            error += len(group) / len(scored) * abs(mean - observed.value)
    return bins, (error if scored else None)


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Agreement between the suggested label and the finding beyond chance, over the findings' categories."""
    n = len(pairs)
    if not n:
        return None
    observed = sum(label == finding for finding, label in pairs) / n
    expected = sum((sum(label == c for _, label in pairs) / n) * (sum(finding == c for finding, _ in pairs) / n)
                   for c in FINDINGS)
    return None if expected == 1 else (observed - expected) / (1 - expected)


def nearest_rank(values: list[float], share: float) -> float:
    return sorted(values)[max(0, math.ceil(share * len(values)) - 1)]


def turnaround(seconds: list[float]) -> Turnaround:
    if not seconds:
        return Turnaround(None, None, 0)
    return Turnaround(timedelta(seconds=round(statistics.median(seconds))),
                      timedelta(seconds=round(nearest_rank(seconds, 0.9))), len(seconds))


def evidence_for(clinic: Clinic, version: ModelVersion) -> Evidence:
    """The clinic's evidence for the version, and the go-live rule's verdict for each threshold."""
    rows = list(compared_reviews([clinic], version=version)
                .values_list("finding", "suggestion__label", "suggestion__probabilities"))
    positives = [float(p.get(COVID, 0.0)) for finding, _, p in rows if finding == COVID]
    negatives = [float(p.get(COVID, 0.0)) for finding, _, p in rows if finding != COVID]
    enough = (len(positives) >= settings.CXR_LOCAL_MIN_POSITIVES and len(negatives) >= settings.CXR_LOCAL_MIN_NEGATIVES)
    at_global = operating_point(settings.CXR_COVID_PRIORITY_THRESHOLD, positives, negatives) if rows else None
    at_clinic = fit_threshold(positives, negatives, settings.CXR_OPERATING_POINT_SENSITIVITY) if enough else None
    bins, ece = reliability([(float(p.get(COVID, 0.0)), finding == COVID) for finding, _, p in rows])
    predictions = Prediction.objects.filter(case__clinic=clinic, model_version=version)
    evidence = Evidence(
        clinic=clinic, version=version, predictions=predictions.count(), reviewed=len(rows),
        covid_cases=len(positives), other_cases=len(negatives), at_global=at_global, at_clinic=at_clinic,
        auc=auc(positives, negatives), ece=ece, reliability=bins,
        agreement=Proportion(sum(finding == label for finding, label, _ in rows), len(rows)),
        kappa=cohen_kappa([(finding, label) for finding, label, _ in rows]),
        gate_refusals=Proportion(predictions.filter(gate_passed=False).count(), predictions.count()),
        uncertain=Proportion(predictions.filter(gate_passed=True, uncertain=True).count(), predictions.count()),
        to_prediction=turnaround(seconds_between(predictions.filter(trial=False).values_list("case__created",
                                                                                             "created"))),
        to_signed=turnaround(seconds_between(Review.objects.filter(
            amends__isnull=True, case__clinic=clinic, case__predictions__model_version=version,
            case__predictions__trial=False).values_list("case__created", "signed_at"))),
    )
    return replace(evidence, missing_by_choice={GLOBAL: missing(evidence, at_global),
                                                CLINIC: missing(evidence, at_clinic, own=True)})


def seconds_between(rows) -> list[float]:
    return [(later - earlier).total_seconds() for earlier, later in rows]


def missing(evidence: Evidence, point: OperatingPoint | None, *, own: bool = False) -> list[str]:
    """What stands between the clinic and going live at this threshold; empty when it may."""
    needs = []
    more_positives = settings.CXR_LOCAL_MIN_POSITIVES - evidence.covid_cases
    more_negatives = settings.CXR_LOCAL_MIN_NEGATIVES - evidence.other_cases
    if more_positives > 0:
        needs.append(ngettext("%(count)s more reviewed COVID-19 case", "%(count)s more reviewed COVID-19 cases",
                              more_positives) % {"count": more_positives})
    if more_negatives > 0:
        needs.append(ngettext("%(count)s more reviewed case with other findings",
                              "%(count)s more reviewed cases with other findings", more_negatives)
                     % {"count": more_negatives})
    if needs or point is None:
        return needs or [gettext("a threshold of the clinic's own (fitted once there are enough cases)") if own
                         else gettext("reviewed cases")]
    for sentence, proportion, floor in (
            (gettext_noop("COVID-19 sensitivity's lower 95%% bound %(low)s%% is not above the floor %(floor)s%% "
                          "(%(k)s/%(n)s)"), point.sensitivity, settings.CXR_LOCAL_MIN_SENSITIVITY),
            (gettext_noop("COVID-19 specificity's lower 95%% bound %(low)s%% is not above the floor %(floor)s%% "
                          "(%(k)s/%(n)s)"), point.specificity, settings.CXR_LOCAL_MIN_SPECIFICITY)):
        low = proportion.interval[0]
        if not low > floor:
            needs.append(gettext(sentence) % {"low": f"{100 * low:.1f}", "floor": f"{100 * floor:.0f}",
                                              "k": proportion.k, "n": proportion.n})
    return needs


def reliability_png(evidence: Evidence) -> bytes:
    """The reliability plot: each bin's mean COVID-19 probability against the share found COVID-19, with the
    diagonal of perfect calibration; a point's size is its number of cases."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # imported here: only this view needs it
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.5, 4.5), dpi=100, layout="constrained")
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    shown = [b for b in evidence.reliability if b.n]
    axes.scatter([b.mean_probability for b in shown], [b.observed.value for b in shown],
                 s=[20 + 10 * b.n for b in shown], label="cases in the bin")
    ece = "–" if evidence.ece is None else f"{evidence.ece:.3f}"
    axes.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean COVID-19 probability", ylabel="share found COVID-19",
             title=f"{evidence.clinic.name}: ECE {ece} ({evidence.reviewed} cases)")
    axes.legend(fontsize="small", loc="upper left")
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()

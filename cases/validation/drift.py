"""A live clinic pauses by itself when its rolling figures leave no doubt that the model falls short there.

Over a live clinic's latest CXR_LOCAL_ROLLING_CASES compared reads of the served version's suggestions (the
one definition: `oversight.agreement.compared_reviews`), at the threshold in force there: when the upper bound
of the exact 95% interval of COVID-19 sensitivity (or of specificity) is below its floor, even the most
favourable reading of the evidence fails, and the clinic is paused (audited, through `services.pause_clinic`),
and the administrators are mailed once: a paused clinic is not live, so the check does not fire again.
"""

from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext, gettext_lazy, ngettext

from classifier.labels import COVID
from classifier.registry import served_version

from ..alerts import mail_administrators
from ..audit.actors import Actor
from ..models import ClinicAIState
from ..oversight.agreement import compared_reviews
from ..oversight.operating_points import operating_point
from . import services

# One sentence for each figure (never a translated figure's name put into a sentence).
SHORTFALLS = {
    "sensitivity": gettext_lazy("%(clinic)s: COVID-19 sensitivity %(k)s/%(n)s over its latest reads; even the upper "
                                "95%% bound %(high)s%% is below the floor %(floor)s%%."),
    "specificity": gettext_lazy("%(clinic)s: COVID-19 specificity %(k)s/%(n)s over its latest reads; even the upper "
                                "95%% bound %(high)s%% is below the floor %(floor)s%%."),
}


@dataclass(frozen=True)
class Shortfall:
    clinic_name: str
    figure: str  # "sensitivity" or "specificity"
    k: int
    n: int
    high: float
    floor: float

    def sentence(self) -> str:
        values = {"clinic": self.clinic_name, "k": self.k, "n": self.n, "high": f"{100 * self.high:.1f}",
                  "floor": f"{100 * self.floor:.0f}"}
        return SHORTFALLS[self.figure] % values


def shortfall(row: ClinicAIState) -> Shortfall | None:
    reads = list(compared_reviews([row.clinic_id], trial=False, version=row.model_version_id)
                 .order_by("-signed_at", "-id").values_list("finding", "suggestion__probabilities")
                 [:settings.CXR_LOCAL_ROLLING_CASES])
    positives = [float(p.get(COVID, 0.0)) for finding, p in reads if finding == COVID]
    negatives = [float(p.get(COVID, 0.0)) for finding, p in reads if finding != COVID]
    threshold = settings.CXR_COVID_PRIORITY_THRESHOLD if row.covid_threshold is None else row.covid_threshold
    point = operating_point(threshold, positives, negatives)
    for figure, proportion, floor in (("sensitivity", point.sensitivity, settings.CXR_LOCAL_MIN_SENSITIVITY),
                                      ("specificity", point.specificity, settings.CXR_LOCAL_MIN_SPECIFICITY)):
        if proportion.n and proportion.interval[1] < floor:
            return Shortfall(row.clinic.name, figure, proportion.k, proportion.n, proportion.interval[1], floor)
    return None


def pause_falling_clinics() -> int:
    """Beat's check, beside the weekly drift flags: pause each live clinic whose figures fall short; how many."""
    paused = []
    for row in ClinicAIState.objects.live().filter(model_version=served_version()).select_related("clinic"):
        found = shortfall(row)
        if found is None:
            continue
        services.pause_clinic(clinic=row.clinic, actor=Actor.system(), reason=f"automatic: {found.figure} below "
                              "its floor", details={"automatic": True, "figure": found.figure, "k": found.k,
                                                    "n": found.n, "upper_bound": round(found.high, 4)})
        paused.append(found)
    if paused:
        mail_administrators(message=lambda: (
            # English keeps its "(s)"; the plural forms are for languages that need them.
            ngettext("CXR Triage: AI suggestions paused at %(count)s clinic(s)",
                     "CXR Triage: AI suggestions paused at %(count)s clinic(s)", len(paused)) % {"count": len(paused)},
            "\n".join([gettext("These clinics' AI suggestions were paused: the model falls short of its floors there."),
                       ""]
                      + [f"- {found.sentence()}" for found in paused]
                      + ["", gettext("Staff and radiologists there read without suggestions until someone switches "
                                     "the clinic live again on the local validation page.")])))
    return len(paused)

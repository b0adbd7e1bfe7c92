"""Per-clinic drift: a clinic whose weekly rates leave their usual range is flagged.

A p-chart per clinic and metric: the usual rate is the clinic's own over the preceding
CXR_DRIFT_BASELINE_WEEKS weeks, and a week is out of range when its rate lies more than three
binomial standard errors (for that week's number of cases) from it. The last complete week
and the current one are checked, each once it has CXR_DRIFT_MIN_CASES cases. Beat runs
`check_clinic_drift`: each flag (clinic, metric, week) is audited once and mailed once to the
administrators; the oversight page marks the same flags from the same figures.
"""

import math
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db import transaction
from django.utils import dateformat
from django.utils.translation import gettext, gettext_noop, ngettext

from ..alerts import mail_administrators
from ..audit.actors import Actor
from ..audit.services import record
from ..models import AuditEvent, Clinic
from .clinics import METRICS, ClinicWeeks, weekly_figures
from .versions import percent

# One sentence for each metric (never a translated metric's name put into a sentence).
FLAG_SENTENCES = {
    "agreement": gettext_noop("%(clinic)s: agreement with radiologists %(rate)s in the week of %(week)s "
                              "(%(cases)s cases); usual %(usual)s, expected range %(low)s–%(high)s."),
    "override_rate": gettext_noop("%(clinic)s: override rate %(rate)s in the week of %(week)s (%(cases)s cases); "
                                  "usual %(usual)s, expected range %(low)s–%(high)s."),
    "covid_rate": gettext_noop("%(clinic)s: COVID-19 suggestion rate %(rate)s in the week of %(week)s "
                               "(%(cases)s cases); usual %(usual)s, expected range %(low)s–%(high)s."),
}
SIGMAS = 3
WEEKS_CHECKED = 2  # the last complete week and the current one


@dataclass(frozen=True)
class Flag:
    clinic: Clinic
    metric: str
    week: date
    rate: float
    cases: int
    usual: float
    low: float
    high: float

    def as_details(self) -> dict:
        return {"metric": self.metric, "week": self.week.isoformat(), "rate": round(self.rate, 4),
                "cases": self.cases, "usual": round(self.usual, 4), "low": round(self.low, 4),
                "high": round(self.high, 4)}

    def sentence(self) -> str:
        values = {"clinic": self.clinic.name, "rate": percent(self.rate), "week": dateformat.format(self.week, "d M Y"),
                  "cases": self.cases, "usual": percent(self.usual), "low": percent(self.low),
                  "high": percent(self.high)}
        return gettext(FLAG_SENTENCES[self.metric]) % values


def control_limits(k_baseline: int, n_baseline: int, n_week: int) -> tuple[float, float, float]:
    """The usual rate and the three-sigma range for a week of `n_week` cases.

    The usual rate is shrunk half a case towards the middle, so a clinic that never had an
    override is not flagged for its first one: its range is not zero wide.
    """
    usual = (k_baseline + 0.5) / (n_baseline + 1)
    spread = SIGMAS * math.sqrt(usual * (1 - usual) / n_week)
    return usual, max(0.0, usual - spread), min(1.0, usual + spread)


def window_weeks() -> int:
    return max(settings.CXR_OVERSIGHT_WEEKS, settings.CXR_DRIFT_BASELINE_WEEKS + WEEKS_CHECKED)


def mark_flags(figures: ClinicWeeks) -> list[Flag]:
    """Flag the checked weeks of one clinic (also marking them on its `Week` rows)."""
    flags, weeks = [], figures.weeks
    minimum, baseline_weeks = settings.CXR_DRIFT_MIN_CASES, settings.CXR_DRIFT_BASELINE_WEEKS
    for index in range(max(0, len(weeks) - WEEKS_CHECKED), len(weeks)):
        week, baseline = weeks[index], weeks[max(0, index - baseline_weeks):index]
        for metric in METRICS:
            k, n = week.counts(metric)
            k_base = sum(w.counts(metric)[0] for w in baseline)
            n_base = sum(w.counts(metric)[1] for w in baseline)
            if n < minimum or n_base < minimum:
                continue
            usual, low, high = control_limits(k_base, n_base, n)
            if not low <= k / n <= high:
                week.flagged.add(metric)
                flags.append(Flag(figures.clinic, metric, week.start, k / n, n, usual, low, high))
    return flags


def already_flagged(flag: Flag) -> bool:
    return AuditEvent.objects.filter(action=AuditEvent.Action.CLINIC_FLAGGED, clinic=flag.clinic,
                                     details__metric=flag.metric, details__week=flag.week.isoformat()).exists()


def check_clinic_drift() -> int:
    """Beat's check: audit each new flag once, then mail the administrators about them; how many."""
    new = []
    for figures in weekly_figures(Clinic.objects.all(), weeks=window_weeks()):
        for flag in mark_flags(figures):
            with transaction.atomic():
                if already_flagged(flag):
                    continue
                record(AuditEvent.Action.CLINIC_FLAGGED, actor=Actor.system(), clinic=flag.clinic,
                       details=flag.as_details())
            new.append(flag)
    if new:
        mail_flags(new)
    return len(new)


def mail_flags(flags: list[Flag]) -> None:
    """One message about the new flags; they stay on the page and in the audit trail if the mail server is down."""
    mail_administrators(message=lambda: (
        ngettext("CXR Triage: %(count)s clinic figure(s) out of range",
                 "CXR Triage: %(count)s clinic figure(s) out of range", len(flags)) % {"count": len(flags)},
        "\n".join([gettext("These clinics' weekly figures left their usual range:"), ""]
                  + [f"- {flag.sentence()}" for flag in flags]
                  + ["", gettext("The oversight page shows each clinic's weeks. A live clinic's AI suggestions can be "
                                 "paused on its local validation page (/audit/validation/).")])))

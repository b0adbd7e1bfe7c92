"""The oversight pages' figures, computed in the background and read by the pages.

The versions and weeks pages aggregate every case of their scope (0.7-0.9 s of database work at 100,000 cases);
beat's `refresh_oversight` computes them for every scope an administrator usually looks at (all
clinics, and each clinic) and stores them as `OversightSnapshot` rows, so a page request reads
one row. The COVID-19 thresholds per clinic (every reviewed case's score, 5.9 s at 1,000,000 cases) are
kept the same way. A page shows a snapshot at most CXR_OVERSIGHT_MAX_AGE_SECONDS old and says when it was
computed; a scope beat does not cover, a stale snapshot, or one taken under other model versions
(activation, a trial started or ended) is computed on the request, as before.

A snapshot is pickled figures (dataclasses holding model instances) that only this module writes;
one that does not load (written by an older release) counts as missing.
"""

import hashlib
import logging
import pickle
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import ngettext

from classifier.models import ModelVersion

from ..models import Clinic, OversightSnapshot
from . import drift, versions
from .clinics import ClinicWeeks, week_start, weekly_figures
from .operating_points import ClinicProposal, proposals
from .trials import trial_comparisons

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VersionsPage:
    summaries: list[versions.VersionOversight]
    trials: list


@dataclass(frozen=True)
class Figures:
    value: Any
    computed_at: datetime
    background: bool  # read from beat's snapshot, not computed for this request

    @property
    def refresh_text(self) -> str:
        seconds = settings.CXR_OVERSIGHT_REFRESH_SECONDS
        # English says "minutes" and "seconds" whatever the number; the plural forms are for other languages.
        if seconds % 60 == 0:
            return ngettext("%(count)s minutes", "%(count)s minutes", seconds // 60) % {"count": seconds // 60}
        return ngettext("%(count)s seconds", "%(count)s seconds", seconds) % {"count": seconds}


def compute_versions(clinics) -> VersionsPage:
    return VersionsPage(versions.oversight_by_version(clinics), trial_comparisons(clinics))


def compute_weeks(clinics) -> list[ClinicWeeks]:
    per_clinic = weekly_figures(Clinic.objects.all() if clinics is None else clinics, weeks=drift.window_weeks())
    for figures in per_clinic:
        drift.mark_flags(figures)
    return per_clinic


def compute_points(clinics) -> list[ClinicProposal]:
    """The COVID-19 thresholds per clinic: every reviewed case's score read and sorted (seconds at 1,000,000)."""
    return proposals(Clinic.objects.all() if clinics is None else clinics)


PAGES = {"versions": compute_versions, "weeks": compute_weeks, "points": compute_points}


def depends_on() -> str:
    """What the figures depend on besides the cases: which versions are active or on trial (with each
    trial's scope and start), (per week) the week the window ends in, and the thresholds' settings (a
    restart with another target shows no proposal fitted to the old one). Read once per request, and
    once per refresh."""
    versions = list(ModelVersion.objects.filter(active=True).values_list("pk", flat=True).order_by("pk")) + [
        (-pk, clinics, sample, str(started)) for pk, clinics, sample, started in ModelVersion.objects.filter(
            on_trial=True).values_list("pk", "trial_clinics", "trial_sample_percent", "trial_started").order_by("pk")]
    thresholds = (settings.CXR_COVID_PRIORITY_THRESHOLD, settings.CXR_OPERATING_POINT_SENSITIVITY,
                  settings.CXR_OPERATING_POINT_MIN_CASES)
    return f"{versions}|{week_start(timezone.localdate())}|{thresholds}"


def snapshot_key(page: str, clinic_ids: list[int] | None, dependencies: str) -> str:
    """Page, scope (every clinic, or the sorted clinic ids) and `depends_on()`."""
    scope = "all" if clinic_ids is None else ",".join(str(pk) for pk in sorted(clinic_ids))
    return f"{page}:" + hashlib.sha256(f"{scope}|{dependencies}".encode()).hexdigest()[:32]


def figures(page: str, clinics) -> Figures:
    """The page's figures for these clinics (None: every clinic): beat's, if fresh, else computed now."""
    max_age = settings.CXR_OVERSIGHT_MAX_AGE_SECONDS if settings.CXR_OVERSIGHT_REFRESH_SECONDS else 0
    if max_age:
        clinic_ids = None if clinics is None else list(clinics.values_list("pk", flat=True))
        key = snapshot_key(page, clinic_ids, depends_on())
        row = (OversightSnapshot.objects.filter(key=key, computed_at__gte=timezone.now() - timedelta(seconds=max_age))
               .values_list("payload", "computed_at").first())
        if row is not None:
            try:
                return Figures(pickle.loads(bytes(row[0])), row[1], background=True)
            except Exception:  # noqa: BLE001 - an older release's figures: compute them again
                log.warning("Oversight snapshot %s could not be read; computing the figures now", key)
    return Figures(PAGES[page](clinics), timezone.now(), background=False)


def refresh() -> int:
    """Beat's task: compute every page for every clinic and for each one; returns snapshots written.
    Snapshots taken under other versions or in an earlier week are deleted."""
    began, dependencies = time.perf_counter(), depends_on()
    scopes = [None] + [[pk] for pk in Clinic.objects.order_by("pk").values_list("pk", flat=True)]
    written = []
    for page, compute in PAGES.items():
        for clinic_ids in scopes:
            key = snapshot_key(page, clinic_ids, dependencies)
            clinics = None if clinic_ids is None else Clinic.objects.filter(pk__in=clinic_ids)
            payload = pickle.dumps(compute(clinics), protocol=pickle.HIGHEST_PROTOCOL)
            OversightSnapshot.objects.update_or_create(key=key, defaults={"computed_at": timezone.now(),
                                                                          "payload": payload})
            written.append(key)
    OversightSnapshot.objects.exclude(key__in=written).delete()
    log.info("Oversight figures refreshed: %d snapshots in %.1f s", len(written), time.perf_counter() - began)
    return len(written)

"""Page speed with many cases: worklist, case list and audit pages at 1,000 and 100,000 cases.

Every reviewed case also has a prediction of a version on silent trial, so the oversight page
compares two versions on every reviewed case and shows each clinic's weeks (90 days of cases).

Builds a throw-away database (SQLite in a temporary folder; or the disposable PostgreSQL
database named by BENCH_DATABASE_URL, which is emptied first), fills it with synthetic cases,
predictions, reviews and audit events, then requests each page through Django's test client
as a logged-in user and reports the p50/p95 response time and the number of SQL queries.
Both sizes run in one process, so the last column (p95 at 100k / p95 at 1k) compares like
with like.

    .venv/bin/python bench/pages.py [--cases 100000] [--repeats 30]
"""

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import django_setup, percentile, stamp, table, write_section  # noqa: E402
from classifier.labels import LABELS  # noqa: E402

STATUS_MIX = [("reviewed", 0.70), ("predicted", 0.20), ("queued", 0.03), ("classifying", 0.01), ("failed", 0.02),
              ("submitted", 0.04)]
CLINICS = 5
BATCH = 2000


def people():
    from django.contrib.auth.models import Group, User

    from cases.access import ADMIN_GROUP, RADIOLOGIST_GROUP, STAFF_GROUP
    from cases.models import Clinic

    clinics = [Clinic.objects.create(name=f"Clinic {i}", code=f"clinic-{i}") for i in range(CLINICS)]

    def user(name, group, *member_of):
        account = User.objects.create_user(name, password="bench-password-1", is_staff=group == ADMIN_GROUP)
        account.groups.add(Group.objects.get(name=group))
        for clinic in member_of:
            clinic.members.add(account)
        return account

    # The radiologist serves every clinic: the worst case, every case is on their worklist.
    return clinics, {"staff": user("staff", STAFF_GROUP, clinics[0]),
                     "radiologist": user("radiologist", RADIOLOGIST_GROUP, *clinics),
                     "administrator": user("administrator", ADMIN_GROUP)}


def fill(clinics, users, *, start: int, stop: int, rng: random.Random) -> None:
    """Cases start..stop-1 with their patients, predictions, reviews and audit events."""
    from django.db import transaction
    from django.utils import timezone

    from cases.models import AuditEvent, Case, Patient, Prediction, Review
    from cases.text import identifier_key
    from classifier.models import ModelVersion

    version, _ = ModelVersion.objects.get_or_create(
        name="bench-model", defaults={"architecture": "bench", "file": "-", "sha256": "0" * 64, "active": True})
    # A version on silent trial that scored every reviewed case: the oversight page compares the two.
    trial, _ = ModelVersion.objects.get_or_create(
        name="bench-trial", defaults={"architecture": "bench", "file": "-", "sha256": "1" * 64, "on_trial": True})
    statuses, weights = zip(*STATUS_MIX)
    now = timezone.now()
    for first in range(start, stop, BATCH):
        numbers = range(first, min(stop, first + BATCH))
        with transaction.atomic():
            patients = Patient.objects.bulk_create(
                Patient(clinic=clinics[n % CLINICS], mrn=f"MRN-{n:07d}", mrn_key=identifier_key(f"MRN-{n:07d}"),
                        birth_year=1940 + n % 70) for n in numbers)
            cases = Case.objects.bulk_create(
                Case(clinic=patient.clinic, patient=patient, submitted_by=users["staff"], symptoms="cough",
                     urgent=rng.random() < 0.1, status=rng.choices(statuses, weights)[0],
                     image_name=f"{n:032x}.png", display_name=f"{n:032x}.png", image_sha256="0" * 64,
                     image_format="PNG", image_width=256, image_height=256)
                for n, patient in zip(numbers, patients))
            # auto_now_add ignores given values: spread the submission times over 90 days afterwards.
            for case in cases:
                case.created = now - timedelta(minutes=rng.randrange(90 * 24 * 60))
            Case.objects.bulk_update(cases, ["created"])
            predicted = [case for case in cases if case.status in ("predicted", "reviewed")]
            predictions = Prediction.objects.bulk_create(_prediction(case, version, rng) for case in predicted)
            for prediction in predictions:
                for field, value in Case.suggestion_fields(prediction.label, prediction.probabilities).items():
                    setattr(prediction.case, field, value)
            Case.objects.bulk_update(predicted, ["predicted_label", "covid_probability"])
            Review.objects.bulk_create(
                Review(case=p.case, prediction=p, reviewer=users["radiologist"], finding=p.label, agreed=True)
                for p in predictions if p.case.status == "reviewed")
            Prediction.objects.bulk_create(_prediction(p.case, trial, rng, trial=True)
                                           for p in predictions if p.case.status == "reviewed")
            AuditEvent.objects.bulk_create(
                AuditEvent(actor=users["staff"], actor_label="staff", action="case_submitted", case=case,
                           clinic=case.clinic, details={}) for case in cases)


def analyze(connection) -> None:
    """Bring the database to the state a running system is in after the bulk load: PostgreSQL's
    autovacuum (VACUUM ANALYZE; otherwise it starts during the measurement), SQLite's hourly beat
    task (cases/upkeep.py). Without statistics both planners believe the tables are empty."""
    from cases.classification.upkeep import refresh_planner_statistics

    if not refresh_planner_statistics():
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def _prediction(case, version, rng: random.Random, *, trial: bool = False):
    from cases.models import Prediction

    raw = [rng.random() ** 2 for _ in LABELS]
    probabilities = {label: value / sum(raw) for label, value in zip(LABELS, raw)}
    label = max(probabilities, key=probabilities.get)
    return Prediction(case=case, model_version=version, label=label, probabilities=probabilities,
                      heatmap_name="", inference_ms=3.0, trial=trial)


def pages(users) -> list[tuple[str, str, str, dict]]:
    """(name, user, url, query) for every page measured; audit pages only when installed."""
    from django.urls import NoReverseMatch, reverse

    from cases.models import Case, Clinic

    awaiting = Case.objects.filter(status="predicted").order_by("id").first()
    found = [
        ("Worklist, page 1", "radiologist", reverse("cases:worklist"), {}),
        ("Worklist, page 20", "radiologist", reverse("cases:worklist"), {"page": 20}),
        ("Worklist, COVID-19 suggestions only", "radiologist", reverse("cases:worklist"), {"label": "covid"}),
        ("Worklist, all statuses", "radiologist", reverse("cases:worklist"), {"status": "all"}),
        ("Review page", "radiologist", reverse("cases:review", args=[awaiting.public_id]), {}),
        ("Case list, one clinic (staff)", "staff", reverse("cases:case_list"), {}),
        ("Case list, all clinics (administrator)", "administrator", reverse("cases:case_list"), {}),
    ]
    case_id = [awaiting.public_id]
    first_clinic = Clinic.objects.order_by("id")[0].pk
    optional = [  # pages of other features, measured once they exist
        ("Admin case list (administrator)", "admin:cases_case_changelist", [], {}),
        ("Audit log", "audit:events", [], {}),
        ("Audit log, one action", "audit:events", [], {"action": "case_submitted"}),
        ("Audit timeline of one case", "audit:timeline", case_id, {}),
        ("Oversight dashboard", "audit:oversight", [], {}),
        ("Oversight dashboard, one clinic", "audit:oversight", [], {"clinic": first_clinic}),
        ("Oversight per clinic and week", "audit:oversight_clinics", [], {}),
        ("Oversight per clinic and week, one clinic", "audit:oversight_clinics", [], {"clinic": first_clinic}),
        ("COVID-19 thresholds per clinic", "audit:operating_points", [], {}),
    ]
    for name, url_name, args, query in optional:
        try:
            found.append((name, "administrator", reverse(url_name, args=args), query))
        except NoReverseMatch:
            pass
    return found


def measure(users, *, repeats: int, only: tuple[str, ...] = (), suffix: str = "") -> dict[str, tuple[float, float, int]]:
    """Per page (those whose name starts with one of `only`, if given): p50 ms, p95 ms, queries of the last request."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    results = {}
    clients = {}
    for role, account in users.items():
        clients[role] = Client()
        clients[role].force_login(account)
    for name, role, url, query in pages(users):
        if only and not name.startswith(only):
            continue
        client = clients[role]
        client.get(url, query)  # warm caches and templates
        times = []
        for _ in range(repeats):
            with CaptureQueriesContext(connection) as queries:
                began = time.perf_counter()
                response = client.get(url, query)
                times.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{name}: HTTP {response.status_code}")
        results[name + suffix] = (percentile(times, 50), percentile(times, 95), len(queries))
    return results


OVERSIGHT_PAGES = ("Oversight",)
LIVE = ", computed on the request"


def measure_all(users, *, repeats: int) -> tuple[dict, float]:
    """Every page, the oversight pages reading beat's figures (refreshed first, as beat does; its
    time returned) and again computing their own (CXR_OVERSIGHT_REFRESH_SECONDS=0)."""
    from django.test import override_settings

    from cases.oversight import snapshots

    began = time.perf_counter()
    snapshots.refresh()
    refresh_seconds = time.perf_counter() - began
    results = measure(users, repeats=repeats)
    with override_settings(CXR_OVERSIGHT_REFRESH_SECONDS=0):
        results.update(measure(users, repeats=repeats, only=OVERSIGHT_PAGES, suffix=LIVE))
    return results, refresh_seconds


WORKLIST_P95_MS = 200
OVERSIGHT_MS = 1000


def targets(small: dict, large: dict, *, cases: int, small_cases: int, refresh_seconds: float) -> str:
    """Issue 7's worklist target, with the measured figures beside it."""
    worklist = [name for name in large if name.startswith("Worklist")]
    worst = max(worklist, key=lambda name: large[name][1])
    fast = all(large[name][1] < WORKLIST_P95_MS for name in worklist)
    changed = [f"{name}: {small[name][2]} -> {large[name][2]}" for name in worklist if small[name][2] != large[name][2]]
    constant = not changed
    at = "" if cases == 100_000 else f" (measured at {cases:,} cases, not 100,000: not comparable)"
    figures = "; ".join(f"{name.removeprefix('Worklist, ')} {large[name][1]:.0f} ms" for name in worklist)
    queries = (f"the same at {small_cases:,} and {cases:,} cases on every worklist page"
               if constant else "changed with the number of cases (" + "; ".join(changed) + ")")
    oversight = [name for name in large if name.startswith(("Oversight", "COVID-19 thresholds"))
                 and not name.endswith(LIVE)]
    slowest = max(oversight, key=lambda name: large[name][1])
    live = [name for name in large if name.endswith(LIVE)]
    slowest_live = max(live, key=lambda name: large[name][1])
    steady = all(small[name][2] == large[name][2] for name in oversight)
    return "\n".join([
        "Targets (issue 7), measured in this run:",
        "",
        f"- worklist p95 under {WORKLIST_P95_MS} ms at 100,000 cases{at}: worst {large[worst][1]:.0f} ms"
        f" ({worst}); {figures}; {'met' if fast else '**NOT met**'}",
        f"- with a constant query count: {queries}; {'met' if constant else '**NOT met**'}",
        f"- issue 16, oversight pages (a version on trial scored every reviewed case) under {OVERSIGHT_MS} ms"
        f"{at}: slowest p95 {large[slowest][1]:.0f} ms ({slowest});"
        f" {'met' if large[slowest][1] < OVERSIGHT_MS else '**NOT met**'}; query counts"
        f" {'the same at both sizes' if steady else 'changed'}. The two oversight pages read the figures beat"
        f" computes every CXR_OVERSIGHT_REFRESH_SECONDS (cases/oversight/snapshots.py); computing all of them (both"
        f" pages, every clinic and each clinic) took {refresh_seconds:.1f} s at {cases:,} cases; a page that"
        f" computes its own (stale or missing figures) is slowest at p95 {large[slowest_live][1]:.0f} ms"
        f" ({slowest_live.removesuffix(LIVE)}).",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cxr-bench-pages-") as workdir:
        django_setup(Path(workdir))
        from django.db import connection

        rng = random.Random(7)
        clinics, users = people()
        fill(clinics, users, start=0, stop=args.small, rng=rng)
        analyze(connection)
        small, _ = measure_all(users, repeats=args.repeats)
        began = time.perf_counter()
        fill(clinics, users, start=args.small, stop=args.cases, rng=rng)
        analyze(connection)
        print(f"filled {args.cases} cases in {time.perf_counter() - began:.0f} s", file=sys.stderr)
        large, refresh_seconds = measure_all(users, repeats=args.repeats)
        vendor = connection.vendor
    rows = [[name, f"{small[name][1]:.1f}", small[name][2], f"{large[name][0]:.1f}", f"{large[name][1]:.1f}",
             large[name][2], f"{large[name][1] / small[name][1]:.2f}"] for name in large]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    body = "\n\n".join([
        stamp("Django", "psycopg") + f" Load average at the end: {load}. Database: {vendor}. {args.repeats} requests per page after one warm-up,"
        f" Django test client in-process (no network); {CLINICS} clinics, the radiologist serves all of them, so"
        f" every case is on their worklist (~20% awaiting review, ~70% reviewed).",
        table(["Page", f"p95 ms ({args.small:,} cases)", "queries", f"p50 ms ({args.cases:,})",
               f"p95 ms ({args.cases:,})", "queries", "p95 ratio"], rows),
        targets(small, large, cases=args.cases, small_cases=args.small, refresh_seconds=refresh_seconds),
    ])
    write_section(f"pages-{vendor}", f"Page response times with {args.cases:,} cases ({vendor})", body)
    print(body)


if __name__ == "__main__":
    main()

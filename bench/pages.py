"""Page speed with many cases: worklist, case list (and its patient-number search), audit pages (one
user over a week, a case's timeline) and oversight at 1,000 and 100,000 (or 1,000,000) cases.

Every reviewed case also has a prediction of a version on silent trial, so the oversight page
compares two versions on every reviewed case and shows each clinic's weeks (90 days of cases).

Builds a throw-away database (SQLite in a temporary folder; or the disposable PostgreSQL
database named by BENCH_DATABASE_URL, which is emptied first), fills it with synthetic cases,
predictions, reviews and audit events, then requests each page through Django's test client
as a logged-in user and reports the p50/p95 response time and the number of SQL queries.
Both sizes run in one process, so the last column (p95 at 100k / p95 at 1k) compares like
with like.

On PostgreSQL the rows are written with COPY (a million cases in minutes); SQLite keeps the ORM's bulk
inserts. At the larger size the plan of each page's slowest query is written beside the figures.

    .venv/bin/python bench/pages.py [--cases 100000] [--repeats 30] [--no-live-oversight]
    BENCH_DATABASE_URL=postgres://.../wt_x .venv/bin/python bench/pages.py --cases 1000000 --no-live-oversight

A fill of a million cases takes a quarter of an hour: `--reuse` measures the database BENCH_DATABASE_URL
already holds (filled by an earlier run; missing migrations are applied, nothing is emptied) at its size
only, optionally just the pages named by `--only`. `--json FILE` keeps the figures; `--before FILE` (figures
of the same pages measured by the code before a change, on the same fill) puts them beside this run's, in
their own section of BENCHMARKS.md:

    BENCH_DATABASE_URL=... .venv/bin/python bench/pages.py --reuse --only Worklist --json before.json
    BENCH_DATABASE_URL=... .venv/bin/python bench/pages.py --reuse --only Worklist --before before.json
"""

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import date, timedelta
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


COPY_BATCH = 50_000


def fill_by_copy(clinics, users, *, start: int, stop: int, rng: random.Random) -> None:
    """PostgreSQL: the same kind of rows as `fill`, written with COPY, ids chosen here (minutes for a
    million cases, where the ORM's inserts take hours). Audit events carry their case's time, so a
    date filter selects what it would in a real archive: `case_submitted` by the staff member and, for
    reviewed cases, `review_confirmed` by the radiologist."""
    from django.core.management.color import no_style
    from django.db import connection
    from django.db.models import Max
    from django.utils import timezone

    from cases.models import AuditEvent, Case, Patient, Prediction, Review
    from cases.text import identifier_key
    from classifier.models import ModelVersion

    version, _ = ModelVersion.objects.get_or_create(
        name="bench-model", defaults={"architecture": "bench", "file": "-", "sha256": "0" * 64, "active": True})
    trial, _ = ModelVersion.objects.get_or_create(
        name="bench-trial", defaults={"architecture": "bench", "file": "-", "sha256": "1" * 64, "on_trial": True})
    ids = {model: (model.objects.aggregate(last=Max("id"))["last"] or 0) + 1
           for model in (Patient, Case, Prediction, Review, AuditEvent)}
    statuses, weights = zip(*STATUS_MIX)
    now = timezone.now()
    staff, radiologist = users["staff"], users["radiologist"]
    for first in range(start, stop, COPY_BATCH):
        rows = {model: [] for model in ids}

        def add(model, **values) -> int:
            values["id"] = ids[model]
            ids[model] += 1
            rows[model].append(values)
            return values["id"]

        for n in range(first, min(stop, first + COPY_BATCH)):
            clinic = clinics[n % CLINICS]
            created = now - timedelta(minutes=rng.randrange(90 * 24 * 60))
            status = rng.choices(statuses, weights)[0]
            mrn = f"MRN-{n:07d}"
            patient = add(Patient, clinic_id=clinic.pk, mrn=mrn, mrn_key=identifier_key(mrn), birth_year=1940 + n % 70,
                          created=created)
            case_values = dict(clinic_id=clinic.pk, patient_id=patient, submitted_by_id=staff.pk, symptoms="cough",
                               urgent=rng.random() < 0.1, status=status, image_name=f"{n:032x}.png",
                               display_name=f"{n:032x}.png", image_sha256="0" * 64, image_format="PNG",
                               image_width=256, image_height=256, created=created, status_changed=created)
            prediction = None
            if status in ("predicted", "reviewed"):
                prediction = _prediction_values(version, rng, created)
                case_values.update(Case.suggestion_fields(prediction["label"], prediction["probabilities"]))
            case = add(Case, **case_values)
            add(AuditEvent, actor_id=staff.pk, actor_label=staff.username, action="case_submitted", case_id=case,
                clinic_id=clinic.pk, details={}, time=created)
            if prediction is None:
                continue
            predicted = add(Prediction, case_id=case, **prediction)
            if status == "reviewed":
                signed = created + timedelta(minutes=30)
                add(Review, case_id=case, prediction_id=predicted, reviewer_id=radiologist.pk,
                    finding=prediction["label"], agreed=True, signed_at=signed)
                add(Prediction, case_id=case, **_prediction_values(trial, rng, created, trial=True))
                add(AuditEvent, actor_id=radiologist.pk, actor_label=radiologist.username, action="review_confirmed",
                    case_id=case, clinic_id=clinic.pk, details={}, time=signed)
        for model, values in rows.items():
            copy_rows(connection, model, values)
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), list(ids)):
            cursor.execute(statement)


def _prediction_values(version, rng: random.Random, created, *, trial: bool = False) -> dict:
    raw = [rng.random() ** 2 for _ in LABELS]
    probabilities = {label: value / sum(raw) for label, value in zip(LABELS, raw)}
    return dict(model_version_id=version.pk, label=max(probabilities, key=probabilities.get),
                probabilities=probabilities, heatmap_name="", inference_ms=3.0, trial=trial, created=created)


def copy_rows(connection, model, rows: list[dict]) -> None:
    """COPY rows (column values by attribute name; the model's defaults for the rest) into its table."""
    fields = model._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        with cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([field.get_db_prep_save(row[field.attname] if field.attname in row
                                                       else field.get_default(), connection) for field in fields])


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
        ("Case list, patient-number search (administrator)", "administrator", reverse("cases:case_list"),
         {"mrn": "0000421"}),
    ]
    week = {"since": (date.today() - timedelta(days=7)).isoformat(), "until": date.today().isoformat()}
    case_id = [awaiting.public_id]
    first_clinic = Clinic.objects.order_by("id")[0].pk
    optional = [  # pages of other features, measured once they exist
        ("Admin case list (administrator)", "admin:cases_case_changelist", [], {}),
        ("Audit log", "audit:events", [], {}),
        ("Audit log, one action", "audit:events", [], {"action": "case_submitted"}),
        ("Audit log, one user over a week", "audit:events", [], {"user": "radiologist", **week}),
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


def measure(users, *, repeats: int, only: tuple[str, ...] = (), suffix: str = "",
            plans: dict | None = None) -> dict[str, tuple[float, float, int]]:
    """Per page (those whose name starts with one of `only`, if given): p50 ms, p95 ms, queries of the last
    request; with `plans`, also the plan of each page's slowest query."""
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
        if plans is not None:
            slowest = max(queries.captured_queries, key=lambda query: float(query["time"]))
            plans[name + suffix] = explain(connection, slowest["sql"])
    return results


def explain(connection, sql: str) -> str:
    """The plan of one query as the page ran it (PostgreSQL: with its real row counts and times)."""
    prefix = "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql)
        return "\n".join(" ".join(str(cell) for cell in row) for row in cursor.fetchall())


OVERSIGHT_PAGES = ("Oversight",)
LIVE = ", computed on the request"


def measure_all(users, *, repeats: int, live: bool = True, plans: dict | None = None,
                only: tuple[str, ...] = (), refresh: bool = True) -> tuple[dict, float]:
    """Every page (or those named by `only`), the oversight pages reading beat's figures (refreshed first,
    as beat does; its time returned) and, with `live`, again computing their own
    (CXR_OVERSIGHT_REFRESH_SECONDS=0)."""
    from django.test import override_settings

    from cases.oversight import snapshots

    began = time.perf_counter()
    if refresh:
        snapshots.refresh()
    refresh_seconds = time.perf_counter() - began
    results = measure(users, repeats=repeats, plans=plans, only=only)
    if live:
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
    slowest_live = max(live, key=lambda name: large[name][1]) if live else None
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
        f" pages, every clinic and each clinic) took {refresh_seconds:.1f} s at {cases:,} cases"
        + (f"; a page that computes its own (stale or missing figures) is slowest at p95"
           f" {large[slowest_live][1]:.0f} ms ({slowest_live.removesuffix(LIVE)})." if live else "."),
    ])


ARCHIVE_PAGES = ("Worklist", "Case list, patient-number search", "Audit log, one user", "Audit timeline")
ARCHIVE_P95_MS = 200


def archive_target(large: dict, *, cases: int) -> str:
    """Issue 31's target: the large pages' p95 at 1,000,000 cases on PostgreSQL."""
    pages = [name for name in large if name.startswith(ARCHIVE_PAGES)]
    worst = max(pages, key=lambda name: large[name][1])
    met = large[worst][1] <= ARCHIVE_P95_MS
    at = "" if cases == 1_000_000 else f" (measured at {cases:,} cases, not 1,000,000)"
    missing = [prefix for prefix in ARCHIVE_PAGES if not any(name.startswith(prefix) for name in pages)]
    return (f"- issue 31, worklist, patient-number search, audit trail by user and date and case timeline p95 <="
            f" {ARCHIVE_P95_MS} ms at 1,000,000 cases on PostgreSQL{at}: worst {large[worst][1]:.0f} ms ({worst});"
            f" {'met' if met else '**NOT met**'}"
            + (f" for the pages measured here (not measured in this run: {', '.join(missing)})" if missing else ""))


def existing_people():
    from django.contrib.auth.models import User

    from cases.models import Clinic

    return list(Clinic.objects.order_by("id")), {name: User.objects.get(username=name)
                                                 for name in ("staff", "radiologist", "administrator")}


def reused(args) -> None:
    """Measure the fill BENCH_DATABASE_URL holds (see the module's docstring)."""
    if not os.environ.get("BENCH_DATABASE_URL"):
        raise SystemExit("--reuse measures the database named by BENCH_DATABASE_URL")
    only = tuple(args.only)
    with tempfile.TemporaryDirectory(prefix="cxr-bench-pages-") as workdir:
        django_setup(Path(workdir), reuse=True)
        from django.db import connection

        from cases.models import AuditEvent, Case

        _, users = existing_people()
        cases, events = Case.objects.count(), AuditEvent.objects.count()
        began = time.perf_counter()
        analyze(connection)
        analysed = time.perf_counter() - began
        plans = {}
        large, refresh_seconds = measure_all(users, repeats=args.repeats, live=False, plans=plans, only=only,
                                             refresh=not args.no_refresh)
        vendor = connection.vendor
    if args.json:
        Path(args.json).write_text(json.dumps(large, indent=1))
    if not args.before:
        print(json.dumps(large, indent=1))
        return
    before = json.loads(Path(args.before).read_text())
    rows = [[name, f"{before[name][1]:.1f}", before[name][2], f"{large[name][0]:.1f}", f"{large[name][1]:.1f}",
             large[name][2], f"{large[name][1] / before[name][1]:.2f}"] for name in large if name in before]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    body = "\n\n".join([
        stamp("Django", "psycopg") + f" Load average at the end: {load}. Database: {vendor}, an earlier run's fill"
        f" reused ({cases:,} cases, {events:,} audit events; {'VACUUM ANALYZE' if vendor == 'postgresql' else 'ANALYZE'}"
        f" {analysed:.0f} s). {args.repeats} requests per page after one warm-up, Django test client in-process;"
        f" \"before\" is the code before the change measured by this script on the same fill just before this run"
        f" ({args.before_label}). Oversight figures refreshed as beat does in {refresh_seconds:.1f} s before the pages"
        f" were requested.",
        table(["Page", "p95 ms before", "queries", "p50 ms after", "p95 ms after", "queries", "p95 after / before"],
              rows),
        archive_target(large, cases=cases) if any(name.startswith(ARCHIVE_PAGES) for name in large) else "",
        f"Plan of each page's slowest query at {cases:,} cases"
        + (" (EXPLAIN ANALYZE: actual rows, no timings):" if vendor == "postgresql" else " (EXPLAIN QUERY PLAN):"),
        "\n\n".join(f"<details><summary>{name}</summary>\n\n```\n{plan}\n```\n</details>"
                     for name, plan in plans.items()),
    ])
    write_section(f"pages-{vendor}-reused", f"Page response times on a reused fill of {cases:,} cases ({vendor}):"
                  f" {args.title}", body)
    print(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--no-live-oversight", action="store_true",
                        help="skip the oversight pages computing their own figures (seconds each at 1,000,000 cases)")
    parser.add_argument("--reuse", action="store_true", help="measure the fill BENCH_DATABASE_URL already holds")
    parser.add_argument("--only", nargs="*", default=[], help="with --reuse: pages whose name starts so")
    parser.add_argument("--no-refresh", action="store_true",
                        help="with --reuse: do not compute beat's oversight figures first (pages may compute theirs)")
    parser.add_argument("--json", help="with --reuse: write the figures to this file")
    parser.add_argument("--before", help="with --reuse: figures (--json) of the code before a change, shown beside")
    parser.add_argument("--before-label", default="the parent commit", help="what --before measured")
    parser.add_argument("--title", default="before and after a change", help="with --before: the section's title")
    args = parser.parse_args()
    if args.reuse:
        return reused(args)
    live = not args.no_live_oversight
    with tempfile.TemporaryDirectory(prefix="cxr-bench-pages-") as workdir:
        django_setup(Path(workdir))
        from django.db import connection

        rng = random.Random(7)
        clinics, users = people()
        filler = fill_by_copy if connection.vendor == "postgresql" else fill
        filler(clinics, users, start=0, stop=args.small, rng=rng)
        analyze(connection)
        small, _ = measure_all(users, repeats=args.repeats, live=live)
        began = time.perf_counter()
        filler(clinics, users, start=args.small, stop=args.cases, rng=rng)
        filled = time.perf_counter() - began
        analyze(connection)
        analysed = time.perf_counter() - began - filled
        print(f"filled {args.cases} cases in {filled:.0f} s, analysed in {analysed:.0f} s", file=sys.stderr)
        plans = {}
        large, refresh_seconds = measure_all(users, repeats=args.repeats, live=live, plans=plans)
        vendor = connection.vendor
    rows = [[name, f"{small[name][1]:.1f}", small[name][2], f"{large[name][0]:.1f}", f"{large[name][1]:.1f}",
             large[name][2], f"{large[name][1] / small[name][1]:.2f}"] for name in large]
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    body = "\n\n".join([
        stamp("Django", "psycopg") + f" Load average at the end: {load}. Database: {vendor}. {args.repeats} requests per page after one warm-up,"
        f" Django test client in-process (no network); {CLINICS} clinics, the radiologist serves all of them, so"
        f" every case is on their worklist (~20% awaiting review, ~70% reviewed). Filled from {args.small:,} to"
        f" {args.cases:,} cases in {filled:.0f} s ({'COPY' if vendor == 'postgresql' else 'bulk inserts'}),"
        f" then {'VACUUM ANALYZE' if vendor == 'postgresql' else 'ANALYZE'} in {analysed:.0f} s."
        + ("" if live else " The oversight pages computing their own figures were not measured (--no-live-oversight)."),
        table(["Page", f"p95 ms ({args.small:,} cases)", "queries", f"p50 ms ({args.cases:,})",
               f"p95 ms ({args.cases:,})", "queries", "p95 ratio"], rows),
        targets(small, large, cases=args.cases, small_cases=args.small, refresh_seconds=refresh_seconds),
        archive_target(large, cases=args.cases),
        f"Plan of each page's slowest query at {args.cases:,} cases"
        + (" (EXPLAIN ANALYZE: actual rows, no timings):" if vendor == "postgresql" else " (EXPLAIN QUERY PLAN):"),
        "\n\n".join(f"<details><summary>{name}</summary>\n\n```\n{plan}\n```\n</details>"
                     for name, plan in plans.items()),
    ])
    write_section(f"pages-{vendor}", f"Page response times with {args.cases:,} cases ({vendor})", body)
    print(body)


if __name__ == "__main__":
    main()

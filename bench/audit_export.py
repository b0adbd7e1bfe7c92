"""Audit CSV export: memory and speed at 100,000 and 1,000,000 events.

Builds a throw-away database (SQLite in a temporary folder; or the disposable PostgreSQL
database named by BENCH_DATABASE_URL, which is emptied first), fills it with audit events,
and downloads /audit/export.csv through Django's test client as an administrator, reading
the streamed response chunk by chunk. Peak RSS growth over the download is sampled at every
chunk; the ratio column (1M / 100k) shows whether memory grows with the number of rows.

    .venv/bin/python bench/audit_export.py [--small 100000] [--large 1000000]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import django_setup, rss_mb, stamp, table, write_section  # noqa: E402

BATCH = 10_000
ACTIONS = ["image_viewed", "case_submitted", "login_succeeded", "prediction_written", "review_confirmed"]


def administrator():
    from django.contrib.auth.models import Group, User

    from cases.access import ADMIN_GROUP

    user = User.objects.create_user("auditor", password="bench-password-1", is_staff=True)
    user.groups.add(Group.objects.get(name=ADMIN_GROUP))
    return user


def fill(start: int, stop: int, clinic) -> None:
    from cases.models import AuditEvent

    for first in range(start, stop, BATCH):
        AuditEvent.objects.bulk_create(
            AuditEvent(actor_label=f"user{n % 50}", action=ACTIONS[n % len(ACTIONS)], clinic=clinic,
                       ip_address="10.0.0.1", details={"n": n, "kind": "display"})
            for n in range(first, min(stop, first + BATCH)))


def export(client) -> dict:
    baseline = rss_mb()
    peak, size, started = baseline, 0, time.perf_counter()
    response = client.get("/audit/export.csv")
    assert response.streaming, "the export must stream"
    rows = -1  # the header line
    for chunk in response.streaming_content:
        size += len(chunk)
        rows += chunk.count(b"\n")
        peak = max(peak, rss_mb())
    response.close()
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds, "mb": size / 2**20, "growth": peak - baseline}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        django_setup(Path(workdir))
        from django.db import connection
        from django.test import Client

        from cases.models import Clinic

        client = Client()
        client.force_login(administrator())
        clinic = Clinic.objects.create(name="Bench clinic", code="bench")
        export(client)  # warm-up: the first request imports and compiles what every later one reuses
        results = {}
        done = 0
        for size in (args.small, args.large):
            fill(done, size, clinic)
            done = size
            results[size] = export(client)
            print(f"{size:>9,} events: {results[size]}", flush=True)
        vendor = connection.vendor
    small, large = results[args.small], results[args.large]
    rows = [[f"{size:,}", f"{r['rows']:,}", f"{r['mb']:.0f}", f"{r['seconds']:.1f}", f"{r['rows'] / r['seconds']:,.0f}",
             f"{r['growth']:.1f}"] for size, r in results.items()]
    rows.append(["ratio large / small", "", "", f"{large['seconds'] / small['seconds']:.2f}", "",
                 f"{large['growth'] / max(small['growth'], 0.1):.2f}"])
    body = (f"{stamp('Django', 'psycopg')} Database: {vendor}. One download of /audit/export.csv per size through "
            "Django's test client as an administrator (every event matches: no filter), reading the streamed "
            "chunks, after one warm-up request; RSS sampled at every chunk (2,000 rows).\n\n"
            + table(["Events", "CSV rows", "CSV MB", "seconds", "rows/s", "peak RSS growth MB"], rows))
    write_section(f"audit-export-{vendor}", f"Audit CSV export, streamed ({vendor})", body)
    print(body)


if __name__ == "__main__":
    main()

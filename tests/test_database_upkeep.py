"""Planner statistics: SQLite gets them from an hourly beat task, PostgreSQL from autovacuum."""

from django.conf import settings
from django.db import connection

from cases.classification.upkeep import refresh_planner_statistics
from tests.factories import make_case


def test_sqlite_gets_planner_statistics_for_the_case_table_and_postgresql_is_left_to_autovacuum(clinic, staff):
    for number in range(3):
        make_case(clinic, staff, mrn=f"MRN-{number}")
    refreshed = refresh_planner_statistics()
    assert refreshed == (connection.vendor == "sqlite")
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT idx FROM sqlite_stat1 WHERE tbl = 'cases_case'")
            indexes = {row[0] for row in cursor.fetchall()}
        assert "case_worklist_priority" in indexes


def test_beat_refreshes_the_statistics_every_hour_with_a_task_the_worker_knows():
    import cases.tasks  # noqa: F401  (registers the tasks, as the worker's autodiscovery does)
    from cxrsite.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["refresh-planner-statistics"]
    assert entry["task"] in app.tasks
    assert entry["task"] == "cases.tasks.refresh_planner_statistics" and entry["schedule"] == 3600

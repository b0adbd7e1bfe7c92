"""Production settings pass Django's deployment checks, and the migrations match the models."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.core.management import call_command

REPO = Path(__file__).resolve().parent.parent


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)


def production_env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("HTTPS", "DEBUG", "SECURE_HSTS_SECONDS")}
    env.update(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="cxr.example.org",
               CXR_DATA_DIR=str(tmp_path))
    return env


def test_check_deploy_passes_with_production_settings(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_fails_when_https_is_switched_off(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env={**production_env(tmp_path), "HTTPS": "0"})
    assert result.returncode != 0 and "security.W008" in result.stderr


def test_a_malformed_boolean_setting_stops_start_up_with_its_name(tmp_path):
    result = manage("check", env={**production_env(tmp_path), "DEBUG": "maybe"})
    assert result.returncode != 0 and "DEBUG must be a boolean" in result.stderr


def test_the_migrations_are_complete(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)  # exits non-zero when a model changed


def test_reused_database_connections_are_checked_before_a_request_uses_them(settings):
    # A connection the server dropped (restart, failover, terminated) is replaced instead of
    # failing the next request of each web process.
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


def test_sqlite_runs_in_wal_mode_and_keeps_every_commit_on_power_loss(db):
    from django.db import connection

    if connection.vendor != "sqlite":
        assert connection.vendor == "postgresql"  # PostgreSQL has its own durability: nothing to set
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal = cursor.fetchone()[0]
        cursor.execute("PRAGMA synchronous")
        synchronous = cursor.fetchone()[0]
    assert (journal, synchronous) == ("wal", 2)  # 2 = FULL

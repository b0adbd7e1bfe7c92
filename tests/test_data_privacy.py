"""The data folder (database, secret key, images) is readable by the service's own user only, and
stays out of git."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def manage(*args: str, cwd: Path = REPO, **variables: str) -> subprocess.CompletedProcess:
    """manage.py in a fresh process, without the test run's SECRET_KEY and DATABASE_URL."""
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL")}
    env.update(PYTHONPATH=str(REPO), **variables)
    return subprocess.run([sys.executable, str(REPO / "manage.py"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.slow
def test_a_fresh_install_keeps_its_folder_database_and_key_private(tmp_path):
    data = tmp_path / "data"
    result = manage("migrate", "--noinput", CXR_DATA_DIR=str(data))
    assert result.returncode == 0, result.stderr
    assert (data / "db.sqlite3").stat().st_size > 0  # migrate wrote the schema into it
    assert (mode(data), mode(data / "db.sqlite3"), mode(data / "secret_key")) == (0o700, 0o600, 0o600)


def test_an_install_made_world_readable_is_tightened_at_start_up(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "db.sqlite3").touch()
    data.chmod(0o755)  # as `make run` left them before
    (data / "db.sqlite3").chmod(0o644)
    result = manage("check", CXR_DATA_DIR=str(data))
    assert result.returncode == 0, result.stderr
    assert (mode(data), mode(data / "db.sqlite3")) == (0o700, 0o600)


def test_an_empty_data_folder_setting_means_the_default_not_the_current_folder(tmp_path):
    shown = manage("shell", "-c", "from django.conf import settings; print(settings.CXR_DATA_DIR)", cwd=tmp_path,
                   CXR_DATA_DIR="", SECRET_KEY="test-only-" + "k" * 50)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[-1] == str(REPO / "var")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["secret_key", "private/ab/0123.png", "celerybeat-schedule.db"])
def test_what_a_data_folder_holds_is_ignored_by_git_even_inside_the_checkout(path):
    assert subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO).returncode == 0, path

"""The folder forwarder (bin/forward) against a real gunicorn: films dropped in a folder are filed once
each, across a restart of the forwarder and of the server (killed mid-film), and moved aside."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from cases.models import Case, Upload
from cxrsite.testing.images import png_bytes
from cxrsite.testing.link import Link
from cxrsite.testing.stack import database_url, free_port, stop_group, wait_for
from tests.factories import api_token, integration

REPO = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@contextmanager
def gunicorn(port: int, settings, tmp_path: Path):
    env = {**os.environ, "DATABASE_URL": database_url(), "CXR_DATA_DIR": str(tmp_path / "data"),
           "CXR_STORAGE_DIR": str(settings.CXR_STORAGE_DIR), "REDIS_URL": "redis://127.0.0.1:9/0",
           "CXR_API_RATE_LIMIT": "100000", "WEB_WORKERS": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(REPO / "cxrsite" / "gunicorn.conf.py"), "cxrsite.wsgi",
         "--bind", f"127.0.0.1:{port}"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        wait_for(lambda: answers(port), timeout=60, what="gunicorn")
        yield server
    finally:
        stop_group(server, timeout=20)


def answers(port: int) -> bool:
    import urllib.request

    try:
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/uploads/", method="OPTIONS"), timeout=1)
        return True
    except OSError:
        return False


def forwarder(port: int, folder: Path, token: str, *extra: str, stdout=subprocess.PIPE) -> subprocess.Popen:
    # Only the standard library: run by the system's Python, with no project package importable.
    env = {"PATH": os.environ["PATH"], "CXR_FORWARD_TOKEN": token}
    return subprocess.Popen(["/usr/bin/python3", "-I", str(REPO / "bin" / "forward"), "--server",
                             f"http://127.0.0.1:{port}", "--folder", str(folder), "--chunk-kb", "8",
                             "--interval", "0.2", *extra], env=env, cwd="/", stdout=stdout,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def drop(folder: Path, name: str, film: bytes, **details) -> None:
    (folder / f"{name}.json").write_text(json.dumps(details))
    (folder / name).write_bytes(film)


def test_films_dropped_in_a_folder_are_filed_once_each_across_restarts_of_the_forwarder_and_server(
        clinic, settings, tmp_path):
    token = api_token(integration("X-ray room", clinic, may_submit=True))
    folder = tmp_path / "export"
    folder.mkdir()
    port = free_port()
    drop(folder, "first.png", png_bytes(256, seed=1), mrn="FW-1", age=30, sex="F", view="PA")
    drop(folder, "second.png", png_bytes(256, seed=2), mrn="FW-2", age=31, sex="M", view="AP")
    large = png_bytes(900, seed=3)  # about 100 chunks of 8 KB
    drop(folder, "third.png", large, mrn="FW-3", age=32, sex="F", view="PA")
    journal = folder / ".forward-journal.json"

    log = tmp_path / "forward.log"
    with gunicorn(port, settings, tmp_path) as server, log.open("w") as output:
        running = forwarder(port, folder, token, stdout=output)
        # The server is killed mid-film (after some of the large film's chunks, in the middle of others),
        # and the forwarder, once it has found the server gone, is killed too.
        wait_for(lambda: Upload.objects.filter(metadata__filename="third.png", offset__gt=0).exists(),
                 timeout=60, interval=0.01, what="the third film to be partly sent")
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        wait_for(lambda: "third.png: no answer from the server" in log.read_text(), timeout=30,
                 what="the forwarder to find the server gone")
        os.killpg(running.pid, signal.SIGKILL)
        running.wait(timeout=10)
    partly = Upload.objects.get(metadata__filename="third.png")
    assert 0 < partly.offset < len(large) and partly.case is None

    with gunicorn(port, settings, tmp_path):  # the server restarted, on the same address
        again = forwarder(port, folder, token, "--once")
        output, _ = again.communicate(timeout=120)
        assert again.returncode == 0, output
        assert "third.png: resuming at" in output
        assert forwarder(port, folder, token, "--once").communicate(timeout=60)[0] == ""  # nothing left to send

    cases = Case.objects.order_by("patient__mrn")
    assert [case.patient.mrn for case in cases] == ["FW-1", "FW-2", "FW-3"]
    assert cases.get(patient__mrn="FW-2").view == "AP"
    assert sorted(p.name for p in (folder / "sent").iterdir()) == sorted(
        ["first.png", "first.png.json", "second.png", "second.png.json", "third.png", "third.png.json"])
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == [".forward-journal.json"]
    assert {entry["state"] for entry in json.loads(journal.read_text()).values()} == {"filed"}


def test_a_film_the_server_refuses_is_moved_aside_with_the_reason_and_files_nothing(clinic, settings, tmp_path):
    token = api_token(integration("X-ray room", clinic, may_submit=True))
    folder = tmp_path / "export"
    folder.mkdir()
    port = free_port()
    drop(folder, "broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20000, mrn="FW-9", age=30)
    drop(folder, "good.png", png_bytes(256), mrn="FW-10", age=30, view="PA")

    with gunicorn(port, settings, tmp_path):
        done = forwarder(port, folder, token, "--once")
        output, _ = done.communicate(timeout=120)

    assert done.returncode == 0, output
    assert [case.patient.mrn for case in Case.objects.all()] == ["FW-10"]
    reason = (folder / "refused" / "broken.png.reason.txt").read_text()
    assert "image" in reason and str(tmp_path) not in reason
    assert (folder / "refused" / "broken.png").exists() and (folder / "sent" / "good.png").exists()


def test_a_film_sent_in_one_request_and_cut_mid_way_resumes_from_the_servers_offset_and_is_filed_once(
        clinic, settings, tmp_path):
    # The forwarder's default: the whole film in one PATCH with its SHA-256 in the metadata. A relay
    # carries it slowly and drops for real part-way (every connection closed, new ones refused for 3 s).
    token = api_token(integration("X-ray room", clinic, may_submit=True))
    folder = tmp_path / "export"
    folder.mkdir()
    film = png_bytes(1600, seed=5)
    drop(folder, "cut.png", film, mrn="FW-20", age=40, sex="F", view="PA")
    port = free_port()
    with gunicorn(port, settings, tmp_path):
        relay = Link(port, rate=200_000)
        env = {"PATH": os.environ["PATH"], "CXR_FORWARD_TOKEN": token}
        running = subprocess.Popen(["/usr/bin/python3", "-I", str(REPO / "bin" / "forward"), "--server",
                                    f"http://127.0.0.1:{relay.port}", "--folder", str(folder), "--interval", "0.2",
                                    "--once"], env=env, cwd="/", stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, start_new_session=True)
        wait_for(lambda: relay.up_bytes > len(film) * 0.4, timeout=60, interval=0.01, what="40 % of the film sent")
        relay.drop(3)
        wait_for(lambda: Upload.objects.filter(offset__gt=0).exists(), timeout=30, what="the kept bytes recorded")
        kept = Upload.objects.get().offset
        output, _ = running.communicate(timeout=120)

    assert running.returncode == 0, output
    assert 0 < kept < len(film) and f"cut.png: resuming at {kept} of {len(film)} bytes" in output
    case = Case.objects.get()
    assert (case.patient.mrn, case.image_sha256) == ("FW-20", hashlib.sha256(film).hexdigest())
    assert Upload.objects.get().metadata["sha256"] == case.image_sha256
    assert relay.up_bytes <= 1.05 * len(film)  # the rest, not the film again
    assert (folder / "sent" / "cut.png").exists()

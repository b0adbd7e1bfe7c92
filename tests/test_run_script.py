"""`bin/run` (what `make run` starts): a working site from a fresh data folder, and a clean stop."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cxrsite.testing.makerun import descendants, port_free, running_make_run
from cxrsite.testing.stack import free_port

REPO = Path(__file__).resolve().parent.parent


def wait_for(url: str, timeout: float = 90.0) -> tuple[int, bytes]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.slow
def test_run_starts_the_site_with_demo_logins_and_stops_every_child_on_sigint(tmp_path):
    port, dicom_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "HTTPS")}
    env.update(PORT=str(port), CXR_DATA_DIR=str(tmp_path), CXR_DEMO_PASSWORD="violet-harbour-lantern-42",
               CXR_DICOM_PORT=str(dicom_port))
    log = (tmp_path / "run.log").open("w+")
    run = subprocess.Popen([sys.executable, "bin/run"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        status, body = wait_for(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and json.loads(body)["database"] and json.loads(body)["redis"], body
        status, page = wait_for(f"http://127.0.0.1:{port}/accounts/login/")
        assert status == 200 and b'name="password"' in page
        # The DICOM listener answers, and turns away a unit that no administrator registered.
        echo = subprocess.run(["echoscu", "127.0.0.1", str(dicom_port)], capture_output=True, text=True, timeout=30)
        assert "Association Rejected" in echo.stderr and "Calling AE Title Not Recognized" in echo.stderr, echo.stderr
        started = descendants(run.pid)
        assert len(started) >= 3  # redis (unless one already answered), worker, beat, gunicorn and its workers
        # As someone starting it would: wait for the logins, printed once the workers are ready (a loaded
        # machine takes longer than the web server to get there).
        deadline = time.monotonic() + 120
        while "CXR Triage is running at" not in (tmp_path / "run.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=60) == 0
    log.seek(0)
    output = log.read()
    assert f"running at http://127.0.0.1:{port}/" in output and "demo_staff" in output
    # The logins come last, in a box, after the three workers said they were ready.
    running = output.index(f"| CXR Triage is running at http://127.0.0.1:{port}/")
    top, bottom = output.rindex("\n+--", 0, running), output.index("\n+--", running)
    assert "demo_staff" in output[top:bottom] and "demo_staff" not in output[:top]
    assert output.count(" ready.", 0, top) == 3, output[:top][-3000:]
    time.sleep(0.5)
    still_running = [pid for pid in started if Path(f"/proc/{pid}").exists()
                     and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()]
    assert still_running == []


@pytest.mark.slow
def test_two_sigterms_50_ms_apart_to_make_run_leave_no_process_of_the_stack_and_every_port_free(tmp_path):
    # make passes a SIGTERM on to bin/run as well: bin/run gets three, the last two during its clean-up.
    with running_make_run(tmp_path) as run:
        assert len(run.stack) >= 6, run.stack  # bin/run, workers, beat, listener, nginx, gunicorn and children
        os.killpg(run.make.pid, signal.SIGTERM)
        time.sleep(0.05)
        os.killpg(run.make.pid, signal.SIGTERM)
        run.make.wait(timeout=90)
        left, ports = run.running(), run.ports()  # at once: a stop waits for every process it stops

    assert left == {}, run.log()
    assert [port for port in ports if not port_free(port)] == []
    assert "Traceback" not in run.log()

"""`make run` as an operator starts it, for tests: every process of the stack, on free loopback ports.

    with running_make_run(tmp_path) as run:
        urlopen(run.url("/healthz")); run.stack        # {pid: start time} of every process it started

`make` runs in a session of its own, so `os.killpg(run.make.pid, SIGTERM)` is what a terminal or
a service manager sends. At exit, whatever is still running (`make`, or a process of the stack
that a failed stop left behind) is killed, so a failing test leaves nothing behind either.
"""

import json
import os
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .dicomnet import port_open
from .stack import BASE_DIR, free_port, wait_for

DEMO_PASSWORD = "violet-harbour-lantern-42"
LOCAL_REDIS_PORT = 6390  # bin/run's own Redis, when no other answers there


def get(url: str, *, timeout: float, headers: dict | None = None) -> tuple[int, bytes] | None:
    """(status, body) of a GET, any status; None if no answer came within `timeout`."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return None


def start_time(pid: int) -> str | None:
    """The process's start time (field 22 of /proc/PID/stat), None once it is gone or a zombie:
    a pid with another start time is a new process that reused the number."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def descendants(pid: int) -> set[int]:
    rows = [tuple(map(int, line.split())) for line in
            subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout.splitlines()]
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in rows if parent in frontier} - found
        found |= frontier
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@dataclass
class MakeRun:
    make: subprocess.Popen
    port: int
    dicom_port: int
    log_path: Path
    stack: dict[int, str] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def ports(self) -> list[int]:
        """The loopback ports the stack listens on: the web server, the DICOM listener and bin/run's
        own Redis when it started one."""
        redis = [LOCAL_REDIS_PORT] if any("redis-server" in command_line(pid) for pid in self.stack) else []
        return [self.port, self.dicom_port, *redis]

    def running(self) -> dict[int, str]:
        """The stack's processes still alive (not zombies), with their command lines."""
        return {pid: command_line(pid) for pid, started in self.stack.items() if start_time(pid) == started}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "in use"
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


@contextmanager
def running_make_run(directory: Path, *, timeout: float = 180):
    """`make run` with its data in `directory`, until /healthz says a worker answers and the DICOM
    listener accepts connections. The tests run after `make setup`: `-o` keeps make from
    reinstalling the virtual environment the tests themselves run in."""
    port, dicom_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL", "HTTPS", "REDIS_URL")}
    env.update(PORT=str(port), CXR_DATA_DIR=str(directory), CXR_DEMO_PASSWORD=DEMO_PASSWORD,
               CXR_DICOM_PORT=str(dicom_port))
    log_path = directory / "make-run.log"
    with log_path.open("wb") as log:
        make = subprocess.Popen(["make", "--no-print-directory", "-o", ".venv/.installed", "run"], cwd=BASE_DIR,
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    run = MakeRun(make=make, port=port, dicom_port=dicom_port, log_path=log_path)
    try:
        wait_for(lambda: _up(run), timeout=timeout, interval=0.5, what=f"make run (log: {log_path})")
        run.stack = {pid: start_time(pid) for pid in descendants(make.pid)}
        yield run
    finally:
        if make.poll() is None:  # the test failed before it stopped the stack: stop it as Ctrl-C would
            run.stack.update({pid: start_time(pid) for pid in descendants(make.pid) if pid not in run.stack})
            os.killpg(make.pid, signal.SIGINT)
            try:
                make.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(make.pid, signal.SIGKILL)
                make.wait(10)
        for pid in run.running():
            os.kill(pid, signal.SIGKILL)


def _up(run: MakeRun) -> bool:
    if run.make.poll() is not None:
        raise RuntimeError(f"make run exited; log:\n{run.log()}")
    answer = get(run.url("/healthz"), timeout=2)
    return bool(answer and answer[0] == 200 and json.loads(answer[1])["worker"] and port_open(run.dicom_port))

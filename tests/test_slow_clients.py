"""The web server as `make run` starts it keeps answering while slow clients trickle uploads in."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from cxrsite.testing.stack import free_port, wait_for

REPO = Path(__file__).resolve().parent.parent
# Any 32 letters: with a CSRF cookie, Django reads the whole form body before it answers.
CSRF_COOKIE = "csrftoken=" + "a" * 32


@contextmanager
def web_server(data_dir: Path):
    """gunicorn with the project's configuration, as bin/run starts it, on a free loopback port."""
    port = free_port()
    env = {**os.environ, "CXR_DATA_DIR": str(data_dir), "REDIS_URL": "redis://127.0.0.1:9/0"}  # no Redis: fast 503
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(REPO / "cxrsite" / "gunicorn.conf.py"), "cxrsite.wsgi",
         "--bind", f"127.0.0.1:{port}"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: health(port, timeout=1) is not None, timeout=60, what="gunicorn")
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def health(port: int, *, timeout: float) -> bytes | None:
    """The /healthz body (200 or 503: either is an answer), or None if none came within `timeout`."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        return error.read()
    except OSError:
        return None


def trickling_upload(port: int) -> socket.socket:
    """A form post announcing 100 kB, of which the client sends a few bytes at a time."""
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.sendall(f"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {CSRF_COOKIE}\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"
                   "username=".encode())
    return client


@pytest.mark.slow
def test_health_answers_within_a_second_while_two_uploads_trickle_in_at_10_bytes_per_second(tmp_path):
    with web_server(tmp_path) as port, ExitStack() as slow_clients:
        uploads = [slow_clients.enter_context(trickling_upload(port)) for _ in range(2)]
        deadline = time.monotonic() + 3  # both uploads are being read by the server by now
        while time.monotonic() < deadline:
            for upload in uploads:
                upload.sendall(b"x")
            time.sleep(0.1)

        started = time.monotonic()
        body = health(port, timeout=1)
        elapsed = time.monotonic() - started
        for upload in uploads:
            upload.sendall(b"x")  # still connected and being read: the server did not just drop them

    assert body is not None and b'"database": true' in body, f"no answer from /healthz within 1 s ({elapsed:.1f} s)"

"""The web server keeps answering while slow clients trickle uploads in: gunicorn alone with two, and the
whole stack as `make run` starts it (nginx in front) with sixty-four."""

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.test import RequestFactory

from cxrsite.middleware import address_from_local_proxy
from cxrsite.testing.makerun import DEMO_PASSWORD, get, running_make_run
from cxrsite.testing.stack import free_port, wait_for

REPO = Path(__file__).resolve().parent.parent
# Any 32 letters: with a CSRF cookie, Django reads the whole form body before it answers.
CSRF_COOKIE = "csrftoken=" + "a" * 32


@contextmanager
def web_server(data_dir: Path):
    """gunicorn with the project's configuration alone, on a free loopback port."""
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


def trickling_upload(port: int, *, length: int = 100000) -> socket.socket:
    """A form post announcing `length` bytes, of which the client sends a few at a time."""
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    client.sendall(f"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {CSRF_COOKIE}\r\n"
                   f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n"
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


def signed_in(run) -> urllib.request.OpenerDirector:
    """A browser-like client signed in as demo_staff (cookies kept)."""
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with browser.open(run.url("/accounts/login/"), timeout=10) as page:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.read().decode())[1]
    form = {"username": "demo_staff", "password": DEMO_PASSWORD, "csrfmiddlewaretoken": token}
    with browser.open(run.url("/accounts/login/"), data=urlencode(form).encode(), timeout=10) as home:
        assert home.url != run.url("/accounts/login/"), "demo_staff could not sign in"
    return browser


def pages_not_answered_within_a_second(run, browser) -> list[str]:
    """The pages a user and a load balancer check, each given one second to answer in full."""
    missing = []
    for path, expected in (("/healthz", b'"database": true'), ("/accounts/login/", b'name="password"')):
        answer = get(run.url(path), timeout=1)
        if answer is None or expected not in answer[1]:
            missing.append(path)
    try:
        with browser.open(run.url("/cases/"), timeout=1) as case_list:
            if b">Cases</h1>" not in case_list.read():
                missing.append("/cases/")
    except OSError:
        missing.append("/cases/")
    return missing


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    with running_make_run(tmp_path_factory.mktemp("make-run")) as running:
        yield running


@pytest.mark.slow
def test_health_login_and_case_list_answer_within_a_second_while_64_uploads_trickle_in_at_1_byte_per_second(run):
    remaining = b"slowclient"  # the rest of the body after "username=", one byte a second: ten seconds
    with ExitStack() as slow_clients:
        browser = signed_in(run)
        uploads = [slow_clients.enter_context(trickling_upload(run.port, length=len(b"username=") + len(remaining)))
                   for _ in range(64)]
        not_answered, started = [], time.monotonic()
        for second, byte in enumerate(remaining):
            for upload in uploads:
                upload.sendall(bytes([byte]))
            not_answered += pages_not_answered_within_a_second(run, browser)
            time.sleep(max(0.0, started + second + 1 - time.monotonic()))
        replies = [upload.recv(64) for upload in uploads]  # each body now complete: each is answered

    assert not_answered == []
    # Passed on whole and answered (403: the form carries no CSRF token), none dropped on the way.
    assert [reply.split(b"\r\n")[0] for reply in replies] == [b"HTTP/1.1 403 Forbidden"] * 64


def test_behind_our_proxy_the_client_address_is_the_one_nginx_saw_and_over_tcp_it_cannot_be_claimed():
    seen = []
    middleware = address_from_local_proxy(lambda request: seen.append(request.META["REMOTE_ADDR"]))
    factory = RequestFactory()

    middleware(factory.get("/", REMOTE_ADDR="", HTTP_X_REAL_IP="203.0.113.9"))  # gunicorn's Unix socket
    middleware(factory.get("/", REMOTE_ADDR="198.51.100.4", HTTP_X_REAL_IP="203.0.113.9"))  # TCP, header forged

    assert seen == ["203.0.113.9", "198.51.100.4"]


@pytest.mark.slow
def test_an_upload_far_over_the_limit_is_refused_by_the_proxy_with_a_page_that_says_so(run):
    browser = signed_in(run)
    too_large = urllib.request.Request(run.url("/cases/new/"), data=b"x" * (28 * 1024 * 1024), method="POST",
                                       headers={"Content-Type": "application/octet-stream"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        browser.open(too_large, timeout=30)

    assert refused.value.code == 413 and refused.value.headers["Content-Type"].startswith("text/html")
    text = " ".join(refused.value.read().decode().split())
    assert "The file is too large" in text and "Files of up to 25.0 MB are accepted" in text

"""The new-case form over a poor link, in Chromium with network emulation: the film goes up in one
resumable request (the server keeps what came), an upload cut part-way goes on by itself when the link
is back, a reload resumes from the server's offset, and each submission files exactly one case.

DevTools' emulation paces the upload and tells the page it is offline, but does not cut a request
already sending; the cut itself is made by a relay (cxrsite.testing.link) that closes the connection."""

import hashlib
import time

import pytest
from django.urls import reverse
from playwright.sync_api import expect, sync_playwright

from cases.models import Case, Upload
from cxrsite.testing.images import png_bytes
from cxrsite.testing.link import Link
from tests.test_browser_journey import CHROMIUM_ARGS, Watcher, log_in

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True)]
UPLOAD_BYTES_PER_SECOND = 200_000  # about 1.6 Mbit/s: a 1.8 MB film takes some 9 s


@pytest.fixture
def film(tmp_path):
    path = tmp_path / "chest.png"
    path.write_bytes(png_bytes(1600, seed=7))
    return path


@pytest.fixture
def browser(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def slow_link(page):
    """A DevTools session that makes the page's network a slow link (`cut` and `restore` it with `link`)."""
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    link(session, up=True)
    return session


def link(session, *, up: bool) -> None:
    session.send("Network.emulateNetworkConditions", {
        "offline": not up, "latency": 50, "downloadThroughput": -1, "uploadThroughput": UPLOAD_BYTES_PER_SECOND})


def fill_in(page, site: str, film, mrn: str) -> None:
    page.goto(site + reverse("cases:case_new"))
    page.get_by_label("Patient number (MRN)").fill(mrn)
    page.get_by_label("Age (years)").fill("40")
    page.get_by_label("View").select_option("PA")
    page.get_by_label("Chest X-ray (PNG, JPEG or DICOM)").set_input_files(str(film))


def percent_sent(page) -> float:
    return page.locator("#upload-status progress").evaluate("bar => bar.value")


def wait_until(condition, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_an_upload_cut_at_40_percent_goes_on_by_itself_and_files_exactly_one_case(
        live_server, clinic, staff, film, browser):
    relay = Link(int(live_server.url.rsplit(":", 1)[1]))
    site = f"http://localhost:{relay.port}"
    page = browser.new_page()
    watcher = Watcher(page)
    log_in(page, site, staff.username)
    fill_in(page, site, film, "LINK-1")
    session = slow_link(page)
    page.get_by_role("button", name="Submit case").click()

    wait_until(lambda: percent_sent(page) >= 40, timeout=60, what="40 % sent")
    link(session, up=False)
    relay.cut()
    expect(page.locator("#upload-text")).to_contain_text("the upload goes on by itself", timeout=30_000)
    # The server keeps the bytes that came before the cut (it sees the connection end, in its own time).
    wait_until(lambda: Upload.objects.get().offset > 0, timeout=30, what="the server to keep the bytes that came")
    kept = Upload.objects.get().offset
    assert 0 < kept < film.stat().st_size and Case.objects.count() == 0
    patches = []
    page.on("request", lambda request: request.method == "PATCH" and patches.append(
        int(request.headers["upload-offset"])))

    relay.restore()
    link(session, up=True)
    expect(page.get_by_text("Case submitted.")).to_be_visible(timeout=60_000)
    case = Case.objects.get()
    assert page.url.endswith(reverse("cases:case_detail", args=[case.public_id]))
    assert (case.patient.mrn, case.submitted_by, case.view) == ("LINK-1", staff, "PA")
    assert Upload.objects.count() == 1 and Upload.objects.get().case == case
    assert patches and patches[0] >= kept  # the rest, from where the server was: not the film again
    # The page sent the film's SHA-256, which the server checked once the film was whole.
    assert Upload.objects.get().metadata["sha256"] == hashlib.sha256(film.read_bytes()).hexdigest()

    page.goto(site + reverse("cases:outbox"))
    row = page.locator("[data-outbox] tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_have_attribute("data-state", "filed")
    expect(row.get_by_role("link", name="Open the case")).to_have_attribute(
        "href", reverse("cases:case_detail", args=[case.public_id]))
    # The cut itself shows as failed requests in the console; nothing else may go wrong.
    assert [problem for problem in watcher.problems if not any(
        cut in problem for cut in ("ERR_INTERNET_DISCONNECTED", "ERR_CONNECTION_RESET", "ERR_EMPTY_RESPONSE",
                                   "ERR_CONNECTION_CLOSED", "ERR_CONNECTION_REFUSED", "ERR_SOCKET_NOT_CONNECTED"))] == []


def test_a_reload_mid_upload_resumes_from_the_servers_offset_when_the_same_file_is_chosen(
        live_server, clinic, staff, film, browser, settings):
    # The film goes in one request: the server records its offset at checkpoints while it arrives.
    settings.CXR_UPLOAD_CHECKPOINT_BYTES, settings.CXR_UPLOAD_CHECKPOINT_SECONDS = 256 * 1024, 1
    page = browser.new_page()
    log_in(page, live_server.url, staff.username)
    fill_in(page, live_server.url, film, "LINK-2")
    slow_link(page)
    page.get_by_role("button", name="Submit case").click()
    wait_until(lambda: Upload.objects.filter(offset__gt=0).exists(), timeout=60, what="some bytes on the server")

    page.reload()
    kept = Upload.objects.get().offset
    patches = []
    page.on("request", lambda request: request.method == "PATCH" and patches.append(
        int(request.headers["upload-offset"])))
    page.get_by_label("Patient number (MRN)").fill("LINK-2")
    page.get_by_label("Age (years)").fill("40")
    page.get_by_label("View").select_option("PA")
    page.get_by_label("Chest X-ray (PNG, JPEG or DICOM)").set_input_files(str(film))
    page.get_by_role("button", name="Submit case").click()

    expect(page.get_by_text("Case submitted.")).to_be_visible(timeout=60_000)
    assert patches and patches[0] >= kept > 0  # from where the server was, not from the start
    assert Case.objects.count() == 1 and Upload.objects.count() == 1


def stored_keys(page) -> list[str]:
    return page.evaluate("() => Object.keys(window.localStorage).filter(k => k === 'cxr-outbox' || k.startsWith('tus::'))")


def test_logging_out_with_an_unsent_film_warns_and_then_removes_it_from_the_browser(
        live_server, clinic, staff, film, browser):
    relay = Link(int(live_server.url.rsplit(":", 1)[1]))
    site = f"http://localhost:{relay.port}"
    page = browser.new_page()
    log_in(page, site, staff.username)
    fill_in(page, site, film, "LINK-3")
    session = slow_link(page)
    page.get_by_role("button", name="Submit case").click()
    wait_until(lambda: percent_sent(page) >= 20, timeout=60, what="20 % sent")
    link(session, up=False)
    relay.cut()
    expect(page.locator("#upload-text")).to_contain_text("the upload goes on by itself", timeout=30_000)
    relay.restore()
    link(session, up=True)  # the link is back for the logout itself; the upload waits a few seconds more
    assert sorted(stored_keys(page))[0] == "cxr-outbox" and len(stored_keys(page)) == 2  # the outbox and tus's entry
    warnings = []

    page.once("dialog", lambda dialog: (warnings.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Log out").click()
    assert warnings and "1 film has not been sent yet" in warnings[0]
    assert page.url.endswith(reverse("cases:case_new")) and len(stored_keys(page)) == 2  # staying: nothing removed

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()
    assert stored_keys(page) == []


def test_a_case_captured_with_no_link_waits_in_the_browser_and_is_filed_once_when_the_link_is_back(
        live_server, clinic, staff, tmp_path, browser):
    # The link is a relay to the server that can be cut: the browser then reaches nothing, as at a clinic
    # whose line is down (DevTools' offline mode would also hide the server from the service worker's tests).
    link = Link(int(live_server.url.rsplit(":", 1)[1]))
    site = f"http://localhost:{link.port}"
    small = tmp_path / "small.png"
    small.write_bytes(png_bytes(300, seed=9))
    context = browser.new_context()
    page = context.new_page()
    watcher = Watcher(page)
    log_in(page, site, staff.username)
    page.goto(site + reverse("cases:case_new"))
    kept_form = ("async () => { const kept = await caches.match('%s'); return !!navigator.serviceWorker.controller "
                 "&& !!kept && (await kept.text()).includes('data-case-form'); }" % reverse("cases:case_new"))
    wait_until(lambda: page.evaluate(kept_form), timeout=30, what="the service worker to keep the form")
    link.cut()
    page.goto(site + reverse("cases:case_new"))  # the form opens with no link, from the kept copy
    page.get_by_label("Patient number (MRN)").fill("OFFLINE-1")
    page.get_by_label("Age (years)").fill("33")
    page.get_by_label("View").select_option("PA")
    page.get_by_label("Chest X-ray (PNG, JPEG or DICOM)").set_input_files(str(small))
    page.get_by_role("button", name="Submit case").click()
    expect(page.locator("#upload-text")).to_contain_text("kept in this browser", timeout=30_000)
    expect(page.get_by_label("Patient number (MRN)")).to_have_value("")  # ready for the next case
    page.goto(site + reverse("cases:outbox"))
    expect(page.locator("[data-outbox] tbody tr")).to_have_attribute("data-state", "queued")
    assert Case.objects.count() == 0

    link.restore()
    page.goto(site + reverse("cases:case_new"))  # the page sends what waits
    wait_until(lambda: page.evaluate("() => Object.values(cxrOutbox.all()).every(entry => entry.state === 'filed')"),
               timeout=30, what="the captured case to be filed")
    page.goto(site + reverse("cases:outbox"))
    expect(page.locator("[data-outbox] tbody tr")).to_have_attribute("data-state", "filed")
    assert page.evaluate("() => window.cxrOffline.all()") == []
    page.goto(site + reverse("cases:case_new"))
    page.wait_for_timeout(1000)  # a second page open with the link up finds nothing left to send
    case = Case.objects.get()
    assert (case.patient.mrn, case.submitted_by) == ("OFFLINE-1", staff)
    assert [problem for problem in watcher.problems if "ERR_" not in problem] == []
    context.close()

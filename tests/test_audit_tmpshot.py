import os
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
import pytest
from playwright.sync_api import sync_playwright
from cases.audit import record
from tests.review_data import make_case
from tests.test_audit_oversight import example  # noqa


@pytest.mark.django_db(transaction=True)
def test_shot(live_server, administrator, clinic, staff, example):
    case = make_case(clinic, staff, mrn="MRN-SHOT")
    record(action="image_viewed", actor=staff, case=case, details={"kind": "display"})
    case.notes = "called back"; case.save()
    from django.test import Client
    c = Client(); c.force_login(administrator)
    cookie = c.cookies["sessionid"].value
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"])
        ctx = b.new_context(viewport={"width": 1300, "height": 900})
        ctx.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
        page = ctx.new_page()
        for name, path in [("events", "/audit/"), ("timeline", f"/audit/cases/{case.public_id}/"), ("oversight", "/audit/oversight/")]:
            page.goto(live_server.url + path)
            page.screenshot(path=f"/tmp/audit_{name}.png", full_page=True)
        b.close()

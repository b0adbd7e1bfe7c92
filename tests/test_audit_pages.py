"""The audit section: only administrators get in; filters, CSV export and the case timeline."""

import csv
import io
import json
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.audit.actors import Actor
from cases.audit.services import record
from cases.models import AuditEvent
from tests.factories import make_case


@pytest.fixture
def case(clinic, staff):
    return make_case(clinic, staff, mrn="MRN-77", symptoms="cough")


def audit_urls(case) -> list[str]:
    return [
        reverse("audit:events"),
        reverse("audit:export"),
        reverse("audit:timeline", args=[case.public_id]),
        reverse("audit:oversight"),
        reverse("audit:oversight_chart"),
        reverse("audit:oversight_clinics"),
        reverse("audit:operating_points"),
    ]


@pytest.mark.parametrize("role", ["staff", "radiologist"])
def test_staff_and_radiologists_are_refused_every_audit_page(client, request, role, case):
    client.force_login(request.getfixturevalue(role))
    assert [client.get(url).status_code for url in audit_urls(case)] == [403] * 7
    assert not AuditEvent.objects.filter(action="audit_exported").exists()


def test_anonymous_visitors_are_sent_to_the_login_page(client, case):
    for url in audit_urls(case):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_an_administrator_sees_every_audit_page(client, administrator, case):
    client.force_login(administrator)
    assert [client.get(url).status_code for url in audit_urls(case)] == [200] * 7


def test_audit_pages_refuse_posts(client, administrator, case):
    client.force_login(administrator)
    assert client.post(reverse("audit:events")).status_code == 405


def test_the_event_list_filters_by_user_action_clinic_case_and_day(client, administrator, case, staff,
                                                                    other_clinic, other_staff):
    record("image_viewed", actor=Actor.of_user(staff), case=case)
    record("image_viewed", actor=Actor.of_user(other_staff), clinic=other_clinic)
    record("login_failed", actor=Actor(label="nurse"))
    client.force_login(administrator)
    today = timezone.localdate()

    def shown(**filters) -> list[tuple]:
        page = client.get(reverse("audit:events"), filters).context["page"]
        wanted = ("image_viewed", "login_failed")  # not the fixtures' user and clinic events
        return sorted((e.action, e.actor_label) for e in page.object_list if e.action in wanted)

    assert shown(user="nurse") == [("image_viewed", "nurse"), ("login_failed", "nurse")]
    assert shown(action="image_viewed") == [("image_viewed", "nurse"), ("image_viewed", "outsider")]
    assert shown(clinic=other_clinic.pk) == [("image_viewed", "outsider")]
    assert shown(case=case.public_id) == [("image_viewed", "nurse")]
    assert len(shown(since=today, until=today)) == 3
    assert shown(since=today + timedelta(days=1)) == []
    assert shown(until=today - timedelta(days=1)) == []


def test_a_malformed_filter_shows_an_error_and_no_events(client, administrator, case):
    client.force_login(administrator)
    response = client.get(reverse("audit:events"), {"case": "not-a-uuid", "since": "2026-02-02", "until": "2026-01-01"})
    assert response.status_code == 200
    assert list(response.context["page"].object_list) == []
    assert b"Enter a valid UUID" in response.content


def test_an_export_with_a_malformed_filter_is_refused_and_not_recorded(client, administrator):
    client.force_login(administrator)
    assert client.get(reverse("audit:export"), {"since": "yesterday"}).status_code == 400
    assert not AuditEvent.objects.filter(action="audit_exported").exists()


def test_the_event_list_is_paginated(client, administrator):
    AuditEvent.objects.bulk_create([AuditEvent(action="image_viewed", actor_label=f"u{i}") for i in range(120)])
    client.force_login(administrator)
    first = client.get(reverse("audit:events"), {"action": "image_viewed"}).context["page"]
    third = client.get(reverse("audit:events"), {"action": "image_viewed", "page": 3}).context["page"]
    assert (first.paginator.num_pages, len(first.object_list), len(third.object_list)) == (3, 50, 20)


def read_csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_csv_export_streams_exactly_the_filtered_events(client, administrator, clinic, other_clinic):
    AuditEvent.objects.bulk_create(
        [AuditEvent(action="image_viewed", actor_label=f"user{i}", clinic=clinic if i % 2 else other_clinic,
                    details={"n": i}) for i in range(5000)],
        batch_size=1000,
    )
    client.force_login(administrator)
    response = client.get(reverse("audit:export"), {"action": "image_viewed", "clinic": clinic.pk})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = read_csv(response)
    assert len(rows) == 2500
    assert {row["clinic"] for row in rows} == {"hillside"}
    assert sorted(json.loads(row["details"])["n"] for row in rows) == list(range(1, 5000, 2))


def test_the_export_itself_is_recorded_once_with_its_filters(client, administrator):
    client.force_login(administrator)
    response = client.get(reverse("audit:export"), {"action": "login_failed"})
    assert read_csv(response) == []  # the export's own event is not part of its output
    event = AuditEvent.objects.get(action="audit_exported")
    assert (event.actor, event.details) == (administrator, {"filters": {"action": "login_failed"}})


def test_cells_that_a_spreadsheet_would_run_as_formulas_are_defused(client, administrator):
    record("login_failed", actor=Actor(label="=HYPERLINK(\"http://evil\")"), details={"username": "x"})
    client.force_login(administrator)
    rows = read_csv(client.get(reverse("audit:export"), {"action": "login_failed"}))
    assert rows[0]["actor"] == "'=HYPERLINK(\"http://evil\")"


def test_the_case_timeline_shows_each_change_once_in_time_order(client, administrator, case, staff):
    record("image_viewed", actor=Actor.of_user(staff), case=case)
    case.symptoms = "cough, fever"
    case.save()
    case.patient.birth_year = 1955
    case.patient.save()
    client.force_login(administrator)
    entries = client.get(reverse("audit:timeline", args=[case.public_id])).context["entries"]
    assert [entry.what for entry in entries] == ["image_viewed", "case_edited", "case_edited"]
    assert [entry.time for entry in entries] == sorted(entry.time for entry in entries)
    case_change, patient_change = entries[1].details, entries[2].details
    assert (case_change["model"], case_change["changes"]) == (
        "case", {"symptoms": {"before": "cough", "after": "cough, fever"}})
    assert (patient_change["model"], patient_change["changes"]) == ("patient", {"birth_year": {"before": 1970, "after": 1955}})


def test_an_admin_edit_of_a_case_appears_once_in_its_timeline(client, administrator, case):
    from django.contrib.auth.models import User

    superuser = User.objects.create_superuser("root", password="x-long-enough-9")
    client.force_login(superuser)
    change = reverse("admin:cases_case_change", args=[case.pk])
    form = client.get(change).context["adminform"].form
    data = {**{name: form.initial.get(name) for name in ("notes",)}, "notes": "corrected by the clinic",
            "urgent": "on", "_save": "Save"}
    for prefix in ("predictions", "reviews"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    assert client.post(change, data).status_code == 302
    client.force_login(administrator)
    entries = client.get(reverse("audit:timeline", args=[case.public_id])).context["entries"]
    edits = [entry for entry in entries if entry.what == "case_edited"]
    assert len(entries) == len(edits) == 1
    assert edits[0].actor == "root"
    assert edits[0].details["changes"] == {"notes": {"before": "", "after": "corrected by the clinic"},
                                           "urgent": {"before": False, "after": True}}


def test_the_timeline_of_an_unknown_case_is_not_found(client, administrator):
    client.force_login(administrator)
    assert client.get(reverse("audit:timeline", args=[uuid.uuid4()])).status_code == 404


def test_only_administrators_see_the_audit_links_in_the_navigation(client, administrator, staff):
    client.force_login(administrator)
    assert reverse("audit:events").encode() in client.get(reverse("cases:case_list")).content
    client.force_login(staff)
    assert reverse("audit:events").encode() not in client.get(reverse("cases:case_list")).content


def test_event_details_read_as_key_value_lines_not_python_dict_text(client, administrator, case):
    record("login_failed", actor=Actor(label="someone"), case=case,
           details={"username": "someone", "filters": {"action": "login_failed", "clinic": ""}})
    client.force_login(administrator)
    for url in (reverse("audit:events"), reverse("audit:timeline", args=[case.public_id])):
        page = client.get(url).content.decode()
        assert "{&#x27;" not in page and "{'" not in page, url
        assert '<span class="fw-semibold">username</span>: someone' in page, url
        assert '<span class="fw-semibold">action</span>: login_failed' in page, url
        assert '<span class="fw-semibold">clinic</span>: (empty)' in page, url

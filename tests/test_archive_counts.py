"""Archive scale (issue 31): the worklist's status tabs and the audit trail's pages count no further than
they must. A count is exact up to 1,000 and reads "1,000+" beyond; every page, however deep, is still
reached with Next and Previous."""

import re

import pytest
from django.urls import reverse

from cases.models import AuditEvent, Case
from cases.paging import COUNT_CAP
from cases.reviews.selectors import PAGE_SIZE
from tests.factories import make_case

WORKLIST = reverse("cases:worklist")
EVENTS = reverse("audit:events")


def add_cases(like: Case, status: str, n: int) -> None:
    """n more cases like `like` (same clinic and patient) in `status`, written in one go."""
    Case.objects.bulk_create(
        Case(clinic=like.clinic, patient=like.patient, submitted_by=like.submitted_by, status=status, symptoms="cough",
             image_name=like.image_name, display_name=like.display_name, image_sha256="b" * 64, image_format="PNG",
             image_width=256, image_height=256) for _ in range(n))


def tabs(client) -> dict[str, str]:
    """The figure on each status tab of the worklist, as the radiologist reads it."""
    html = client.get(WORKLIST).content.decode()
    return dict(re.findall(r'data-status="(\w+)">([^<]*)<', html))


def pages_line(html: str) -> str:
    return re.search(r"Page \d+ of \d+\+?", html).group(0)


@pytest.fixture
def first(clinic, staff):
    return make_case(clinic, staff, mrn="MRN-1", status=Case.Status.PREDICTED)


def test_a_status_tab_is_exact_up_to_the_cap_and_reads_1000_plus_beyond_it(client, first, radiologist):
    add_cases(first, Case.Status.REVIEWED, COUNT_CAP)
    add_cases(first, Case.Status.PREDICTED, 2)
    client.force_login(radiologist)
    assert tabs(client) == {"submitted": "0", "queued": "0", "classifying": "0", "predicted": "3", "failed": "0",
                            "reviewed": "1,000", "withdrawn": "0"}
    add_cases(first, Case.Status.REVIEWED, 1)
    assert tabs(client)["reviewed"] == "1,000+"
    assert tabs(client)["predicted"] == "3"


def test_the_tabs_count_only_the_clinics_the_radiologist_serves(client, first, radiologist, other_clinic,
                                                                  other_staff):
    elsewhere = make_case(other_clinic, other_staff, mrn="ELSEWHERE", status=Case.Status.PREDICTED)
    add_cases(elsewhere, Case.Status.REVIEWED, COUNT_CAP + 1)
    client.force_login(radiologist)
    assert tabs(client)["predicted"] == "1" and tabs(client)["reviewed"] == "0"


def test_every_page_of_a_queue_longer_than_the_cap_is_reached_and_the_last_says_so(client, first, radiologist):
    add_cases(first, Case.Status.PREDICTED, COUNT_CAP + 29)  # 1,030 cases: 41 full pages and 5 on the 42nd
    client.force_login(radiologist)
    one = client.get(WORKLIST)
    assert pages_line(one.content.decode()) == f"Page 1 of {COUNT_CAP // PAGE_SIZE}+"
    assert 'href="?page=2"' in one.content.decode()

    beyond = client.get(WORKLIST, {"page": 41})  # cases 1,001-1,025: past the cap
    page = beyond.context["page"]
    assert len(page.object_list) == PAGE_SIZE and page.has_previous() and page.has_next()
    assert 'href="?page=42"' in beyond.content.decode() and 'href="?page=40"' in beyond.content.decode()

    last = client.get(WORKLIST, {"page": 42})
    assert len(last.context["page"].object_list) == 5 and not last.context["page"].has_next()
    assert pages_line(last.content.decode()) == "Page 42 of 42"

    listed = set()
    for number in range(1, 43):
        listed |= {case.pk for case in client.get(WORKLIST, {"page": number}).context["page"].object_list}
    assert listed == set(Case.objects.filter(status=Case.Status.PREDICTED).values_list("pk", flat=True))


def test_a_page_asked_beyond_the_last_shows_the_last(client, first, radiologist):
    add_cases(first, Case.Status.PREDICTED, COUNT_CAP + 29)
    client.force_login(radiologist)
    page = client.get(WORKLIST, {"page": 999}).context["page"]
    assert page.number == 42 and len(page.object_list) == 5


def test_a_short_queue_keeps_its_exact_page_count(client, first, radiologist):
    add_cases(first, Case.Status.PREDICTED, 2 * PAGE_SIZE)
    client.force_login(radiologist)
    assert pages_line(client.get(WORKLIST).content.decode()) == "Page 1 of 3"


def test_the_audit_trail_beyond_the_cap_says_so_and_every_older_page_is_reached(client, administrator):
    AuditEvent.objects.bulk_create([AuditEvent(action="image_viewed", actor_label=f"u{i}") for i in range(1120)])
    client.force_login(administrator)
    query = {"action": "image_viewed"}
    first_page = client.get(EVENTS, query)
    assert pages_line(first_page.content.decode()) == f"Page 1 of {COUNT_CAP // 50}+"
    assert "Older" in first_page.content.decode() and "Newer" not in first_page.content.decode()

    seen = []
    for number in range(1, 24):
        page = client.get(EVENTS, {**query, "page": number}).context["page"]
        seen += [event.pk for event in page.object_list]
        assert page.has_next() == (number < 23)
    assert len(seen) == len(set(seen)) == 1120
    last = client.get(EVENTS, {**query, "page": 23})
    assert pages_line(last.content.decode()) == "Page 23 of 23" and "Older" not in last.content.decode()


def test_a_queue_past_the_cap_costs_page_one_no_more_queries_than_a_short_one(client, first, radiologist,
                                                                                django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(radiologist)
    with CaptureQueriesContext(connection) as short:
        client.get(WORKLIST)
    add_cases(first, Case.Status.PREDICTED, COUNT_CAP + 29)
    with django_assert_max_num_queries(len(short)):
        assert pages_line(client.get(WORKLIST).content.decode()) == f"Page 1 of {COUNT_CAP // PAGE_SIZE}+"
    with django_assert_max_num_queries(len(short) + 1):  # past the cap: one count, up to the page after
        assert len(client.get(WORKLIST, {"page": 41}).context["page"].object_list) == PAGE_SIZE

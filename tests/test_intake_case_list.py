"""The case list: newest first, paginated, searchable by MRN and filterable by status."""

import re
from datetime import timedelta

from django.urls import reverse

from cases.intake.views import CASES_PER_PAGE
from cases.models import Case
from tests.factories import make_case

LIST = reverse("cases:case_list")


def listed(client, **query) -> list[str]:
    return [case.patient.mrn for case in client.get(LIST, query).context["page"].object_list]


def test_cases_are_listed_newest_first(client, clinic, staff):
    for days, mrn in ((3, "OLD"), (1, "NEW"), (2, "MID")):
        make_case(clinic, staff, mrn=mrn, age=timedelta(days=days))
    client.force_login(staff)
    assert listed(client) == ["NEW", "MID", "OLD"]


def test_the_list_is_paginated_and_the_filter_is_kept_across_pages(client, clinic, staff):
    for i in range(CASES_PER_PAGE + 2):
        make_case(clinic, staff, mrn=f"P-{i:03d}", age=timedelta(minutes=i), status=Case.Status.QUEUED)
    make_case(clinic, staff, mrn="P-REVIEWED", status=Case.Status.REVIEWED)
    client.force_login(staff)
    first = client.get(LIST, {"status": "queued"})
    assert len(first.context["page"].object_list) == CASES_PER_PAGE
    assert 'href="?status=queued&amp;page=2"' in first.content.decode()
    assert listed(client, status="queued", page=2) == ["P-025", "P-026"]


def test_search_by_mrn_finds_a_patients_cases(client, clinic, staff):
    make_case(clinic, staff, mrn="H-1001")
    make_case(clinic, staff, mrn="H-2002")
    client.force_login(staff)
    assert listed(client, mrn=" 1001 ") == ["H-1001"]
    assert "No cases match this filter." in client.get(LIST, {"mrn": "nobody"}).content.decode()


def test_the_status_filter_shows_only_that_status(client, clinic, staff):
    make_case(clinic, staff, mrn="WAITING", status=Case.Status.QUEUED)
    make_case(clinic, staff, mrn="DONE", status=Case.Status.REVIEWED)
    client.force_login(staff)
    assert listed(client, status="reviewed") == ["DONE"]
    assert sorted(listed(client, status="not-a-status")) == ["DONE", "WAITING"]


def test_search_never_reaches_another_clinics_patients(client, clinic, other_clinic, staff, other_staff):
    make_case(other_clinic, other_staff, mrn="H-1001")
    client.force_login(staff)
    assert listed(client, mrn="H-1001") == []


def test_the_list_shows_each_cases_ai_suggestion_and_final_finding(client, clinic, staff, radiologist):
    from cases.audit.actors import Actor
    from cases.reviews.services import sign_review
    from tests.factories import predicted_case

    make_case(clinic, staff, mrn="WAITING", age=timedelta(hours=3))
    predicted_case(clinic, staff, "covid", mrn="SUGGESTED", age=timedelta(hours=2))
    reviewed, _ = predicted_case(clinic, staff, "normal", mrn="SIGNED", age=timedelta(hours=1))
    sign_review(case=reviewed, reviewer=radiologist, finding="viral_pneumonia", note="Patchy opacities",
                actor=Actor.of_user(radiologist))
    client.force_login(staff)
    page = client.get(LIST).content.decode()
    assert '<th scope="col">AI suggestion</th><th scope="col">Final finding</th>' in page
    suggestions = re.findall(r'data-testid="case-suggestion">([^<]*)<', page)
    finals = re.findall(r'data-testid="case-final">(?:<strong>)?([^<]*)<', page)
    assert suggestions == ["Normal", "Viral-pattern pneumonia", "—"]  # an adult's COVID-19 call (issue 27)
    assert finals == ["Viral Pneumonia", "not reviewed", "not reviewed"]

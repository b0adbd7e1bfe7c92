"""Every time a page shows carries its time zone ("2026-12-01 10:55 UTC"), on every page that shows one."""

import re

import pytest
from django.urls import reverse

from cases.audit.actors import Actor
from cases.reviews.services import sign_review
from tests.factories import predicted_case

TIME = re.compile(r"\b\d{4}-\d\d-\d\d \d\d:\d\d(?::\d\d)?(?! ?[-\d])( [A-Z]{2,5}\b|[+-]\d\d)?")


@pytest.fixture
def reviewed(clinic, staff, radiologist):
    case, _ = predicted_case(clinic, staff, "covid", mrn="ZONE-1")
    sign_review(case=case, reviewer=radiologist, finding="covid", note="", actor=Actor.of_user(radiologist))
    predicted_case(clinic, staff, "normal", mrn="ZONE-1")  # an earlier-cases entry on each page
    return case


def zones_on(client, user, urls) -> dict[str, list[str]]:
    client.force_login(user)
    return {url: [zone for zone in TIME.findall(client.get(url).content.decode())] for url in urls}


@pytest.mark.parametrize("zone, abbreviation", [("UTC", "UTC"), ("Europe/Paris", "CET")])
def test_every_time_on_every_page_carries_the_zone(client, settings, staff, radiologist, administrator, reviewed,
                                                   zone, abbreviation):
    settings.TIME_ZONE = zone
    pages = {
        staff: [reverse("cases:case_list"), reverse("cases:case_detail", args=[reviewed.public_id]),
                reverse("cases:report", args=[reviewed.public_id])],
        radiologist: [reverse("cases:worklist") + "?status=all", reverse("cases:review", args=[reviewed.public_id])],
        administrator: [reverse("audit:events"), reverse("audit:timeline", args=[reviewed.public_id])],
    }
    for user, urls in pages.items():
        for url, zones in zones_on(client, user, urls).items():
            assert zones, f"{url} shows no time"
            assert set(zones) == {" " + abbreviation}, (url, zones)

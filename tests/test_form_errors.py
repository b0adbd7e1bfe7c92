"""Form errors a screen reader can find: each field's error is the element its aria-describedby names,
the new-case form leads with an error summary and says "Error:" in the title, and a failed log-in is an alert."""

import re

import pytest
from django.urls import reverse

from cases.audit.actors import Actor
from cases.reviews.services import sign_review
from tests.conftest import PASSWORD
from tests.factories import predicted_case


def described_errors(page: str) -> dict[str, str]:
    """For each element with aria-invalid, the text of the elements its aria-describedby names."""
    found = {}
    for tag in re.findall(r"<(?:input|select|textarea|fieldset)\b[^>]*>", page):
        if 'aria-invalid="true"' not in tag and "aria-describedby" not in tag or 'type="radio"' in tag:
            continue  # a radio group's error describes its fieldset
        name = re.search(r'(?:name|id)="([^"]+)"', tag).group(1)
        ids = re.search(r'aria-describedby="([^"]+)"', tag)
        assert ids, f"{name} is invalid but names no description"
        texts = []
        for id_ in ids.group(1).split():
            element = re.search(rf'<[^>]+\bid="{re.escape(id_)}"[^>]*>(.*?)</', page, re.S)
            assert element, f"{name}: aria-describedby names #{id_}, which is not on the page"
            texts.append(re.sub(r"<[^>]+>|\s+", " ", element.group(1)).strip())
        found[name] = " ".join(texts)
    return found


def test_worklist_filter_errors_are_tied_to_their_fields(client, radiologist):
    client.force_login(radiologist)
    page = client.get(reverse("cases:worklist"), {"submitted_from": "not-a-date"}).content.decode()
    assert described_errors(page) == {"submitted_from": "Enter a valid date."}


@pytest.mark.parametrize("query, field, message", [
    ({"case": "not-a-uuid"}, "case", "Enter a valid UUID."),
    ({"since": "yesterday"}, "since", "Enter a valid date."),
])
def test_audit_filter_errors_are_tied_to_their_fields(client, administrator, query, field, message):
    client.force_login(administrator)
    page = client.get(reverse("audit:events"), query).content.decode()
    assert described_errors(page) == {field: message}


def test_an_audit_filter_error_of_the_whole_form_is_an_alert(client, administrator):
    client.force_login(administrator)
    page = client.get(reverse("audit:events"), {"since": "2026-02-01", "until": "2026-01-01"}).content.decode()
    assert re.search(r'role="alert">The start date is after the end date\.<', page)


def test_amend_form_errors_are_tied_to_their_fields(client, clinic, staff, radiologist):
    case, _ = predicted_case(clinic, staff, "covid")
    review = sign_review(case=case, reviewer=radiologist, finding="covid", note="", actor=Actor.of_user(radiologist))
    client.force_login(radiologist)
    response = client.post(reverse("cases:amend", args=[case.public_id]), {"review": review.pk, "note": "x"})
    assert response.status_code == 400
    page = response.content.decode()
    assert described_errors(page) == {"finding": "This field is required.", "reason": "This field is required."}
    assert "The amendment was not signed" in page


def test_a_new_case_sent_back_leads_with_an_error_summary_and_says_error_in_the_title(client, staff):
    client.force_login(staff)
    page = client.post(reverse("cases:case_new"), {"sex": "F"}).content.decode()
    assert re.search(r"<title>Error: New case", page)
    summary = re.search(r'<div class="alert alert-danger[^"]*" id="error-summary" tabindex="-1" data-error-summary.*?</div>',
                        page, re.S).group(0)
    assert '<a class="alert-link" href="#id_image">Chest X-ray (PNG, JPEG or DICOM): This field is required.</a>' in summary
    assert 'id="id_image_error"' in page  # what the file input's aria-describedby names


def test_a_failed_log_in_is_announced_as_an_alert(client, staff):
    page = client.post(reverse("login"), {"username": staff.username, "password": PASSWORD + "x"}).content.decode()
    assert re.search(r"<title>Error: Log in", page)
    alert = re.search(r'<div class="alert alert-block alert-danger" role="alert">(.*?)</div>', page, re.S)
    assert "Please enter a correct username and password" in alert.group(1)

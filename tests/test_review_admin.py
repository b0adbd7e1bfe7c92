"""The case admin tells the same truth as the review pages, and radiologists can confirm in bulk."""

import pytest
from django.contrib.admin import helpers
from django.urls import reverse

from cases.access import RADIOLOGIST_GROUP
from cases.models import AuditEvent, Case, Review
from cases.reviews.services import sign_review
from tests.conftest import make_user
from tests.factories import make_case, predicted_case

CHANGELIST = reverse("admin:cases_case_changelist")


@pytest.fixture
def admin_radiologist(clinic):
    return make_user("admin_radiologist", RADIOLOGIST_GROUP, clinic, is_staff=True)


def listed(client, **query) -> list[str]:
    response = client.get(CHANGELIST, query)
    assert response.status_code == 200
    return sorted(case.patient.mrn for case in response.context["cl"].result_list)


def test_the_case_list_shows_suggestion_confidence_and_final_finding(client, clinic, staff, radiologist,
                                                                    administrator):
    case, _ = predicted_case(clinic, staff, "covid", mrn="H-1")
    sign_review(case=case, reviewer=radiologist, finding="normal", note="Clear")
    client.force_login(administrator)
    page = client.get(CHANGELIST).content.decode()
    assert "AI suggestion" in page and "confidence" in page and "final finding" in page
    assert "COVID-19" in page and "91%" in page and "Normal" in page


def test_the_case_list_filters_by_suggestion_finding_status_and_clinic(client, clinic, other_clinic, staff,
                                                                      other_staff, radiologist, administrator):
    overridden, _ = predicted_case(clinic, staff, "covid", mrn="OVERRIDDEN")
    sign_review(case=overridden, reviewer=radiologist, finding="other", note="Artefact")
    predicted_case(clinic, staff, "covid", mrn="WAITING-COVID")
    predicted_case(other_clinic, other_staff, "normal", mrn="RIVER-NORMAL")
    make_case(clinic, staff, mrn="QUEUED", status=Case.Status.QUEUED)
    client.force_login(administrator)
    assert listed(client, predicted="covid") == ["OVERRIDDEN", "WAITING-COVID"]
    assert listed(client, finding="other") == ["OVERRIDDEN"]
    assert listed(client, status__exact="queued") == ["QUEUED"]
    assert listed(client, clinic__id__exact=other_clinic.pk) == ["RIVER-NORMAL"]


def test_predictions_and_reviews_are_shown_read_only_on_the_case_page(client, clinic, staff, radiologist,
                                                                      administrator):
    case, _ = predicted_case(clinic, staff, "covid", mrn="H-1")
    sign_review(case=case, reviewer=radiologist, finding="viral_pneumonia", note="Peribronchial")
    client.force_login(administrator)
    page = client.get(reverse("admin:cases_case_change", args=[case.pk])).content.decode()
    assert "Peribronchial" in page and "tiny-test-model" in page
    assert 'name="reviews-0-note"' not in page and 'name="predictions-0-label"' not in page
    for inline in ("predictions", "reviews"):
        assert f'name="{inline}-TOTAL_FORMS" value="1"' in page  # the saved row and no blank one to add
        assert f'name="{inline}-MAX_NUM_FORMS" value="0"' in page


def test_a_radiologist_confirms_selected_cases_each_as_its_own_signed_review(client, clinic, staff,
                                                                             admin_radiologist):
    first, _ = predicted_case(clinic, staff, "covid", mrn="A")
    second, _ = predicted_case(clinic, staff, "normal", mrn="B")
    queued = make_case(clinic, staff, mrn="C", status=Case.Status.QUEUED)
    client.force_login(admin_radiologist)
    response = client.post(CHANGELIST, {"action": "confirm_selected_predictions",
                                        helpers.ACTION_CHECKBOX_NAME: [first.pk, second.pk, queued.pk]}, follow=True)
    assert "Signed 2 review(s)" in response.content.decode()
    assert "C: not awaiting review" in response.content.decode()
    reviews = Review.objects.order_by("case__patient__mrn")
    assert [(r.case.patient.mrn, r.finding, r.agreed, r.reviewer) for r in reviews] == [
        ("A", "covid", True, admin_radiologist), ("B", "normal", True, admin_radiologist)]
    assert AuditEvent.objects.filter(action="review_confirmed").count() == 2
    assert Case.objects.get(pk=queued.pk).status == Case.Status.QUEUED


def test_a_radiologist_in_the_admin_sees_and_confirms_only_their_clinics(client, clinic, other_clinic, staff,
                                                                        other_staff, admin_radiologist):
    predicted_case(clinic, staff, "covid", mrn="MINE")
    theirs, _ = predicted_case(other_clinic, other_staff, "covid", mrn="THEIRS")
    client.force_login(admin_radiologist)
    assert listed(client) == ["MINE"]
    client.post(CHANGELIST, {"action": "confirm_selected_predictions", helpers.ACTION_CHECKBOX_NAME: [theirs.pk]})
    assert not Review.objects.filter(case=theirs).exists()


def test_administrators_who_do_not_review_are_not_offered_the_bulk_confirm(client, clinic, staff, administrator):
    case, _ = predicted_case(clinic, staff, "covid", mrn="A")
    client.force_login(administrator)
    assert "confirm_selected_predictions" not in client.get(CHANGELIST).content.decode()
    client.post(CHANGELIST, {"action": "confirm_selected_predictions", helpers.ACTION_CHECKBOX_NAME: [case.pk]})
    assert not Review.objects.exists()

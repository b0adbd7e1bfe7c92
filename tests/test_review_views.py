"""Radiologist pages: worklist, review, amend, report and the result block on the case page."""

from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.models import AuditEvent, Case, Review
from cases.reviews.services import confirm_review, sign_review
from cases.reviews.selectors import PAGE_SIZE
from tests.factories import make_case, predict, predicted_case

WORKLIST = reverse("cases:worklist")


def review_url(case):
    return reverse("cases:review", args=[case.public_id])


def amend_url(case):
    return reverse("cases:amend", args=[case.public_id])


def report_url(case):
    return reverse("cases:report", args=[case.public_id])


def listed(client, **query) -> list[str]:
    response = client.get(WORKLIST, query)
    assert response.status_code == 200
    return [case.patient.mrn for case in response.context["page"].object_list]


@pytest.fixture
def covid_case(clinic, staff):
    case, _ = predicted_case(clinic, staff, "covid", mrn="H-100")
    return case


# The worklist


def test_the_worklist_orders_covid_above_threshold_then_urgent_then_longest_wait(client, clinic, staff,
                                                                                 radiologist, settings):
    settings.CXR_COVID_PRIORITY_THRESHOLD = 0.5
    low_covid = {"covid": 0.40, "normal": 0.35, "viral_pneumonia": 0.25}
    predict(make_case(clinic, staff, mrn="LOW-COVID-OLDEST", age=timedelta(hours=9)), "covid", low_covid)
    predicted_case(clinic, staff, "normal", mrn="ROUTINE-OLD", age=timedelta(hours=5))
    predicted_case(clinic, staff, "normal", mrn="URGENT-NEW", urgent=True, age=timedelta(hours=1))
    predicted_case(clinic, staff, "viral_pneumonia", mrn="URGENT-OLD", urgent=True, age=timedelta(hours=3))
    predicted_case(clinic, staff, "covid", mrn="COVID-NEW", age=timedelta(minutes=5))
    client.force_login(radiologist)
    assert listed(client) == ["COVID-NEW", "URGENT-OLD", "URGENT-NEW", "LOW-COVID-OLDEST", "ROUTINE-OLD"]


def test_the_covid_threshold_comes_from_settings(client, clinic, staff, radiologist, settings):
    settings.CXR_COVID_PRIORITY_THRESHOLD = 0.95
    predicted_case(clinic, staff, "covid", mrn="COVID-NEW", age=timedelta(minutes=5))
    predicted_case(clinic, staff, "normal", mrn="URGENT", urgent=True, age=timedelta(hours=1))
    client.force_login(radiologist)
    assert listed(client) == ["URGENT", "COVID-NEW"]


def test_the_worklist_shows_only_cases_awaiting_review_from_the_clinics_served(
        client, clinic, other_clinic, staff, other_staff, radiologist):
    predicted_case(clinic, staff, "normal", mrn="MINE")
    predicted_case(other_clinic, other_staff, "covid", mrn="THEIRS")
    make_case(clinic, staff, mrn="STILL-QUEUED", status=Case.Status.QUEUED)
    done, _ = predicted_case(clinic, staff, "normal", mrn="DONE")
    confirm_review(case=done, reviewer=radiologist)
    client.force_login(radiologist)
    page = client.get(WORKLIST).content.decode()
    assert listed(client) == ["MINE"]
    assert "THEIRS" not in page
    assert 'data-status="predicted">1<' in page and 'data-status="reviewed">1<' in page
    assert 'data-status="queued">1<' in page
    assert '<option value="predicted" selected>' in page


def test_the_worklist_filters_by_clinic_label_status_and_date(client, clinic, other_clinic, staff, radiologist):
    other_clinic.members.add(radiologist)
    predicted_case(clinic, staff, "covid", mrn="HILL-COVID", age=timedelta(days=10))
    predicted_case(clinic, staff, "normal", mrn="HILL-NORMAL")
    predicted_case(other_clinic, staff, "normal", mrn="RIVER-NORMAL")
    make_case(clinic, staff, mrn="HILL-QUEUED", status=Case.Status.QUEUED)
    client.force_login(radiologist)
    assert sorted(listed(client, clinic=other_clinic.pk)) == ["RIVER-NORMAL"]
    assert sorted(listed(client, label="normal")) == ["HILL-NORMAL", "RIVER-NORMAL"]
    assert listed(client, status="queued") == ["HILL-QUEUED"]
    assert len(listed(client, status="all")) == 4
    week_ago = (date.today() - timedelta(days=7)).isoformat()
    assert "HILL-COVID" not in listed(client, submitted_from=week_ago)
    assert listed(client, submitted_to=(date.today() - timedelta(days=9)).isoformat()) == ["HILL-COVID"]


def test_a_radiologist_cannot_filter_to_a_clinic_they_do_not_serve(client, clinic, other_clinic, staff,
                                                                    other_staff, radiologist):
    predicted_case(other_clinic, other_staff, "covid", mrn="THEIRS")
    predicted_case(clinic, staff, "covid", mrn="MINE")
    client.force_login(radiologist)
    assert listed(client, clinic=other_clinic.pk) == ["MINE"]


def test_the_worklist_shows_waiting_time_suggestion_and_covid_probability(client, clinic, staff, radiologist):
    predicted_case(clinic, staff, "covid", mrn="H-1", age=timedelta(hours=3, minutes=5))
    client.force_login(radiologist)
    page = client.get(WORKLIST).content.decode()
    assert "3\xa0hours" in page
    assert "COVID-19 priority" in page and "91 %" in page


def test_the_worklist_is_paginated_with_a_fixed_number_of_queries_per_page(client, clinic, staff, radiologist,
                                                                           django_assert_max_num_queries):
    for i in range(3):
        predicted_case(clinic, staff, "normal", mrn=f"A-{i}", age=timedelta(minutes=i))
    client.force_login(radiologist)
    with CaptureQueriesContext(connection) as few:
        client.get(WORKLIST)
    for i in range(2 * PAGE_SIZE):
        predicted_case(clinic, staff, "covid" if i % 3 else "normal", mrn=f"B-{i}", urgent=i % 2 == 0,
                       age=timedelta(minutes=10 + i))
    with django_assert_max_num_queries(len(few)):
        response = client.get(WORKLIST, {"page": 2})
    assert len(response.context["page"].object_list) == PAGE_SIZE
    assert "Page 2 of 3" in response.content.decode()


def test_the_worklist_total_counts_exactly_the_cases_each_filter_selects(client, clinic, other_clinic, staff,
                                                                          other_staff, radiologist):
    for i in range(PAGE_SIZE + 1):
        predicted_case(clinic, staff, "covid", mrn=f"C-{i}")
    predicted_case(clinic, staff, "normal", mrn="N-1")
    make_case(clinic, staff, mrn="S-1")  # submitted, not yet predicted
    predicted_case(other_clinic, other_staff, "normal", mrn="NOT-SERVED")
    client.force_login(radiologist)

    def total(**query):
        return client.get(WORKLIST, query).context["page"].paginator.count

    assert total() == PAGE_SIZE + 2
    assert total(status="all") == PAGE_SIZE + 3
    assert total(label="normal") == 1
    assert total(status="submitted") == 1
    assert total(clinic=clinic.pk, label="covid") == PAGE_SIZE + 1


@pytest.mark.parametrize("who", ["staff", "administrator"])
def test_people_who_do_not_review_cannot_open_the_worklist(client, db, request, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(WORKLIST).status_code == 403


def test_the_worklist_sends_anonymous_visitors_to_log_in(client, db):
    response = client.get(WORKLIST)
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_the_worklist_answers_only_get(client, radiologist):
    client.force_login(radiologist)
    assert client.post(WORKLIST).status_code == 405


# The review page


def test_the_review_page_shows_the_image_tools_suggestion_model_and_clinical_details(client, covid_case,
                                                                                      radiologist):
    client.force_login(radiologist)
    response = client.get(review_url(covid_case))
    page = response.content.decode()
    assert response.status_code == 200
    assert reverse("cases:image", args=[covid_case.public_id, "class-map"]) in page
    for control in ("Zoom in", "Window", "Level", "Invert", "Heatmap opacity"):
        assert control in page
    assert "COVID-19" in page and ">91 %<" in page and "Normal" in page and ">5 %<" in page
    assert "tiny-test-model" in page
    assert "cough, fever" in page and "93 %" in page
    assert "cxr/viewer" in page


def test_the_review_page_lists_the_patients_earlier_cases_with_their_outcome(client, clinic, staff, radiologist):
    earlier, _ = predicted_case(clinic, staff, "normal", mrn="H-7", age=timedelta(days=30))
    sign_review(case=earlier, reviewer=radiologist, finding="viral_pneumonia", note="Patchy")
    current, _ = predicted_case(clinic, staff, "covid", mrn="H-7")
    client.force_login(radiologist)
    page = client.get(review_url(current)).content.decode()
    assert reverse("cases:image", args=[earlier.public_id, "display"]) in page
    assert "Final: <strong>Viral Pneumonia</strong>" in page


class _Controls(HTMLParser):
    """Collects form controls and the ids that a <label for> names, or controls inside a <label>."""

    def __init__(self):
        super().__init__()
        self.controls, self.label_for, self.inside_label = [], set(), 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "label":
            self.inside_label += 1
            self.label_for.add(attrs.get("for"))
        if tag in ("input", "select", "textarea") and attrs.get("type") != "hidden":
            self.controls.append((attrs.get("name"), attrs.get("id"), bool(self.inside_label)))

    def handle_endtag(self, tag):
        if tag == "label":
            self.inside_label -= 1


def test_every_control_on_the_review_page_and_worklist_has_a_label(client, covid_case, radiologist):
    client.force_login(radiologist)
    for url in (review_url(covid_case), WORKLIST):
        parser = _Controls()
        parser.feed(client.get(url).content.decode())
        assert parser.controls
        unlabelled = [name for name, id_, wrapped in parser.controls if not wrapped and id_ not in parser.label_for]
        assert unlabelled == [], url


def test_confirming_on_the_review_page_signs_and_returns_to_the_worklist(client, covid_case, radiologist):
    client.force_login(radiologist)
    prediction = covid_case.predictions.get()
    response = client.post(review_url(covid_case), {"finding": "covid", "note": "", "prediction": prediction.pk})
    assert response.status_code == 302 and response["Location"] == WORKLIST
    review = Review.objects.get(case=covid_case)
    assert (review.reviewer, review.agreed, review.prediction) == (radiologist, True, prediction)
    assert Case.objects.get(pk=covid_case.pk).status == Case.Status.REVIEWED


def test_overriding_without_a_note_shows_the_reason_on_the_form(client, covid_case, radiologist):
    client.force_login(radiologist)
    prediction = covid_case.predictions.get()
    response = client.post(review_url(covid_case), {"finding": "normal", "note": "", "prediction": prediction.pk})
    assert response.status_code == 400
    assert "A note is required when you override" in response.content.decode()
    assert not Review.objects.exists()


def test_a_second_radiologist_is_told_the_case_was_already_signed(client, covid_case, radiologist):
    from cases.access import RADIOLOGIST_GROUP
    from tests.conftest import make_user

    colleague = make_user("colleague", RADIOLOGIST_GROUP, covid_case.clinic)
    prediction = covid_case.predictions.get()
    confirm_review(case=covid_case, reviewer=colleague)
    client.force_login(radiologist)
    response = client.post(review_url(covid_case), {"finding": "normal", "note": "no", "prediction": prediction.pk},
                           follow=True)
    page = response.content.decode()
    assert "colleague already signed this case" in page
    assert list(Review.objects.values_list("reviewer__username", flat=True)) == ["colleague"]


def test_an_outside_radiologist_gets_404_and_the_attempt_is_audited(client, covid_case, other_radiologist):
    client.force_login(other_radiologist)
    assert client.get(review_url(covid_case)).status_code == 404
    assert client.post(review_url(covid_case), {"finding": "covid", "prediction": 1}).status_code == 404
    assert AuditEvent.objects.filter(action="access_denied", case=covid_case).count() == 2
    assert not Review.objects.exists()


@pytest.mark.parametrize("who", ["staff", "administrator"])
def test_people_who_do_not_review_cannot_open_or_sign_a_review(client, covid_case, request, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(review_url(covid_case)).status_code == 403
    assert client.post(review_url(covid_case), {"finding": "covid"}).status_code == 403
    assert not Review.objects.exists()


def test_the_review_page_sends_anonymous_visitors_to_log_in(client, covid_case):
    assert client.get(review_url(covid_case)).status_code == 302


def test_the_review_page_refuses_other_methods(client, covid_case, radiologist):
    client.force_login(radiologist)
    assert client.put(review_url(covid_case)).status_code == 405


def test_a_case_not_yet_predicted_shows_no_signing_form(client, clinic, staff, radiologist):
    case = make_case(clinic, staff, status=Case.Status.QUEUED)
    client.force_login(radiologist)
    page = client.get(review_url(case)).content.decode()
    assert "No prediction yet" in page and 'id="review-form"' not in page


# Amending


def test_amending_from_the_review_page_keeps_the_earlier_review(client, covid_case, radiologist):
    first = confirm_review(case=covid_case, reviewer=radiologist)
    client.force_login(radiologist)
    response = client.post(amend_url(covid_case), {"finding": "other", "note": "Artefact", "reason": "Re-read",
                                                   "review": first.pk})
    assert response.status_code == 302
    amendment = Review.objects.get(amends=first)
    assert (amendment.finding, amendment.amendment_reason) == ("other", "Re-read")
    page = client.get(review_url(covid_case)).content.decode()
    assert "Review history" in page and "amended: Re-read" in page


def test_amending_without_a_reason_is_refused(client, covid_case, radiologist):
    first = confirm_review(case=covid_case, reviewer=radiologist)
    client.force_login(radiologist)
    response = client.post(amend_url(covid_case), {"finding": "normal", "note": "", "reason": "", "review": first.pk})
    assert response.status_code == 400
    assert Review.objects.count() == 1


def test_amending_a_review_that_was_already_replaced_is_refused(client, covid_case, radiologist):
    first = confirm_review(case=covid_case, reviewer=radiologist)
    client.force_login(radiologist)
    data = {"finding": "normal", "note": "n", "reason": "r", "review": first.pk}
    client.post(amend_url(covid_case), data)
    response = client.post(amend_url(covid_case), {**data, "finding": "other"}, follow=True)
    assert "already amended" in response.content.decode()
    assert Review.objects.count() == 2


def test_amend_accepts_only_post_and_only_from_radiologists_of_the_clinic(client, covid_case, radiologist, staff,
                                                                          other_radiologist):
    first = confirm_review(case=covid_case, reviewer=radiologist)
    data = {"finding": "normal", "note": "n", "reason": "r", "review": first.pk}
    client.force_login(radiologist)
    assert client.get(amend_url(covid_case)).status_code == 405
    client.force_login(staff)
    assert client.post(amend_url(covid_case), data).status_code == 403
    client.force_login(other_radiologist)
    assert client.post(amend_url(covid_case), data).status_code == 404
    assert Review.objects.count() == 1


# The report and the case page


def test_the_report_has_patient_images_prediction_finding_reviewer_and_disclaimer(client, covid_case, radiologist,
                                                                                  staff):
    sign_review(case=covid_case, reviewer=radiologist, finding="viral_pneumonia", note="Bilateral")
    client.force_login(staff)
    response = client.get(report_url(covid_case))
    page = response.content.decode()
    assert response.status_code == 200
    assert "H-100" in page and "Viral Pneumonia" in page and "Bilateral" in page and "radiologist" in page
    assert reverse("cases:image", args=[covid_case.public_id, "heatmap"]) in page
    assert "Research software, not a diagnosis" in page
    assert "cxr/review" in page
    assert "@media print" in Path(finders.find("cxr/review.css")).read_text()


@pytest.mark.parametrize("who, status", [("staff", 200), ("radiologist", 200), ("administrator", 200),
                                         ("other_staff", 404), ("other_radiologist", 404)])
def test_who_may_open_the_report(client, covid_case, request, who, status):
    client.force_login(request.getfixturevalue(who))
    assert client.get(report_url(covid_case)).status_code == status


def test_the_report_answers_only_get_and_only_to_logged_in_users(client, covid_case, staff):
    assert client.get(report_url(covid_case)).status_code == 302
    client.force_login(staff)
    assert client.post(report_url(covid_case)).status_code == 405


def test_staff_see_an_unreviewed_suggestion_clearly_marked_then_the_final_finding(client, covid_case, staff,
                                                                                  radiologist):
    client.force_login(staff)
    detail = reverse("cases:case_detail", args=[covid_case.public_id])
    before = client.get(detail).content.decode()
    assert "AI suggestion, not reviewed" in before and "Viral-pattern pneumonia" in before  # an adult's
    assert "research software, not a diagnosis" in before.lower()
    sign_review(case=covid_case, reviewer=radiologist, finding="normal", note="Clear lungs on re-read")
    after = client.get(detail).content.decode()
    assert "AI suggestion, not reviewed" not in after
    assert "Final finding: <strong data-testid=\"final-finding\">Normal</strong>" in after
    assert "Clear lungs on re-read" in after
    assert "research software, not a diagnosis" in after.lower()

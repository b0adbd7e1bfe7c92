"""Signing and amending reviews: who may, what is recorded, and what happens when two sign at once."""

import threading
import time

import pytest
from django.db import OperationalError, connection

from cases.access import RADIOLOGIST_GROUP
from cases.models import AuditEvent, Case, Review
from cases.reviews.selectors import current_review
from cases.reviews.services import (
    ReviewConflict,
    ReviewError,
    amend_review,
    confirm_review,
    sign_review,
)
from tests.conftest import make_user
from tests.factories import model_version, predict, predicted_case


@pytest.fixture
def covid_case(clinic, staff):
    return predicted_case(clinic, staff, "covid")


@pytest.fixture
def second_radiologist(clinic):
    return make_user("second_radiologist", RADIOLOGIST_GROUP, clinic)


def test_confirming_records_who_when_which_prediction_and_agreement(covid_case, radiologist):
    case, prediction = covid_case
    review = confirm_review(case=case, reviewer=radiologist)
    review.refresh_from_db()
    assert (review.reviewer, review.prediction, review.finding, review.agreed) == (
        radiologist, prediction, "covid", True)
    assert review.signed_at is not None
    assert Case.objects.get(pk=case.pk).status == Case.Status.REVIEWED
    event = AuditEvent.objects.get(action="review_confirmed")
    assert (event.actor, event.case, event.details["agreed"], event.details["prediction"]) == (
        radiologist, case, True, prediction.pk)


def test_overriding_records_the_new_finding_and_the_note(covid_case, radiologist):
    case, _ = covid_case
    review = sign_review(case=case, reviewer=radiologist, finding="viral_pneumonia", note="Bilateral pattern")
    assert (review.finding, review.agreed, review.note) == ("viral_pneumonia", False, "Bilateral pattern")
    event = AuditEvent.objects.get(action="review_overridden")
    assert (event.details["finding"], event.details["predicted"]) == ("viral_pneumonia", "covid")


def test_overriding_without_a_note_is_refused_and_leaves_the_case_awaiting_review(covid_case, radiologist):
    case, _ = covid_case
    with pytest.raises(ReviewError, match="note is required"):
        sign_review(case=case, reviewer=radiologist, finding="normal", note="   ")
    assert Case.objects.get(pk=case.pk).status == Case.Status.PREDICTED
    assert not Review.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="review_").exists()


def test_an_unknown_finding_is_refused(covid_case, radiologist):
    case, _ = covid_case
    with pytest.raises(ReviewError, match="final finding"):
        sign_review(case=case, reviewer=radiologist, finding="pneumothorax", note="x")


def test_other_indeterminate_is_a_valid_override(covid_case, radiologist):
    case, _ = covid_case
    review = sign_review(case=case, reviewer=radiologist, finding="other", note="Poor inspiration, repeat film")
    assert (review.get_finding_display(), review.agreed) == ("Other / indeterminate", False)


def test_the_second_signature_is_told_who_signed_first_and_changes_nothing(covid_case, radiologist,
                                                                           second_radiologist):
    case, _ = covid_case
    stale_copy = Case.objects.get(pk=case.pk)
    confirm_review(case=case, reviewer=radiologist)
    with pytest.raises(ReviewConflict, match="radiologist already signed"):
        sign_review(case=stale_copy, reviewer=second_radiologist, finding="normal", note="Looks clear")
    assert list(Review.objects.values_list("reviewer__username", "finding")) == [("radiologist", "covid")]
    assert AuditEvent.objects.filter(action__startswith="review_").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_radiologists_signing_at_the_same_moment_produce_one_review(clinic, staff, radiologist,
                                                                         second_radiologist):
    case, _ = predicted_case(clinic, staff, "covid")
    barrier = threading.Barrier(2)
    outcomes = []

    def sign(reviewer, finding, seen):
        barrier.wait()
        try:
            for _ in range(200):
                try:
                    sign_review(case=seen, reviewer=reviewer, finding=finding, note="n")
                    outcomes.append("signed")
                    return
                except ReviewConflict:
                    outcomes.append("conflict")
                    return
                except OperationalError:
                    # The in-memory SQLite test database answers "table is locked" instead of
                    # waiting as a file database or PostgreSQL does; wait and try again.
                    time.sleep(0.01)
        finally:
            connection.close()

    # Both radiologists loaded the case while it was still awaiting review.
    threads = [threading.Thread(target=sign, args=(radiologist, "covid", Case.objects.get(pk=case.pk))),
               threading.Thread(target=sign, args=(second_radiologist, "normal", Case.objects.get(pk=case.pk)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "signed"]
    assert Review.objects.filter(case=case).count() == 1


def test_signing_refers_to_the_prediction_the_radiologist_saw(covid_case, radiologist):
    case, seen = covid_case
    Case.objects.filter(pk=case.pk).update(status=Case.Status.CLASSIFYING)
    predict(case, "normal", version=model_version("newer-model"))
    with pytest.raises(ReviewConflict, match="newer prediction"):
        sign_review(case=case, reviewer=radiologist, finding="covid", prediction_id=seen.pk)
    assert not Review.objects.exists()


def test_a_case_without_a_prediction_cannot_be_reviewed(clinic, staff, radiologist):
    from tests.factories import make_case

    case = make_case(clinic, staff, status=Case.Status.QUEUED)
    with pytest.raises(ReviewError, match="no prediction"):
        confirm_review(case=case, reviewer=radiologist)


def test_clinic_staff_may_not_review(covid_case, staff):
    case, _ = covid_case
    with pytest.raises(ReviewError, match="clinics you serve"):
        confirm_review(case=case, reviewer=staff)
    assert Case.objects.get(pk=case.pk).status == Case.Status.PREDICTED


def test_a_radiologist_may_not_review_a_clinic_they_do_not_serve(covid_case, other_radiologist):
    case, _ = covid_case
    with pytest.raises(ReviewError, match="clinics you serve"):
        confirm_review(case=case, reviewer=other_radiologist)
    assert not Review.objects.exists()


def test_an_administrator_without_the_review_permission_may_not_review(covid_case, administrator):
    case, _ = covid_case
    with pytest.raises(ReviewError):
        confirm_review(case=case, reviewer=administrator)


def test_amending_keeps_the_earlier_review_and_makes_the_new_one_current(covid_case, radiologist,
                                                                         second_radiologist):
    case, _ = covid_case
    first = confirm_review(case=case, reviewer=radiologist)
    amendment = amend_review(review=first, reviewer=second_radiologist, finding="viral_pneumonia",
                             note="Ground glass is peribronchial", reason="Second read at MDT")
    assert Review.objects.filter(case=case).count() == 2
    assert (amendment.amends, amendment.amendment_reason, amendment.agreed) == (first, "Second read at MDT", False)
    assert current_review(case) == amendment
    assert Review.objects.get(pk=first.pk).finding == "covid"
    event = AuditEvent.objects.get(action="review_amended")
    assert (event.details["amends"], event.details["reason"]) == (first.pk, "Second read at MDT")


def test_an_amendment_needs_a_reason(covid_case, radiologist):
    case, _ = covid_case
    first = confirm_review(case=case, reviewer=radiologist)
    with pytest.raises(ReviewError, match="reason"):
        amend_review(review=first, reviewer=radiologist, finding="normal", note="clear", reason=" ")
    assert current_review(case) == first


def test_the_same_review_cannot_be_amended_twice(covid_case, radiologist, second_radiologist):
    case, _ = covid_case
    first = confirm_review(case=case, reviewer=radiologist)
    amend_review(review=first, reviewer=radiologist, finding="normal", note="clear", reason="Misread")
    with pytest.raises(ReviewConflict, match="already amended"):
        amend_review(review=first, reviewer=second_radiologist, finding="other", note="?", reason="Unsure")
    assert Review.objects.filter(case=case).count() == 2


def test_a_radiologist_of_another_clinic_may_not_amend(covid_case, radiologist, other_radiologist):
    case, _ = covid_case
    first = confirm_review(case=case, reviewer=radiologist)
    with pytest.raises(ReviewError, match="clinics you serve"):
        amend_review(review=first, reviewer=other_radiologist, finding="normal", note="x", reason="y")

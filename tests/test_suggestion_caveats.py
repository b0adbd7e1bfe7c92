"""A suggestion carries a plain caveat where the training data cannot support it (from the birth year)."""

from datetime import date

import pytest
from django.urls import reverse

from cases.classification.caveats import ADULT, CHILD, caveat_for
from cases.models import Patient
from tests.factories import predicted_case
from tests.test_staff_words import result_section


def case_page(client, user, case) -> str:
    client.force_login(user)
    return client.get(reverse("cases:case_detail", args=[case.public_id])).content.decode()


@pytest.mark.parametrize("label", ["covid", "viral_pneumonia"])
def test_an_adults_covid_or_viral_suggestion_is_viral_pattern_for_staff_with_the_caveat_for_radiologists(
        client, staff, radiologist, clinic, label):
    case, _ = predicted_case(clinic, staff, label)
    Patient.objects.filter(pk=case.patient_id).update(birth_year=date.today().year - 60)
    staff_page = case_page(client, staff, case)
    # Issue 27: the caveat is the label itself for staff, not a sentence contradicting it.
    assert 'data-testid="ai-suggestion">Viral-pattern pneumonia<' in staff_page
    assert ADULT not in staff_page and "COVID-19" not in result_section(staff_page)
    client.force_login(radiologist)
    assert ADULT in client.get(reverse("cases:review", args=[case.public_id])).content.decode()
    assert ADULT in client.get(reverse("cases:report", args=[case.public_id])).content.decode()


def test_a_childs_suggestion_says_covid_19_was_almost_never_seen(client, staff, clinic):
    case, _ = predicted_case(clinic, staff, "normal")
    Patient.objects.filter(pk=case.patient_id).update(birth_year=date.today().year - 6)
    page = case_page(client, staff, case)
    assert CHILD in page and ADULT not in page


def test_an_adults_normal_suggestion_and_an_unknown_age_carry_no_caveat(client, staff, clinic):
    case, _ = predicted_case(clinic, staff, "normal")
    assert 'data-testid="suggestion-caveat"' not in case_page(client, staff, case)
    assert caveat_for("covid", None) == ""

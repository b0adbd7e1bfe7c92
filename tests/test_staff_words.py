"""Issue 27: before review, clinic staff read calibrated words, not decimals; radiologists keep the
figures; one rounding rule for every probability shown."""

import re
from datetime import date

from django.urls import reverse

from cases.models import Patient
from cases.templatetags.review_tags import percent
from tests.factories import COVID_WORDS, predict, predicted_case


def result_section(page: str) -> str:
    """The case page's result card, or the report's AI part."""
    if '<section class="card mb-3" id="case-result"' in page:
        return page.split('<section class="card mb-3" id="case-result"')[1].split("</section>")[0]
    return page.split('<h2 class="h5">AI suggestion')[1].split("</h2>", 1)[1].split("<h2")[0]


def test_staff_see_the_covid_pattern_in_words_with_no_percentage_before_review(client, staff, clinic):
    case, _ = predicted_case(clinic, staff, "covid")  # COVID-19 probability 0.91
    Patient.objects.filter(pk=case.patient_id).update(birth_year=date.today().year - 8)
    client.force_login(staff)
    for url in (reverse("cases:case_detail", args=[case.public_id]), reverse("cases:report", args=[case.public_id])):
        page = client.get(url).content.decode()
        section = result_section(page)
        assert 'data-testid="ai-suggestion">COVID-19<' in section
        assert "COVID-19 pattern: likely" in section
        assert not re.search(r"\d\s?%", section), url  # no figure in the suggestion
        assert 'data-testid="probabilities"' not in page


def test_an_adults_staff_page_says_viral_pattern_pneumonia_in_the_label_and_the_words(client, staff, clinic):
    case, _ = predicted_case(clinic, staff, "normal")  # COVID-19 probability 0.03
    client.force_login(staff)
    section = result_section(client.get(reverse("cases:case_detail", args=[case.public_id])).content.decode())
    assert 'data-testid="ai-suggestion">Normal<' in section and "Viral-pattern pneumonia: unlikely" in section
    assert "Viral-pattern pneumonia: unlikely" in section.split("data-announce=")[1].split(">")[0]


def test_radiologists_keep_the_probabilities_on_the_case_page_and_the_review(client, staff, radiologist, clinic):
    case, _ = predicted_case(clinic, staff, "covid")
    client.force_login(radiologist)
    for url in (reverse("cases:case_detail", args=[case.public_id]), reverse("cases:review", args=[case.public_id])):
        page = client.get(url).content.decode()
        assert 'data-testid="probabilities"' in page and "91 %" in page and "COVID-19" in page, url
        assert "COVID-19 pattern:" not in page


def test_one_rounding_rule_whole_percent_never_100_or_0():
    assert [percent(p) for p in (0.9149, 0.915, 0.998, 0.9951, 0.004, 0.005, 0.5)] == [
        "91 %", "92 %", ">99 %", ">99 %", "<1 %", "1 %", "50 %"]


def test_the_worklist_and_the_case_page_show_the_same_figure_for_the_same_probability(
        client, clinic, staff, radiologist):
    from tests.factories import make_case

    case = make_case(clinic, staff, mrn="SURE")
    predict(case, "covid", {"covid": 0.998, "normal": 0.0015, "viral_pneumonia": 0.0005})
    client.force_login(radiologist)
    worklist = client.get(reverse("cases:worklist")).content.decode()
    detail = client.get(reverse("cases:case_detail", args=[case.public_id])).content.decode()
    assert "&gt;99 %" in worklist and "(&gt;99 %)" in detail and "100 %" not in result_section(detail)
    assert not re.search(r">[^<]*99\.8", worklist + detail)  # no text says 99.8 (bar widths may)


def test_the_factories_words_come_from_the_committed_sidecars_bands():
    assert COVID_WORDS and COVID_WORDS["unlikely"] <= COVID_WORDS["likely"]

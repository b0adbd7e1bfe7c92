"""Local validation: a clinic that is silent or paused for the served model version shows its suggestion
nowhere a staff member or radiologist can look (pages, report, worklist columns and order, DICOM result,
CSV, API), says instead that AI suggestions are being validated, and radiologists read blind."""

import io
from datetime import timedelta

import pydicom
import pytest
from django.urls import reverse

from cases import storage
from cases.audit.actors import Actor
from cases.dicom import outbox
from cases.dicom.services import receive_instance
from cases.models import AuditEvent, Case, Clinic, ClinicAIState, DicomNode, DicomResult, Review
from cases.oversight.clinics import weekly_figures
from cases.reviews.selectors import WorklistFilters, worklist_for
from cases.reviews.services import sign_review
from cases.validation import selectors as validation
from cases.validation.services import change_state, pause_clinic
from cxrsite.testing.dicoms import dicom_bytes
from cxrsite.testing.images import chest_like_array
from tests.factories import classified, make_case, served_model_version

pytestmark = [pytest.mark.django_db, pytest.mark.local_validation]

LIVE, PAUSED = ClinicAIState.State.LIVE, ClinicAIState.State.PAUSED
COVID = {"covid": 0.87, "normal": 0.08, "viral_pneumonia": 0.05}
NORMAL = {"covid": 0.04, "normal": 0.90, "viral_pneumonia": 0.06}
NOTICE = 'data-testid="ai-validating"'
OUTCOMES = reverse("cases:outcomes")
UNCERTAIN_TEXT = "too close to call"  # the case page's reason for the model's uncertain band


@pytest.fixture
def version(db):
    return served_model_version("served-v1")


@pytest.fixture
def three_cases(clinic, staff, version):
    """Oldest first: a normal film, an urgent normal film, and a COVID-19 suggestion (the newest)."""
    oldest = classified(make_case(clinic, staff, mrn="OLD", age=timedelta(hours=3)), version, NORMAL)
    urgent = classified(make_case(clinic, staff, mrn="URG", urgent=True, age=timedelta(hours=2)), version, NORMAL)
    covid = classified(make_case(clinic, staff, mrn="COV", age=timedelta(hours=1)), version, COVID)
    return oldest, urgent, covid


def order(radiologist) -> list[str]:
    return [case.patient.mrn for case in worklist_for(radiologist, filters=WorklistFilters())]


def pages(client, user, case) -> dict[str, str]:
    client.force_login(user)
    urls = {"case": reverse("cases:case_detail", args=[case.public_id]),
            "report": reverse("cases:report", args=[case.public_id]),
            "list": reverse("cases:case_list")}
    if user.has_perm("cases.add_review"):
        urls |= {"review": reverse("cases:review", args=[case.public_id]), "worklist": reverse("cases:worklist")}
    return {name: client.get(url).content.decode() for name, url in urls.items()}


def assert_hidden(client, staff, radiologist, covid_case):
    for user in (staff, radiologist):
        for name, page in pages(client, user, covid_case).items():
            assert 'data-testid="ai-suggestion"' not in page and "87%" not in page and "87 %" not in page, (user, name)
            assert 'data-testid="suggestion-words"' not in page, (user, name)  # nor staff's words for it
            assert "COVID-19 priority" not in page and "AI priority" not in page, (user, name)
        case_page = pages(client, user, covid_case)["case"]
        assert NOTICE in case_page and "AI suggestions are being validated at this clinic" in case_page
        for kind in ("heatmap", "class-map"):
            assert client.get(reverse("cases:image", args=[covid_case.public_id, kind])).status_code == 404, kind
        api = client.get(reverse("api:case", args=[covid_case.public_id]))
        assert api.status_code == 200 and api.json()["ai_result"] is None and api.json()["links"]["heatmap"] is None
        assert client.get(reverse("audit:export")).status_code == 403  # the audit CSV holds the labels
    assert (covid_case.predicted_label, covid_case.covid_probability) == ("", None)


def test_a_new_clinic_is_silent_and_its_suggestion_appears_nowhere(client, clinic, staff, radiologist, version,
                                                                   three_cases):
    oldest, urgent, covid = three_cases
    assert validation.ai_state(clinic, version) == ClinicAIState.State.SILENT
    assert_hidden(client, staff, radiologist, covid)
    assert order(radiologist) == ["URG", "OLD", "COV"]  # the urgency flag, then arrival: no COVID-19 priority
    assert "AI suggestions are being validated at Hillside Clinic" in pages(client, radiologist, covid)["worklist"]
    review_page = pages(client, radiologist, covid)["review"]
    assert NOTICE in review_page and 'id="review-form"' in review_page and 'data-predicted=""' in review_page


def test_a_live_clinic_sees_the_suggestion_and_its_order(client, clinic, staff, radiologist, version, three_cases):
    change_state(clinic=clinic, version=version, state=LIVE, actor=Actor.system())
    covid = Case.objects.get(patient__mrn="COV")
    assert (covid.predicted_label, covid.covid_probability) == ("covid", 0.87)
    assert order(radiologist) == ["COV", "URG", "OLD"]
    page = pages(client, staff, covid)["case"]
    assert 'data-testid="ai-suggestion"' in page and NOTICE not in page
    client.force_login(staff)
    assert client.get(reverse("api:case", args=[covid.public_id])).json()["ai_result"]["label"] == "covid"


def test_pausing_a_live_clinic_hides_the_suggestion_from_the_next_page_and_is_audited(
        client, clinic, staff, radiologist, version, three_cases):
    change_state(clinic=clinic, version=version, state=LIVE, actor=Actor.system())
    covid = Case.objects.get(patient__mrn="COV")
    assert 'data-testid="ai-suggestion"' in pages(client, staff, covid)["case"]
    assert pause_clinic(clinic=clinic, actor=Actor.of_user(radiologist), reason="checking drift") == 1
    covid.refresh_from_db()
    assert_hidden(client, staff, radiologist, covid)
    assert order(radiologist) == ["URG", "OLD", "COV"]
    changes = AuditEvent.objects.filter(action=AuditEvent.Action.CLINIC_AI_STATE_CHANGED).order_by("id")
    assert [(e.details["from"], e.details["to"]) for e in changes] == [("silent", "live"), ("live", "paused")]
    # And the next case of the paused clinic gets no columns either.
    later = classified(make_case(clinic, staff, mrn="NEXT"), version, COVID)
    assert (later.predicted_label, later.covid_probability) == ("", None)


def test_the_outcomes_endpoint_and_the_refreshed_worklist_of_a_silent_clinic_name_no_suggestion(
        client, clinic, staff, radiologist, version, three_cases):
    oldest, urgent, covid = three_cases
    prediction = covid.predictions.get()
    case_page = reverse("cases:case_detail", args=[covid.public_id])
    for user in (staff, radiologist):
        client.force_login(user)
        response = client.get(OUTCOMES, {"id": [str(case.public_id) for case in three_cases]})
        outcomes = {outcome["id"]: outcome for outcome in response.json()["cases"]}
        assert outcomes[str(covid.public_id)]["key"] == "predicted::"  # no prediction people may see
        assert "covid" not in response.content.decode().lower() and "0.87" not in response.content.decode()
    client.force_login(staff)
    assert 'data-result-key="predicted::"' in client.get(case_page).content.decode()  # the page agrees: no redraw
    client.force_login(radiologist)
    refreshed = client.get(reverse("cases:worklist"), headers={"X-CXR-Poll": "1"}).content.decode()
    assert f'data-case="{covid.public_id}"' in refreshed
    assert "87 %" not in refreshed and "COVID-19 priority" not in refreshed and "AI priority" not in refreshed
    assert refreshed.count("data-urgent") == 1  # the urgent film only, not the COVID-19 suggestion
    # Once the clinic is live the key names the prediction, so an open page redraws and shows it.
    change_state(clinic=clinic, version=version, state=LIVE, actor=Actor.system())
    client.force_login(staff)
    [outcome] = client.get(OUTCOMES, {"id": str(covid.public_id)}).json()["cases"]
    assert outcome["key"] == f"predicted:{prediction.pk}:"
    assert f'data-result-key="predicted:{prediction.pk}:"' in client.get(case_page).content.decode()
    client.force_login(radiologist)
    refreshed = client.get(reverse("cases:worklist"), headers={"X-CXR-Poll": "1"}).content.decode()
    assert "87 %" in refreshed and "COVID-19 priority" in refreshed


def test_the_models_uncertain_band_is_said_only_where_the_clinic_is_live_and_always_counted(
        client, clinic, staff, radiologist, version):
    case = classified(make_case(clinic, staff, mrn="UNC"), version, COVID, uncertain=True)
    assert (case.gate_reason, case.predicted_label, case.covid_probability) == ("", "", None)
    for name, page in pages(client, radiologist, case).items():
        assert UNCERTAIN_TEXT not in page, name
    assert weekly_figures(Clinic.objects.all(), weeks=1)[0].weeks[-1].uncertain == 1
    change_state(clinic=clinic, version=version, state=LIVE, actor=Actor.system())
    case.refresh_from_db()
    assert (case.gate_reason, case.predicted_label, case.covid_probability) == ("uncertain", "", None)
    review = pages(client, radiologist, case)["review"]
    assert UNCERTAIN_TEXT in review and 'data-testid="ai-suggestion"' not in review
    assert pause_clinic(clinic=clinic, actor=Actor.system(), reason="drift") == 1
    case.refresh_from_db()
    assert case.gate_reason == ""
    assert weekly_figures(Clinic.objects.all(), weeks=1)[0].weeks[-1].uncertain == 1


def test_a_radiologist_at_a_silent_clinic_reads_blind_and_the_read_is_no_override(clinic, staff, radiologist,
                                                                                  version, three_cases):
    _, _, covid = three_cases
    review = sign_review(case=covid, reviewer=radiologist, finding="normal")  # no note needed: nothing to override
    assert (review.prediction, review.agreed) == (None, False)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.REVIEW_OVERRIDDEN).exists()


def test_a_silent_clinics_dicom_result_carries_no_suggestion(clinic, radiologist, version):
    unit = DicomNode.objects.create(name="X-ray room 1", ae_title="XRAY1", host="127.0.0.1", clinic=clinic,
                                    receives_results=True, port=4242, wants_suggestions=True)
    case = receive_instance(node=unit, data=dicom_bytes(chest_like_array(256)), address="127.0.0.1").case
    classified(case, version, COVID)
    assert not DicomResult.objects.exists()  # no preliminary suggestion for the PACS that asked for them
    sign_review(case=case, reviewer=radiologist, finding="covid")
    result = outbox.build_objects(DicomResult.objects.get())
    with storage.open_file(result.report_name) as handle:
        report = pydicom.dcmread(io.BytesIO(handle.read()))
    codes = {item.ConceptNameCodeSequence[0].CodeValue for item in report.ContentSequence}
    assert "121071" in codes  # the radiologist's finding
    assert not codes & {"ai-suggestion", "p-covid", "111003"}
    assert Review.objects.get().prediction is None


def test_a_silent_clinics_integrations_get_no_predicted_webhook_and_no_ai_result(client, clinic, staff, version):
    from cases.models import WebhookEvent
    from tests.factories import api_token, integration

    emr = integration("Hillside EMR", clinic, receives_webhooks=True, webhook_url="https://emr.example.org/hook",
                      webhook_events=["case.predicted"], webhook_secret="s" * 32)
    token = api_token(emr)
    case = classified(make_case(clinic, staff, mrn="HOOK"), version, COVID)
    assert not WebhookEvent.objects.filter(event="case.predicted").exists()
    answer = client.get(reverse("api:case", args=[case.public_id]), HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert answer["ai_result"] is None and "0.87" not in str(answer)
    change_state(clinic=clinic, version=version, state=LIVE, actor=Actor.system())
    later = classified(make_case(clinic, staff, mrn="HOOK-2"), version, COVID)
    assert WebhookEvent.objects.filter(event="case.predicted", case=later).count() == 1


def test_the_admin_lists_each_clinics_ai_state_read_only(client, administrator, clinic, version):
    change_state(clinic=clinic, version=version, state=LIVE, actor=Actor.system(), reason="evidence passed")
    client.force_login(administrator)
    listing = client.get(reverse("admin:cases_clinicaistate_changelist"))
    assert listing.status_code == 200 and "Hillside Clinic" in listing.content.decode()
    assert client.get(reverse("admin:cases_clinicaistate_add")).status_code == 403


def test_the_worklist_still_opens_when_the_pinned_model_file_is_missing(client, radiologist, settings, tmp_path):
    settings.CXR_MODEL_PATH = str(tmp_path / "gone.tflite")
    client.force_login(radiologist)
    assert client.get(reverse("cases:worklist")).status_code == 200

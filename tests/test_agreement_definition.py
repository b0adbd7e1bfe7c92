"""One definition of "agreement with radiologists": the model page and the clinic page give the same figure for
the same cases, a film the gate refused (or one in the uncertain band) is neither agreement nor override, and a version's silent-trial rows
stay trial rows after it is activated."""

from django.urls import reverse

from cases.models import Case, Clinic, Prediction
from cases.oversight.agreement import DEFINITION
from cases.oversight.clinics import weekly_figures
from cases.oversight.versions import oversight_by_version
from cases.reviews.services import sign_review
from tests.factories import make_case, predict, served_model_version, trial_predict, trial_version


def signed(clinic, staff, radiologist, *, mrn, label, finding, refused=False, version=None):
    case = make_case(clinic, staff, mrn=mrn)
    prediction = predict(case, label, version=version)
    if refused:
        Prediction.objects.filter(pk=prediction.pk).update(gate_passed=False, gate_reason="not_radiograph")
        Case.objects.filter(pk=case.pk).update(**Case.suggestion_fields(label, {}, "not_radiograph"))
        case.refresh_from_db()
    sign_review(case=case, reviewer=radiologist, finding=finding, note="" if finding == label else "differs")
    return case


def example(clinic, staff, radiologist, version):
    """Two agreements, one override, and a film the gate refused whose hidden label equals the finding."""
    signed(clinic, staff, radiologist, mrn="A", label="covid", finding="covid", version=version)
    signed(clinic, staff, radiologist, mrn="B", label="normal", finding="normal", version=version)
    signed(clinic, staff, radiologist, mrn="C", label="normal", finding="covid", version=version)
    signed(clinic, staff, radiologist, mrn="D", label="normal", finding="normal", refused=True, version=version)


def test_it_gives_the_same_agreement_on_the_model_page_and_the_clinic_page(client, administrator, clinic, staff,
                                                                           radiologist):
    served = served_model_version("served-v1")
    example(clinic, staff, radiologist, served)
    [summary] = oversight_by_version()
    [hillside] = weekly_figures(Clinic.objects.all(), weeks=1)
    this_week = hillside.weeks[-1]
    assert (summary.agreement, summary.compared) == (2 / 3, 3)  # the refused film is left out, not 3/4
    assert this_week.counts("agreement") == (2, 3) and this_week.reviewed == 4
    client.force_login(administrator)
    model_page = client.get(reverse("audit:oversight")).content.decode()
    clinic_page = client.get(reverse("audit:oversight_clinics")).content.decode()
    assert "66.7% (3 cases)" in model_page
    assert '<td class="text-end">66.7%</td>' in clinic_page
    for page in (model_page, clinic_page):
        assert DEFINITION.split(":")[0] in page and "counts neither as agreement nor as override" in page


def test_it_counts_a_signed_gate_refused_case_as_no_override(clinic, staff, radiologist):
    served = served_model_version("served-v1")
    signed(clinic, staff, radiologist, mrn="D", label="normal", finding="covid", refused=True, version=served)
    signed(clinic, staff, radiologist, mrn="B", label="normal", finding="normal", version=served)
    this_week = weekly_figures(Clinic.objects.all(), weeks=1)[0].weeks[-1]
    assert this_week.counts("override_rate") == (0, 1)  # not 1/2: the refused film answered no suggestion
    [summary] = oversight_by_version()
    assert (summary.override_count, summary.overrides) == (0, [])


def test_it_keeps_a_versions_trial_rows_apart_from_its_served_rows_after_activation(client, administrator, clinic,
                                                                                    staff, radiologist):
    old = served_model_version("served-v1")
    example(clinic, staff, radiologist, old)
    new = trial_version("shadow-v2")
    for case in Case.objects.all():
        trial_predict(case, "covid", version=new)  # agrees only with case A (and C's finding)
    served_model_version("shadow-v2")  # activated
    roles = {(s.version.name, s.role): (s.predictions, s.compared, s.agreement) for s in oversight_by_version()}
    assert roles == {("served-v1", "served"): (4, 3, 2 / 3), ("shadow-v2", "silent trial"): (4, 4, 2 / 4)}
    this_week = weekly_figures(Clinic.objects.all(), weeks=1)[0].weeks[-1]
    assert this_week.counts("agreement") == (2, 3) and this_week.versions == ["served-v1"]
    client.force_login(administrator)
    model_page = client.get(reverse("audit:oversight")).content.decode()
    assert "shadow-v2: silent trial predictions" in model_page and "served-v1: served predictions" in model_page
    clinic_page = client.get(reverse("audit:oversight_clinics")).content.decode()
    assert '<td data-testid="week-versions">served-v1</td>' in clinic_page


def test_a_signed_case_in_the_uncertain_band_is_neither_agreement_nor_override(clinic, staff, radiologist):
    served = served_model_version("served-v1")
    case = make_case(clinic, staff, mrn="U")
    prediction = predict(case, "covid", version=served)
    Prediction.objects.filter(pk=prediction.pk).update(uncertain=True)
    Case.objects.filter(pk=case.pk).update(**Case.suggestion_fields("covid", {}, "uncertain"))
    sign_review(case=case, reviewer=radiologist, finding="normal", note="read by hand")  # differs from the label
    signed(clinic, staff, radiologist, mrn="B", label="normal", finding="normal", version=served)
    this_week = weekly_figures(Clinic.objects.all(), weeks=1)[0].weeks[-1]
    assert this_week.counts("override_rate") == (0, 1) and this_week.counts("agreement") == (1, 1)
    assert this_week.uncertain == 1 and this_week.gate_refusals == 0
    [summary] = oversight_by_version()
    assert (summary.agreement, summary.compared, summary.override_count, summary.uncertain) == (1.0, 1, 0, 1)
    assert not Prediction.objects.filter(pk=prediction.pk).with_suggestion().exists()

"""Polish from issue 27: what the staff case page, the model-version admin and the activation page say."""

import json

from django.urls import reverse

from classifier.models import ModelVersion
from tests.factories import make_case, model_version, served_model_version

CHANGELIST = reverse("admin:classifier_modelversion_changelist")
METRICS = json.loads("""{"n": 606, "accuracy": 0.9406, "macro_f1": 0.9414, "ece": 0.0176,
  "per_class": {"covid": {"n": 216, "sensitivity": 0.9259, "specificity": 0.9795, "precision": 0.9615, "auc": 0.9918}},
  "model": {"name": "own", "path": "/home/dev/work/own.tflite"}}""")


def test_the_staff_case_page_shows_a_short_sha256(client, clinic, staff):
    case = make_case(clinic, staff)
    client.force_login(staff)
    page = client.get(reverse("cases:case_detail", args=[case.public_id])).content.decode()
    assert 'data-testid="short-sha256"' in page and "SHA-256 <span" in page
    assert f">{case.image_sha256[:12]}…<" in page and f">{case.image_sha256}<" not in page


def test_the_model_version_page_shows_a_table_of_metrics_and_no_path(client, administrator):
    version = model_version("table-v1")
    ModelVersion.objects.filter(pk=version.pk).update(metrics=METRICS, file="/home/dev/work/own.tflite")
    client.force_login(administrator)
    page = client.get(reverse("admin:classifier_modelversion_change", args=[version.pk])).content.decode()
    assert "<caption>Per class</caption>" in page and "<td>0.926</td>" in page and "<td>0.941</td>" in page
    assert "COVID-19" in page and "own.tflite" in page
    assert "/home/dev" not in page and '"per_class"' not in page and "&quot;per_class&quot;" not in page


def test_putting_the_active_version_on_trial_says_why_nothing_happened(client, administrator):
    served = served_model_version()
    client.force_login(administrator)
    response = client.post(CHANGELIST, {"action": "start_trial", "_selected_action": [served.pk]}, follow=True)
    said = [str(m) for m in response.context["messages"]]
    assert said == [f"{served.name} was not put on trial: it is the active version, already served to everyone."]
    candidate = model_version("candidate-v9")
    response = client.post(CHANGELIST, {"action": "start_trial", "_selected_action": [candidate.pk]}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["1 version(s) on trial: candidate-v9."]


def test_the_activation_page_of_the_active_version_only_says_it_is_active(client, administrator):
    served = served_model_version()
    client.force_login(administrator)
    page = client.get(reverse("audit:confirm_activation", args=[served.pk])).content.decode()
    assert f"{served.name} is the active model" in page and "there is nothing to activate" in page
    assert f"Activate {served.name}?" not in page and "instead of" not in page and 'name="evidence"' not in page


def test_the_audit_trail_shows_words_the_patient_number_and_the_override_note_also_in_the_csv(
        client, administrator, clinic, staff, radiologist):
    from cases.reviews.services import sign_review
    from tests.factories import predicted_case
    from tests.test_audit_pages import read_csv

    case, _ = predicted_case(clinic, staff, "covid", mrn="AUD-7")
    sign_review(case=case, reviewer=radiologist, finding="normal", note="Clear lungs on second look")
    client.force_login(administrator)
    page = client.get(reverse("audit:events"), {"action": "review_overridden"}).content.decode()
    assert "<td>Review overridden</td>" in page and "review_overridden</td>" not in page
    assert ">AUD-7</a>" in page and "Clear lungs on second look" in page
    [row] = read_csv(client.get(reverse("audit:export"), {"action": "review_overridden"}))
    assert (row["what"], row["patient"], row["action"]) == ("Review overridden", "AUD-7", "review_overridden")
    assert json.loads(row["details"])["note"] == "Clear lungs on second look"


def test_typed_reasons_end_with_one_full_stop_and_lists_with_no_trailing_semicolon(client, clinic, staff,
                                                                                    radiologist):
    from cases.reviews.services import amend_review, sign_review
    from tests.factories import predicted_case

    case, _ = predicted_case(clinic, staff, "covid", mrn="DOT-1", symptoms="cough;")
    first = sign_review(case=case, reviewer=radiologist, finding="covid")
    amend_review(review=first, reviewer=radiologist, finding="normal", note="x", reason="Second look.")
    client.force_login(staff)
    for url in (reverse("cases:case_detail", args=[case.public_id]), reverse("cases:report", args=[case.public_id])):
        page = client.get(url).content.decode()
        assert "reason: Second look." in page and "Second look.." not in page, url
    page = client.get(reverse("cases:report", args=[case.public_id])).content.decode()
    assert "Earlier reviews: COVID-19 by" in page and "cough. SpO2 93 %." in page
    assert ";<" not in page and "; <" not in page and "cough;" not in page


def test_every_date_input_takes_iso_dates_as_text_not_the_browsers_locale(client, administrator, radiologist, staff):
    import re

    pages = [(radiologist, reverse("cases:worklist"), ["submitted_from", "submitted_to"]),
             (administrator, reverse("audit:events"), ["since", "until"]),
             (staff, reverse("cases:case_new"), ["onset_date"])]
    for user, url, names in pages:
        client.force_login(user)
        page = client.get(url).content.decode()
        assert 'type="date"' not in page, url
        for name in names:
            tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)
            assert 'type="text"' in tag, (url, tag)
    assert "As YYYY-MM-DD, for example 2026-03-01." in page  # the new-case form says the format in words
    client.force_login(radiologist)
    response = client.get(reverse("cases:worklist"), {"submitted_from": "2026-03-01"})
    assert response.context["form"].filters().submitted_from.isoformat() == "2026-03-01"

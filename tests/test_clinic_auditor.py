"""A clinic auditor (the "Clinic auditors" role, given in the admin) sees their clinic's audit trail, CSV, case
timelines, oversight and validation, and nothing of other clinics; the activation comparison is not theirs."""

import pytest
from django.urls import reverse

from cases.models import AuditEvent
from classifier.models import ModelVersion
from tests.factories import predicted_case, served_model_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_clinics_cases(clinic, other_clinic, staff, other_staff):
    ours, _ = predicted_case(clinic, staff, "covid", mrn="HILL-7")
    theirs, _ = predicted_case(other_clinic, other_staff, "covid", mrn="RIVER-9")
    for case in (ours, theirs):
        AuditEvent.objects.create(action=AuditEvent.Action.CASE_SUBMITTED, case=case, clinic=case.clinic,
                                  actor_label="nurse", details={"mrn": case.patient.mrn})
    return ours, theirs


def test_a_clinic_auditor_sees_only_their_clinics_events_csv_and_timelines(client, one_clinic_auditor,
                                                                           two_clinics_cases, other_clinic):
    ours, theirs = two_clinics_cases
    client.force_login(one_clinic_auditor)
    events = client.get(reverse("audit:events")).content.decode()
    assert str(ours.public_id) in events and str(theirs.public_id) not in events
    export = client.get(reverse("audit:export"))
    body = b"".join(export.streaming_content).decode()
    assert "HILL-7" in body and "RIVER-9" not in body and str(theirs.public_id) not in body
    assert client.get(reverse("audit:events"), {"clinic": other_clinic.pk}).status_code == 200
    assert str(theirs.public_id) not in client.get(reverse("audit:events"), {"clinic": other_clinic.pk}).content.decode()
    assert client.get(reverse("audit:timeline", args=[ours.public_id])).status_code == 200
    assert client.get(reverse("audit:timeline", args=[theirs.public_id])).status_code == 404


def test_an_administrator_still_sees_every_clinic(client, administrator, two_clinics_cases):
    ours, theirs = two_clinics_cases
    client.force_login(administrator)
    body = b"".join(client.get(reverse("audit:export")).streaming_content).decode()
    assert "HILL-7" in body and "RIVER-9" in body
    assert client.get(reverse("audit:timeline", args=[theirs.public_id])).status_code == 200


def test_a_clinic_auditor_gets_no_activation_comparison(client, one_clinic_auditor):
    served_model_version("served-v1")
    other = ModelVersion.objects.create(name="v2", architecture="tiny", file="v2.tflite", sha256="1" * 64)
    client.force_login(one_clinic_auditor)
    assert client.get(reverse("audit:confirm_activation", args=[other.pk])).status_code == 403

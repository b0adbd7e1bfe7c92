"""Staff withdraw a case whose film the input gate refused, or send a better image: audited, the first
case and its image kept, nothing filed when a radiologist read it meanwhile."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases import storage
from cases.models import AuditEvent, Case
from cases.reviews.services import sign_review
from cxrsite.testing.images import png_bytes
from tests.factories import predicted_case, refused_case


def upload(seed=7):
    return SimpleUploadedFile("better.png", png_bytes(seed=seed), content_type="image/png")


@pytest.fixture
def refused(clinic, staff):
    case, _ = refused_case(clinic, staff, mrn="RF-1")
    return case


@pytest.fixture(autouse=True)
def no_queue(monkeypatch):
    monkeypatch.setattr("cases.intake.services.enqueue_case", lambda case_id: None)


def test_staff_see_both_choices_only_on_a_refused_case_awaiting_its_read(client, staff, clinic, refused):
    client.force_login(staff)
    page = client.get(reverse("cases:case_detail", args=[refused.public_id])).content.decode()
    assert "Withdraw this case" in page and "Send the new image" in page
    passed, _ = predicted_case(clinic, staff, "covid", mrn="RF-2")
    page = client.get(reverse("cases:case_detail", args=[passed.public_id])).content.decode()
    assert "Withdraw this case" not in page


def test_withdrawing_keeps_the_case_and_its_image_and_takes_it_off_the_worklist(client, staff, radiologist,
                                                                               refused):
    client.force_login(staff)
    response = client.post(reverse("cases:withdraw", args=[refused.public_id]))
    assert response.status_code == 302
    refused.refresh_from_db()
    assert refused.status == Case.Status.WITHDRAWN and storage.open_file(refused.image_name).read()
    event = AuditEvent.objects.get(action=AuditEvent.Action.CASE_WITHDRAWN)
    assert (event.case, event.actor, event.details) == (refused, staff, {"gate_reason": "not_radiograph"})
    assert "Withdrawn by the clinic." in client.get(reverse("cases:case_detail", args=[refused.public_id])).content.decode()
    client.force_login(radiologist)
    assert "RF-1" not in client.get(reverse("cases:worklist")).content.decode()


def test_a_better_image_is_filed_as_a_new_case_and_the_first_is_kept(client, staff, refused):
    client.force_login(staff)
    response = client.post(reverse("cases:replace_image", args=[refused.public_id]), {"image": upload()})
    new = Case.objects.exclude(pk=refused.pk).get()
    assert response.status_code == 302 and response["Location"] == reverse("cases:case_detail", args=[new.public_id])
    refused.refresh_from_db()
    assert (refused.status, refused.replaced_by) == (Case.Status.WITHDRAWN, new)
    assert (new.patient, new.status, new.view, new.symptoms) == (refused.patient, Case.Status.SUBMITTED,
                                                                 refused.view, refused.symptoms)
    assert new.image_sha256 != refused.image_sha256 and storage.open_file(refused.image_name).read()
    event = AuditEvent.objects.get(action=AuditEvent.Action.CASE_IMAGE_REPLACED)
    assert event.case == refused and event.details["replaced_by"] == str(new.public_id)
    assert event.details["first_image_sha256"] == refused.image_sha256
    page = client.get(reverse("cases:case_detail", args=[new.public_id])).content.decode()
    assert "replaces" in page and reverse("cases:case_detail", args=[refused.public_id]) in page


def test_nothing_is_filed_when_a_radiologist_read_it_first(client, staff, radiologist, refused, settings):
    sign_review(case=refused, reviewer=radiologist, finding="unusable")
    client.force_login(staff)
    client.post(reverse("cases:replace_image", args=[refused.public_id]), {"image": upload()})
    client.post(reverse("cases:withdraw", args=[refused.public_id]))
    assert Case.objects.count() == 1 and Case.objects.get().status == Case.Status.REVIEWED
    assert not AuditEvent.objects.filter(action__in=["case_withdrawn", "case_image_replaced"]).exists()


def test_a_bad_replacement_is_refused_on_the_page_and_leaves_nothing(client, staff, refused):
    client.force_login(staff)
    response = client.post(reverse("cases:replace_image", args=[refused.public_id]),
                           {"image": SimpleUploadedFile("x.png", b"not an image", content_type="image/png")})
    assert response.status_code == 400 and 'aria-invalid="true"' in response.content.decode()
    assert Case.objects.count() == 1 and Case.objects.get().status == Case.Status.PREDICTED


def test_outsiders_radiologists_and_wrong_methods_are_refused(client, other_staff, radiologist, refused):
    client.force_login(other_staff)
    assert client.post(reverse("cases:withdraw", args=[refused.public_id])).status_code == 404
    client.force_login(radiologist)
    assert client.post(reverse("cases:withdraw", args=[refused.public_id])).status_code == 403
    assert client.get(reverse("cases:withdraw", args=[refused.public_id])).status_code == 405
    assert Case.objects.get().status == Case.Status.PREDICTED

"""Notifications to people: email and SMS go out once per signed result to the clinic's staff who chose them,
an urgent case to the radiologists on duty; no patient data in them; audited; each person chooses."""

import pytest
from django.core import mail
from django.urls import reverse

from cases.audit.actors import Actor
from cases.intake.checks import CaseDetails, check_upload
from cases.intake.services import submit_case
from cases.models import AuditEvent, Notification, NotificationChoice
from cases.notifications import services
from cases.reviews.services import amend_review, sign_review
from cxrsite.testing.images import png_bytes
from tests.conftest import make_user
from tests.factories import predicted_case

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _backends(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CXR_SMS_BACKEND = "cases.notifications.sms.FileBackend"
    settings.CXR_SMS_FILE_PATH = tmp_path / "sms"
    settings.CXR_SITE_URL = "https://cxr.example.org"


def choose(user, *, email: str = "", phone: str = "", on_duty: bool = False) -> None:
    user.email = email
    user.save()
    NotificationChoice.objects.create(user=user, by_email=bool(email), by_sms=bool(phone), phone=phone,
                                      on_duty=on_duty)


def run_worker() -> list[str]:
    """Send every waiting notification as the worker does, twice over (a message delivered twice)."""
    waiting = list(Notification.objects.filter(status=Notification.Status.WAITING).values_list("pk", flat=True))
    return [services.send_notification(pk, worker_host="test") for pk in waiting + waiting]


def texts(settings) -> list[str]:
    folder = settings.CXR_SMS_FILE_PATH
    return sorted(path.read_text() for path in folder.glob("*.txt")) if folder.exists() else []


def test_a_signed_result_goes_once_by_email_and_sms_to_the_staff_who_chose_them(settings, clinic, staff,
                                                                                 radiologist):
    choose(staff, email="nurse@hillside.example", phone="+254712345678")
    quiet = make_user("quiet_nurse", "Clinic staff", clinic)  # chose nothing
    choose(make_user("sms_nurse", "Clinic staff", clinic), phone="+254700000001")
    case, _ = predicted_case(clinic, staff, "covid", mrn="SECRET-MRN-9")

    sign_review(case=case, reviewer=radiologist, finding="covid")
    run_worker()

    assert [message.to for message in mail.outbox] == [["nurse@hillside.example"]]
    sms = texts(settings)
    assert [text.splitlines()[0] for text in sms] == ["To: +254700000001", "To: +254712345678"]
    link = f"https://cxr.example.org/cases/{case.public_id}/"
    for text in [*sms, mail.outbox[0].body, mail.outbox[0].subject]:
        assert "SECRET-MRN-9" not in text and "COVID" not in text and "covid" not in text
    assert all(link in text and "Hillside Clinic" in text for text in [*sms, mail.outbox[0].body])
    assert not Notification.objects.filter(user=quiet).exists()
    sent = AuditEvent.objects.filter(action=AuditEvent.Action.NOTIFICATION_SENT, case=case)
    assert sorted(sent.values_list("details__channel", flat=True)) == ["email", "sms", "sms"]


def test_an_amendment_is_told_again_and_a_second_announcement_of_one_review_is_not(settings, clinic, staff,
                                                                                   radiologist):
    choose(staff, email="nurse@hillside.example")
    case, _ = predicted_case(clinic, staff, "covid")
    review = sign_review(case=case, reviewer=radiologist, finding="covid")
    services.announce_result(case=case, review=review)  # again: the unique key makes it a no-op
    amend_review(review=review, reviewer=radiologist, finding="normal", note="Second look.", reason="Misread.")
    run_worker()
    assert sorted(message.subject for message in mail.outbox) == [
        "CXR Triage: a radiologist amended the signed result of a case at Hillside Clinic",
        "CXR Triage: a radiologist signed the result of a case at Hillside Clinic"]


def test_an_urgent_case_tells_the_radiologists_on_duty_of_its_clinic_only(settings, clinic, other_clinic, staff,
                                                                          radiologist, other_radiologist):
    choose(radiologist, phone="+254712345670", on_duty=True)
    choose(other_radiologist, phone="+254712345671", on_duty=True)
    off_duty = make_user("off_duty", "Radiologists", clinic)
    choose(off_duty, phone="+254712345672", on_duty=False)
    details = CaseDetails(mrn="U-1", birth_year=1960, sex="F", view="PA", urgent=True)
    submit_case(actor=Actor.of_user(staff), clinic=clinic, details=details,
                upload=check_upload(png_bytes(256), filename="chest.png"))
    submit_case(actor=Actor.of_user(staff), clinic=clinic, details=CaseDetails(mrn="U-2", birth_year=1960, sex="F",
                                                                               view="PA"),
                upload=check_upload(png_bytes(256), filename="chest.png"))  # not urgent
    run_worker()
    assert [text.splitlines()[0] for text in texts(settings)] == ["To: +254712345670"]
    assert "an urgent case arrived at Hillside Clinic" in texts(settings)[0]


def test_a_channel_that_fails_is_retried_then_marked_failed_and_audited(settings, clinic, staff, radiologist):
    choose(staff, email="nurse@hillside.example")
    settings.EMAIL_BACKEND = "tests.test_notifications.RefusingBackend"
    case, _ = predicted_case(clinic, staff, "covid")
    sign_review(case=case, reviewer=radiologist, finding="covid")
    notification = Notification.objects.get()
    with pytest.raises(services.NotSent):
        services.send_notification(notification.pk, worker_host="test")
    assert services.fail_notification(notification.pk, worker_host="test")
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", 1)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.NOTIFICATION_FAILED).count() == 1


class RefusingBackend:
    def __init__(self, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("the mail server is down")


def test_each_person_chooses_on_their_page_and_the_choice_is_audited(client, staff):
    staff.email = "nurse@hillside.example"
    staff.save()
    client.force_login(staff)
    page = client.get(reverse("cases:notifications"))
    assert page.status_code == 200 and "on_duty" not in page.content.decode()  # only radiologists are on duty

    refused = client.post(reverse("cases:notifications"), {"by_sms": "on", "phone": "0712 345"})
    assert refused.status_code == 200 and "international format" in refused.content.decode()

    saved = client.post(reverse("cases:notifications"), {"by_email": "on", "by_sms": "on", "phone": "+254 712 345 678"})
    assert saved.status_code == 302
    choice = NotificationChoice.objects.get(user=staff)
    assert (choice.by_email, choice.by_sms, choice.phone) == (True, True, "+254712345678")
    assert AuditEvent.objects.filter(action=AuditEvent.Action.USER_CHANGED, details__model="notificationchoice").exists()


def test_a_radiologist_can_say_they_are_on_duty(client, radiologist):
    client.force_login(radiologist)
    assert "on_duty" in client.get(reverse("cases:notifications")).content.decode()
    client.post(reverse("cases:notifications"), {"on_duty": "on"})
    assert NotificationChoice.objects.get(user=radiologist).on_duty

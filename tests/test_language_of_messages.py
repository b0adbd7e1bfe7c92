"""Emails and text messages go out in their recipient's language (Profile.language), whoever's request or
worker made them; texts stored in English are shown in the reader's.

The French catalogue does not exist yet (locale/ is filled after all marking is merged): each test writes
a tiny one of its own into a temporary LOCALE_PATHS, so what it checks is the text a French reader gets.
"""

import struct

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import translation

from cases.alerts import mail_administrators
from cases.audit.selectors import ACTION_WORDS
from cases.models import AuditEvent, NotificationChoice, Profile
from cases.notifications import services
from cases.notifications.services import SUBJECTS
from cases.reviews.services import sign_review
from cases.words import shown
from classifier.imaging import NOT_AN_IMAGE, TEXT
from cases.classification.faults import IMAGE_FAILURE
from tests.conftest import make_user
from tests.factories import predicted_case

pytestmark = pytest.mark.django_db

SIGNED = SUBJECTS["result_signed"]
OPEN_IT = "%(subject)s. Open it: %(link)s"
FRENCH = {
    SIGNED: "CXR Triage : un radiologue a signé le résultat d'un cas à %(clinic)s",
    OPEN_IT: "%(subject)s. Ouvrez-le : %(link)s",
    IMAGE_FAILURE: "L'image n'a pas pu être classée : %(reason)s",
    NOT_AN_IMAGE: "Ce fichier n'est pas une image PNG, JPEG ou DICOM (il ressemble à %(looks_like)s).",
    TEXT: "un fichier texte",
    "Awaiting review": "En attente de lecture",
}


def write_mo(path, catalogue: dict[str, str]) -> None:
    """A GNU .mo file (the format msgfmt writes), so the test needs no gettext tools."""
    entries = {"": "Content-Type: text/plain; charset=UTF-8\nPlural-Forms: nplurals=2; plural=(n > 1);\n",
               **catalogue}
    keys = sorted(entries)
    ids, strs = [key.encode() for key in keys], [entries[key].encode() for key in keys]
    start = 7 * 4 + 16 * len(keys)
    offsets, data = [], b""
    for text in ids + strs:
        offsets.append((len(text), start + len(data)))
        data += text + b"\0"
    header = struct.pack("<7I", 0x950412DE, 0, len(keys), 28, 28 + 8 * len(keys), 0, start)
    table = b"".join(struct.pack("<2I", *pair) for pair in offsets)
    path.parent.mkdir(parents=True)
    path.write_bytes(header + table + data)


@pytest.fixture
def french(settings, tmp_path):
    write_mo(tmp_path / "locale" / "fr" / "LC_MESSAGES" / "django.mo", FRENCH)
    settings.LOCALE_PATHS = [tmp_path / "locale"]  # Django drops its loaded catalogues when this changes
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.CXR_SMS_BACKEND = "cases.notifications.sms.FileBackend"
    settings.CXR_SMS_FILE_PATH = tmp_path / "sms"
    settings.CXR_SITE_URL = "https://cxr.example.org"
    with translation.override("fr"):
        assert translation.gettext(OPEN_IT) == FRENCH[OPEN_IT]  # the catalogue is in force


def speaks(user, language: str) -> None:
    Profile.objects.create(user=user, language=language)


def test_a_user_who_chose_french_gets_the_result_email_and_text_in_french(french, settings, clinic, staff,
                                                                           radiologist):
    english = make_user("english_nurse", "Clinic staff", clinic)
    for user, address in ((staff, "nurse@hillside.example"), (english, "english@hillside.example")):
        user.email = address
        user.save()
        NotificationChoice.objects.create(user=user, by_email=True, by_sms=user == staff, phone="+254712345678")
    speaks(staff, "fr")
    case, _ = predicted_case(clinic, staff, "covid", mrn="FR-1")

    with translation.override("en-gb"):  # the radiologist signs in English; the worker sends later
        sign_review(case=case, reviewer=radiologist, finding="covid")
        for pk in services.Notification.objects.values_list("pk", flat=True):
            services.send_notification(pk, worker_host="test")

    by_address = {message.to[0]: message for message in mail.outbox}
    french_subject = "CXR Triage : un radiologue a signé le résultat d'un cas à Hillside Clinic"
    assert by_address["nurse@hillside.example"].subject == french_subject
    assert by_address["nurse@hillside.example"].body.startswith(f"{french_subject}. Ouvrez-le : https://")
    [sms] = (settings.CXR_SMS_FILE_PATH).glob("*.txt")
    assert f"{french_subject}. Ouvrez-le : https://cxr.example.org/cases/{case.public_id}/" in sms.read_text()
    assert by_address["english@hillside.example"].subject == \
        "CXR Triage: a radiologist signed the result of a case at Hillside Clinic"


def test_each_administrator_is_alerted_in_their_own_language(french, administrator):
    administrator.email = "admin@hospital.example"
    administrator.save()
    speaks(administrator, "fr")
    other = make_user("other_admin", "Administrators")
    other.email = "other@hospital.example"
    other.save()

    assert mail_administrators(message=lambda: (translation.gettext(OPEN_IT) % {"subject": "S", "link": "L"}, "body"))

    subjects = {message.to[0]: message.subject for message in mail.outbox}
    assert subjects == {"admin@hospital.example": "S. Ouvrez-le : L", "other@hospital.example": "S. Open it: L"}


def test_a_failure_reason_stored_in_english_is_shown_in_the_readers_language(french):
    stored = "The image could not be classified: This file is not a PNG, JPEG or DICOM image (it looks like a text file)."

    with translation.override("fr"):
        assert shown(stored) == ("L'image n'a pas pu être classée : Ce fichier n'est pas une image PNG, JPEG ou "
                                 "DICOM (il ressemble à un fichier texte).")
    with translation.override("en-gb"):
        assert shown(stored) == stored
    assert shown("A reason written before any template knew it.") == "A reason written before any template knew it."


def test_the_api_stays_in_english_for_a_user_who_reads_the_pages_in_french(french, client, clinic, staff):
    speaks(staff, "fr")
    case, _ = predicted_case(clinic, staff, "covid", mrn="FR-2")
    client.force_login(staff)

    assert client.get(reverse("cases:case_list")).headers["Content-Language"] == "fr"
    assert client.get(reverse("api:case", args=[case.public_id])).json()["status_display"] == "Awaiting review"


def test_every_audit_action_has_its_words_marked_for_translation():
    assert set(ACTION_WORDS) == set(AuditEvent.Action.values)

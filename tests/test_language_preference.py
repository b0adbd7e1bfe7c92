"""Each person's language: chosen with the switcher on any page, kept on their profile so it follows them
to their next login, else the language cookie chosen before logging in, else the browser's; the page says
its language in <html lang> and, for Arabic, turns right to left."""

import re

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation

from cases.models import Profile
from tests.conftest import PASSWORD
from tests.factories import predicted_case

pytestmark = pytest.mark.django_db

WITH_ARABIC = [("en-gb", "English"), ("fr", "Français"), ("pt", "Português"), ("es", "Español"),
               ("sw", "Kiswahili"), ("ar", "العربية")]


def html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)" dir="(ltr|rtl)"', response.content.decode()).group(1)


def html_dir(response) -> str:
    return re.search(r'<html lang="[^"]+" dir="(ltr|rtl)"', response.content.decode()).group(1)


def signed_in(user, **headers) -> Client:
    """Logged in through the login form, as a person does."""
    client = Client(**headers)
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, "the login failed"
    return client


def in_language(language: str, msgid: str) -> str:
    with translation.override(language):
        return translation.gettext(msgid)


def test_a_language_chosen_with_the_switcher_follows_the_user_to_their_next_login(staff):
    client = signed_in(staff)
    case_list = reverse("cases:case_list")
    response = client.post(reverse("choose_language"), {"language": "fr", "next": case_list})
    assert response.status_code == 302 and response["Location"] == case_list
    assert Profile.objects.get(user=staff).language == "fr"
    client.post(reverse("logout"))

    # Another browser, no cookie: the profile decides.
    later = signed_in(staff)
    page = later.get(case_list)
    assert html_lang(page) == "fr" and page["Content-Language"] == "fr"
    assert in_language("fr", "Log out") != "Log out"
    assert in_language("fr", "Log out") in page.content.decode()


def test_someone_not_signed_in_chooses_on_the_login_page_and_the_login_page_comes_back_in_it(db):
    client = Client()
    login = reverse("login")
    response = client.post(reverse("choose_language"), {"language": "sw", "next": login})
    assert response.status_code == 302 and response["Location"] == login
    page = client.get(login)
    assert html_lang(page) == "sw"
    assert in_language("sw", "Log in") != "Log in" and in_language("sw", "Log in") in page.content.decode()


def test_the_browsers_language_is_used_until_the_user_chooses_and_their_choice_wins_after(staff):
    client = signed_in(staff, HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9,en;q=0.5")
    assert html_lang(client.get(reverse("cases:case_list"))) == "es"
    Profile.objects.create(user=staff, language="pt")
    assert html_lang(client.get(reverse("cases:case_list"))) == "pt"


def test_a_language_that_is_not_switched_on_is_refused_and_changes_nothing(staff):
    client = signed_in(staff)
    for code in ("ar", "de", ""):
        response = client.post(reverse("choose_language"), {"language": code, "next": "/"})
        assert response.status_code == 400
    assert not Profile.objects.filter(user=staff).exists()
    assert html_lang(client.get(reverse("cases:case_list"))) == "en-gb"


def test_the_switcher_never_sends_anyone_to_another_site(staff):
    client = signed_in(staff)
    response = client.post(reverse("choose_language"), {"language": "es", "next": "https://elsewhere.example/x"})
    assert response.status_code == 302 and response["Location"] == reverse("cases:home")


def test_every_page_offers_each_language_in_its_own_name_with_the_current_one_chosen(staff, radiologist,
                                                                                     administrator):
    Profile.objects.create(user=radiologist, language="pt")
    for user, url in ((staff, reverse("cases:case_list")), (radiologist, reverse("cases:worklist")),
                      (administrator, reverse("audit:events"))):
        html = signed_in(user).get(url).content.decode()
        switcher = html[html.index('id="language-choice"'):]
        switcher = switcher[:switcher.index("</select>")]
        names = re.findall(r'<option value="([^"]+)" lang="[^"]+"( selected)?>([^<]+)</option>', switcher)
        assert [(code, name) for code, _, name in names] == [
            ("en-gb", "English"), ("fr", "Français"), ("pt", "Português"), ("es", "Español"), ("sw", "Kiswahili")]
        chosen = [code for code, selected, _ in names if selected]
        assert chosen == (["pt"] if user == radiologist else ["en-gb"])


def test_the_printed_report_comes_out_in_the_users_language(clinic, staff):
    case, _ = predicted_case(clinic, staff, "covid", mrn="LANG-1")
    Profile.objects.create(user=staff, language="es")
    html = signed_in(staff).get(reverse("cases:report", args=[case.public_id])).content.decode()
    assert 'lang="es"' in html
    disclaimer = ("CXR Triage is research software, not a diagnostic device. Every AI suggestion must be confirmed "
                  "by a qualified radiologist.")
    assert in_language("es", disclaimer) != disclaimer
    assert in_language("es", disclaimer) in html and disclaimer not in html


@override_settings(LANGUAGES=WITH_ARABIC)
def test_with_arabic_switched_on_its_pages_run_right_to_left_with_bootstraps_rtl_styles(staff):
    Profile.objects.create(user=staff, language="ar")
    page = signed_in(staff).get(reverse("cases:case_list"))
    assert html_lang(page) == "ar" and html_dir(page) == "rtl"
    assert "bootstrap.rtl.min.css" in page.content.decode()
    Profile.objects.filter(user=staff).update(language="fr")
    page = signed_in(staff).get(reverse("cases:case_list"))
    assert html_dir(page) == "ltr" and "bootstrap.rtl.min.css" not in page.content.decode()


def test_a_profile_language_switched_off_later_falls_back_to_the_browsers(staff):
    Profile.objects.create(user=staff, language="ar")  # Arabic is off by default
    page = signed_in(staff, HTTP_ACCEPT_LANGUAGE="fr").get(reverse("cases:case_list"))
    assert html_lang(page) == "fr"


def test_a_deployment_that_names_a_language_without_a_catalogue_or_drops_english_does_not_start(tmp_path):
    from tests.test_deploy_settings import manage, production_env
    result = manage("check", env={**production_env(tmp_path), "CXR_LANGUAGES": "en-gb,fr,de"})
    assert result.returncode != 0 and "no catalogue for: ['de']" in result.stderr
    result = manage("check", env={**production_env(tmp_path), "CXR_LANGUAGES": "fr,pt"})
    assert result.returncode != 0 and "CXR_LANGUAGES must keep en-gb" in result.stderr
    result = manage("check", env={**production_env(tmp_path), "CXR_LANGUAGES": "en-gb,fr,pt,es,sw,ar"})
    assert result.returncode == 0, result.stderr


def test_clinical_dates_stay_iso_while_other_dates_follow_the_language(clinic, staff, administrator):
    from django.utils import formats, timezone
    case, _ = predicted_case(clinic, staff, "covid", mrn="LANG-ISO")
    Profile.objects.create(user=staff, language="fr")
    html = signed_in(staff).get(reverse("cases:case_detail", args=[case.public_id])).content.decode()
    assert timezone.localtime(case.created).strftime("%Y-%m-%d %H:%M") in html

    Profile.objects.create(user=administrator, language="fr")
    html = signed_in(administrator).get(reverse("audit:oversight")).content.decode()
    with translation.override("fr"):
        french_day = formats.date_format(timezone.localtime(), "j M Y")
    with translation.override("en-gb"):
        english_day = formats.date_format(timezone.localtime(), "j M Y")
    assert french_day != english_day and french_day in html

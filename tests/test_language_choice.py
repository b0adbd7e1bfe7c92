"""Choosing the language: the switcher on a page posts the choice, and the page comes back in that language."""

import re
from html.parser import HTMLParser

from django.urls import reverse
from django.utils import translation


class LanguageSwitcher(HTMLParser):
    """The fields of a page's language switcher (the form that posts to choose_language), as a browser sends them."""

    def __init__(self, action: str):
        super().__init__()
        self.action = action
        self.found = False
        self.inside = False
        self.fields: dict[str, str] = {}
        self.languages: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("action") == self.action:
            self.found = self.inside = True
        elif self.inside and tag == "input" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value", "")
        elif self.inside and tag == "option":
            self.languages.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def switcher_of(page) -> LanguageSwitcher:
    switcher = LanguageSwitcher(reverse("choose_language"))
    switcher.feed(page.content.decode())
    return switcher


def html_lang(page) -> str:
    return re.search(r'<html lang="([^"]+)"', page.content.decode())[1]


def test_an_administrator_changes_the_language_from_an_admin_page_and_the_admin_comes_back_in_it(client,
                                                                                                 administrator):
    client.force_login(administrator)
    url = reverse("admin:cases_clinic_changelist")
    page = client.get(url)
    switcher = switcher_of(page)
    assert switcher.found and "fr" in switcher.languages
    assert html_lang(page) != "fr"

    chosen = client.post(reverse("choose_language"), {**switcher.fields, "language": "fr"})
    assert chosen.status_code == 302 and chosen.url == url

    again = client.get(chosen.url)
    assert html_lang(again) == "fr"
    with translation.override("fr"):
        log_out = translation.gettext("Log out")
    assert log_out != "Log out" and log_out in again.content.decode()  # the admin's "Log out", in French
    administrator.refresh_from_db()
    assert administrator.profile.language == "fr"  # and it follows them to their next log-in

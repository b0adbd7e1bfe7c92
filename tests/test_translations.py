"""The catalogues: every string marked in the code is translated in French, Portuguese, Spanish and Swahili
(none missing, none fuzzy), the Arabic preview says what it is and translates the frame of every page, and the clinical and safety
terms of locale/GLOSSARY.md are worded the glossary's way wherever they are used."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
COMPLETE = ["fr", "pt", "es", "sw"]
PARTIAL = ["ar"]
DOMAINS = ["django", "djangojs"]
# What the code is made of; the copy leaves out the virtual environment, data and the tests.
SOURCES = ["manage.py", "cxrsite", "cases", "classifier", "templates", "static", "locale"]


def catalogue(root: Path, language: str, domain: str) -> polib.POFile:
    return polib.pofile(str(root / "locale" / language / "LC_MESSAGES" / f"{domain}.po"))


@pytest.fixture(scope="module")
def remade(tmp_path_factory) -> Path:
    """A copy of the code with its catalogues brought up to date by the same command developers run: a
    string marked but missing from the committed catalogues shows up there untranslated."""
    copy = tmp_path_factory.mktemp("checkout")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "vendor"))
        else:
            shutil.copy2(source, copy / name)
    done = subprocess.run([sys.executable, "manage.py", "update_catalogues"], cwd=copy, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return copy


def describe(entries) -> list[str]:
    return [entry.msgid[:80] for entry in entries][:20]


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("language", COMPLETE)
def test_every_marked_string_is_translated_and_none_is_fuzzy(remade, language, domain):
    po = catalogue(remade, language, domain)
    assert len(po) > (100 if domain == "django" else 20), "the marked strings were not extracted"
    missing = [e for e in po if not e.translated() and not e.obsolete and "fuzzy" not in e.flags]
    fuzzy = [e for e in po if "fuzzy" in e.flags and not e.obsolete]
    assert describe(missing) == [], f"{language}/{domain}: {len(missing)} strings not translated"
    assert describe(fuzzy) == [], f"{language}/{domain}: {len(fuzzy)} fuzzy entries"


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("language", COMPLETE + PARTIAL)
def test_the_committed_catalogues_are_the_up_to_date_ones(remade, language, domain):
    # A catalogue remade from the code has the same entries as the committed one: no translation waits in a
    # developer's copy, and no obsolete entry lingers.
    assert ({e.msgid for e in catalogue(ROOT, language, domain)}
            == {e.msgid for e in catalogue(remade, language, domain)})


def test_the_arabic_preview_says_what_it_is_and_translates_the_frame_of_every_page():
    readme = (ROOT / "locale" / "ar" / "README.md").read_text(encoding="utf-8")
    assert "preview" in readme.lower() and "switched off by default" in readme
    assert "ar" in settings.ALL_LANGUAGES and "ar" not in [code for code, _ in settings.LANGUAGES]
    po = catalogue(ROOT, "ar", "django")
    frame = ["Skip to content", "Log out", "Language", "Change language"]
    translated = {e.msgid: e.msgstr for e in po if e.translated()}
    assert [msgid for msgid in frame if not translated.get(msgid)] == []


def glossary() -> list[dict]:
    rows = []
    lines = (ROOT / "locale" / "GLOSSARY.md").read_text(encoding="utf-8").splitlines()
    header = None
    for line in lines:
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not set(line) <= set("|- "):
            rows.append(dict(zip(header, cells)))
    return rows


def test_the_glossary_gives_every_term_a_wording_in_every_language_and_a_source():
    rows = glossary()
    assert len(rows) >= 12
    for row in rows:
        assert all(row[language] for language in COMPLETE + PARTIAL), row["term"]
        assert row["source"] and row["meaning"], row["term"]


def plain(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u00a0", " ").replace("\u202f", " ").casefold()


def wording_found(wording: str, text: str) -> bool:
    wording = plain(wording)
    if len(wording) <= 3:  # a short abbreviation ("IA", "AI") must stand as a word of its own
        return re.search(rf"(?<!\w){re.escape(wording)}(?!\w)", text) is not None
    return wording in text


def departures(language: str) -> list[str]:
    """Each translated message that uses a glossary term without the glossary's wording."""
    terms = sorted(glossary(), key=lambda row: len(row["term"]), reverse=True)
    found = []
    for domain in DOMAINS:
        for entry in catalogue(ROOT, language, domain):
            if not entry.translated():
                continue
            english = entry.msgid
            translations = [entry.msgstr] if not entry.msgstr_plural else list(entry.msgstr_plural.values())
            for row in terms:
                pattern = re.compile(rf"(?<!\w){re.escape(row['term'])}(?!\w)", re.IGNORECASE)
                if not pattern.search(english):
                    continue
                english = pattern.sub(" ", english)  # a longer term took these words
                wording = row["term"] if row[language] == "=" else row[language]
                for text in translations:
                    if not wording_found(wording, plain(text)):
                        found.append(f"{row['term']!r} in {entry.msgid[:60]!r}: {text[:60]!r}")
    return found


@pytest.mark.parametrize("language", COMPLETE + PARTIAL)
def test_the_glossary_terms_are_worded_the_glossary_way_wherever_they_are_used(language):
    assert departures(language) == []

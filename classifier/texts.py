"""The classifier's texts for people (labels, the gate's reasons, why an image is refused), marked for
translation without importing Django: serving modules must not (tests/test_architecture.py).

`gettext_noop` is named after Django's so that `makemessages` finds the texts; it returns the English and
remembers it, so the site can recognise the text again and show it in the reader's language
(cases/words.py). Each text is a whole sentence or name, with %(name)s placeholders for its values.
"""

MARKED: list[str] = []


def gettext_noop(text: str) -> str:
    MARKED.append(text)
    return text

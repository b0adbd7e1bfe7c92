"""What the training data cannot support, said beside a suggestion (decided from the birth year).

The model learnt viral pneumonia only from young children's films and COVID-19 almost only from
adults' (classifier/MODEL_CARD.md, "Population"): for an adult it cannot tell COVID-19 from
another viral pneumonia, and for a child it has hardly seen COVID-19 at all.
"""

from datetime import date

from django.utils.translation import gettext_noop

from classifier.labels import COVID, VIRAL_PNEUMONIA, display_name
from classifier.operating_point import LIKELY, POSSIBLE, UNLIKELY

# In English, as the API carries them; pages translate them (cases/templatetags/review_tags.py).

ADULT_AGE = 18
ADULT = gettext_noop("In adults the model cannot tell COVID-19 from other viral pneumonia: it saw viral pneumonia "
                     "only in young children. Read this suggestion as “viral-pattern pneumonia”.")
CHILD = gettext_noop("The model saw almost no COVID-19 films of children: for a child it can neither show nor rule "
                     "out COVID-19.")


VIRAL_PATTERN = gettext_noop("Viral-pattern pneumonia")
COVID_PATTERN = gettext_noop("COVID-19 pattern")
# What staff read instead of a percentage: one whole line for each pattern and word (`word_line`).
WORD_LINES = {
    (COVID_PATTERN, LIKELY): gettext_noop("COVID-19 pattern: likely"),
    (COVID_PATTERN, POSSIBLE): gettext_noop("COVID-19 pattern: possible"),
    (COVID_PATTERN, UNLIKELY): gettext_noop("COVID-19 pattern: unlikely"),
    (VIRAL_PATTERN, LIKELY): gettext_noop("Viral-pattern pneumonia: likely"),
    (VIRAL_PATTERN, POSSIBLE): gettext_noop("Viral-pattern pneumonia: possible"),
    (VIRAL_PATTERN, UNLIKELY): gettext_noop("Viral-pattern pneumonia: unlikely"),
}


def is_adult(birth_year: int | None, *, today: date | None = None) -> bool:
    return birth_year is not None and (today or date.today()).year - birth_year >= ADULT_AGE


def staff_label(label: str, birth_year: int | None) -> str:
    """The suggestion's name for clinic staff: for an adult, COVID-19 and viral pneumonia are one
    "viral-pattern pneumonia", the caveat made the label rather than a contradiction of it."""
    return VIRAL_PATTERN if is_adult(birth_year) and label in (COVID, VIRAL_PNEUMONIA) else display_name(label)


def covid_pattern_name(birth_year: int | None) -> str:
    """What the COVID-19 probability's word is about, for this patient."""
    return VIRAL_PATTERN if is_adult(birth_year) else COVID_PATTERN


def word_line(word: str, birth_year: int | None) -> str:
    """'COVID-19 pattern: likely' (English, marked): the COVID-19 probability's word for this patient."""
    pattern = covid_pattern_name(birth_year)
    return WORD_LINES.get((pattern, word), f"{pattern}: {word}")


def caveat_for(label: str, birth_year: int | None, *, today: date | None = None) -> str:
    """The caveat for this suggestion and patient, or "" when the data supports it (or the age is unknown)."""
    if birth_year is None:
        return ""
    age = (today or date.today()).year - birth_year
    if age >= ADULT_AGE:
        return ADULT if label in (COVID, VIRAL_PNEUMONIA) else ""
    return CHILD

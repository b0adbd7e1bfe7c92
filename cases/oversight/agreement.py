"""Agreement with radiologists and overrides: the one definition every page and check uses.

The model page (per version and role), the clinic page (per clinic and week), its drift flags and the
validation evidence all count from `compared_reviews` and `OVERRIDDEN`, so they cannot disagree about
the same cases. A prediction that gave no suggestion (`Prediction.gives_suggestion`: the input gate
refused the film, or the model was in its uncertain band) is left out of both: a radiologist reading it by hand neither agreed with nor overrode the AI.
"""

from django.db.models import F, FilteredRelation, Q, QuerySet
from django.utils.translation import gettext_lazy

from ..models import PredictionQuerySet, Review

DEFINITION = gettext_lazy("Agreement with radiologists: of the reviewed cases on which the model gave a suggestion, the share "
                          "whose final finding (the review in force) is the suggested label. Override rate: of the first "
                          "signatures that answered a suggestion, the share that disagreed. A case with no suggestion (the "
                          "input gate refused the image, or the model was uncertain) counts neither as agreement nor as override. Served predictions and "
                          "a silent trial's are counted apart, by the role the version had when it wrote them.")

AGREES = Q(finding=F("suggestion__label"))
# Conditions on a review: it answered a suggestion; and disagreed with it.
ANSWERED = PredictionQuerySet.suggestion_condition("prediction__")
DISAGREED = ANSWERED & Q(agreed=False)
# The override rate's: first signatures (amendments come later) that answered a suggestion; and disagreed.
FIRST_ANSWERED = Q(amends__isnull=True) & ANSWERED
OVERRIDDEN = Q(amends__isnull=True) & DISAGREED


def compared_reviews(clinics=None, *, trial: bool | None = None, version=None) -> QuerySet[Review]:
    """One row per (review in force, prediction of its case that gave a suggestion): the prediction is
    `suggestion` (its `label`, `model_version_id`, `trial`), and the row agrees when it matches `AGREES`.
    `trial` keeps only one role's predictions (False: served), `version` one version's. Read `suggestion__*` in values() or
    annotate(): a further filter() on it would join the predictions a second time."""
    condition = PredictionQuerySet.suggestion_condition("case__predictions__")
    if trial is not None:
        condition &= Q(case__predictions__trial=trial)
    if version is not None:
        condition &= Q(case__predictions__model_version=version)
    reviews = Review.objects.in_force()
    if clinics is not None:
        reviews = reviews.filter(case__clinic__in=clinics)
    return (reviews.annotate(suggestion=FilteredRelation("case__predictions", condition=condition))
            .filter(suggestion__id__isnull=False))

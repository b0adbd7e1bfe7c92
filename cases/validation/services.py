"""Changing a clinic's AI state for a model version: silent -> live -> paused -> live, each change a
compare-and-set on `ClinicAIState` with its audit row in the same transaction (the one audit path).

The worklist reads the suggestion from columns of Case (`selectors.new_suggestion`), so a change of state also
rewrites the clinic's columns in that transaction: going live fills them from the version's exposed
predictions, pausing empties them. The next page and the next case follow the new state.
"""

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, FloatField, OuterRef, Q, Subquery, Value
from django.db.models.expressions import ExpressionWrapper
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce
from django.utils.translation import gettext, gettext_lazy, gettext_noop

from classifier.models import ModelVersion
from classifier.signals import model_activated

from ..audit.actors import Actor
from ..audit.services import record
from ..classification.reasons import UNCERTAIN
from ..models import AuditEvent, Case, ClinicAIState, Clinic, Prediction
from .evidence import CLINIC, GLOBAL, evidence_for

State = ClinicAIState.State


class StateChangeRefused(Exception):
    """The change cannot be made as asked; the message is for the person who asked."""


# One whole sentence for each state (never a translated state's name put into a sentence).
ALREADY = {State.SILENT: gettext_noop("%(clinic)s is already silent for %(version)s."),
           State.LIVE: gettext_noop("%(clinic)s is already live for %(version)s."),
           State.PAUSED: gettext_noop("%(clinic)s is already paused for %(version)s.")}


def change_state(*, clinic: Clinic, version: ModelVersion, state: str, actor: Actor, user=None,
                 covid_threshold: float | None = None, reason: str = "", details: dict | None = None) -> ClinicAIState:
    """Set the clinic's state for the version, audited, and bring its worklist columns in line.
    Steps, in one transaction: 1) lock (or create) the row, 2) refuse a change to the state it has,
    3) write the new state, 4) fill or empty the columns, 5) one `clinic_ai_state_changed` event."""
    with transaction.atomic():
        row, _ = ClinicAIState.objects.select_for_update().get_or_create(clinic=clinic, model_version=version)
        if row.state == state and (state != State.LIVE or row.covid_threshold == covid_threshold):
            raise StateChangeRefused(gettext(ALREADY[state]) % {"clinic": clinic.name, "version": version.name})
        before = row.state
        row.state, row.changed_by, row.reason = state, user, reason[:200]
        row.covid_threshold = covid_threshold if state == State.LIVE else row.covid_threshold
        row.save()
        if state == State.LIVE:
            expose_columns(clinic, version)
        else:
            hide_columns(clinic, version)
        record(AuditEvent.Action.CLINIC_AI_STATE_CHANGED, actor=actor, clinic=clinic, details={
            "model_version": version.name, "from": before, "to": state, "covid_threshold": row.covid_threshold,
            "reason": reason, **(details or {})})
    return row


def pause_clinic(*, clinic: Clinic, actor: Actor, user=None, reason: str = "", details: dict | None = None) -> int:
    """Pause every version the clinic is live for; how many were paused."""
    versions = ModelVersion.objects.filter(pk__in=clinic.ai_states.live().values("model_version_id"))
    for version in versions:
        change_state(clinic=clinic, version=version, state=State.PAUSED, actor=actor, user=user, reason=reason,
                     details=details)
    return len(versions)


def latest_shown(field: str):
    return Subquery(Prediction.objects.shown().filter(case=OuterRef("pk")).newest_first().values(field)[:1])


def expose_columns(clinic: Clinic, version: ModelVersion) -> int:
    """The columns of the clinic's cases whose latest shown prediction is this version's, with a suggestion; a case
    whose latest prediction is in the model's uncertain band gets that reason instead (a human read)."""
    cases = Case.objects.filter(clinic=clinic, gate_reason="").annotate(
        latest_version=latest_shown("model_version_id"), latest_uncertain=latest_shown("uncertain"),
    ).filter(latest_version=version.pk)
    Case.objects.filter(pk__in=cases.filter(latest_uncertain=True).values("pk")).update(gate_reason=UNCERTAIN)
    latest = Prediction.objects.shown().filter(case=OuterRef("pk")).newest_first()
    chosen = Case.objects.filter(pk__in=cases.filter(latest_uncertain=False).values("pk"))
    count = chosen.update(predicted_label=Subquery(latest.values("label")[:1]),
                          covid_probability=Subquery(latest.annotate(p=Cast(KT("probabilities__covid"), FloatField()))
                                                     .values("p")[:1]))
    # Cases already scored keep the priority of the threshold they were scored under (the prediction's own).
    threshold = Coalesce(Subquery(latest.values("covid_threshold")[:1]), Value(settings.CXR_COVID_PRIORITY_THRESHOLD))
    chosen.update(covid_priority=ExpressionWrapper(Q(covid_probability__gt=threshold), output_field=BooleanField()))
    return count


def hide_columns(clinic: Clinic, version: ModelVersion) -> int:
    """Empty the suggestion columns (and the model's "uncertain") of the clinic's cases whose latest shown
    prediction is this version's."""
    ours = Case.objects.filter(clinic=clinic).annotate(latest_version=latest_shown("model_version_id")).filter(
        latest_version=version.pk)
    Case.objects.filter(pk__in=ours.filter(gate_reason=UNCERTAIN).values("pk")).update(gate_reason="")
    cases = ours.exclude(predicted_label="", covid_probability=None)
    return Case.objects.filter(pk__in=cases.values("pk")).update(predicted_label="", covid_probability=None,
                                                                 covid_priority=False)


CHANGED = gettext_lazy("The evidence changed since you opened this page (a review was signed or amended, or cases "
                       "were scored): read it again before you decide.")


def go_live(*, clinic: Clinic, version: ModelVersion, choice: str, shown_digest: str, actor: Actor,
            user=None) -> ClinicAIState:
    """Switch the clinic live for the version at the chosen threshold ("global" or "clinic"), if the evidence
    passes the go-live rule at that threshold and is still what the page showed; audited with that evidence."""
    if choice not in (GLOBAL, CLINIC):
        raise StateChangeRefused(gettext("Choose the global threshold or the clinic's own."))
    evidence = evidence_for(clinic, version)
    if evidence.digest != shown_digest:
        raise StateChangeRefused(str(CHANGED))
    if not evidence.ready(choice):
        raise StateChangeRefused(gettext("Not ready: %(missing)s.") % {
            "missing": "; ".join(evidence.missing_by_choice[choice])})
    threshold = evidence.at_clinic.threshold if choice == CLINIC else None
    return change_state(clinic=clinic, version=version, state=State.LIVE, actor=actor, user=user,
                        covid_threshold=threshold, reason=f"go-live at the {choice} threshold",
                        details={"threshold_choice": choice, "evidence": evidence.as_details()})


def start_version(*, version: ModelVersion, user=None) -> list[Clinic]:
    """On activation: every clinic starts silent for the new version (it has no state row), except those whose
    evidence for it (its silent trial's re-scored cases count) already passes the go-live rule, which go live at
    the global threshold if it passes there, else at their own. Audited per clinic; the clinics made live."""
    actor = Actor.of_user(user) if user is not None else Actor.system()
    made_live = []
    live = ClinicAIState.objects.live().filter(model_version=version).values("clinic_id")
    for clinic in Clinic.objects.exclude(pk__in=live):
        evidence = evidence_for(clinic, version)
        if not evidence.ready_choices:
            continue
        choice = evidence.ready_choices[0]
        change_state(clinic=clinic, version=version, state=State.LIVE, actor=actor, user=user,
                     covid_threshold=evidence.at_clinic.threshold if choice == CLINIC else None,
                     reason="activated: its evidence for this version passes the go-live rule",
                     details={"threshold_choice": choice, "evidence": evidence.as_details()})
        made_live.append(clinic)
    return made_live


def start_version_on_activation(sender, version, user=None, **kwargs) -> None:
    start_version(version=version, user=user)


def connect() -> None:
    model_activated.connect(start_version_on_activation, sender=ModelVersion,
                            dispatch_uid="cases.validation.start_version")

"""The placement forms. They check shape (a known urgency, a reason given, a listed shelter);
placement.services enforces the rules (free beds, legal transitions), so pages and API refuse alike."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length, Optional

from accounts.forms import Form, choices, choose_one, must_choose
from errors import DomainError
from i18n import lazy_gettext as _l
from i18n import lazy_pgettext
from placement.models import DECLINE_REASONS, REJECT_REASONS, RequestStatus, Urgency
from shelters.forms import CaseForm, MultiCheckboxField

URGENCY_LABELS = {
    Urgency.EMERGENCY.value: _l("Emergency (tonight)"),
    Urgency.URGENT.value: _l("Urgent"),
    Urgency.ROUTINE.value: _l("Routine"),
}

# A request's state in a word, as lists and badges show it.
REQUEST_STATUS_NAMES = {
    RequestStatus.OPEN.value: lazy_pgettext("request status", "Open"),
    RequestStatus.RESERVED.value: lazy_pgettext("request status", "Reserved"),
    RequestStatus.ACCEPTED.value: lazy_pgettext("request status", "Accepted"),
    RequestStatus.ADMITTED.value: lazy_pgettext("request status", "Admitted"),
    RequestStatus.REJECTED.value: lazy_pgettext("request status", "Rejected"),
    RequestStatus.DECLINED.value: lazy_pgettext("request status", "Declined"),
    RequestStatus.EXPIRED.value: lazy_pgettext("request status", "Expired"),
    RequestStatus.CANCELLED.value: lazy_pgettext("request status", "Cancelled"),
}

# Every reason the victim may give for declining shelter, as the officer reads it.
DECLINE_LABELS = {
    "fear_of_traffickers": _l("Fear of the traffickers"),
    "wants_to_return_home": _l("Wants to return home"),
    "distrust_of_authorities": _l("Distrust of the authorities"),
    "family_or_children": _l("Family or children"),
    "shelter_too_far": _l("The shelter is too far"),
    "shelter_rules": _l("The shelter's rules"),
    "stays_with_family_or_friends": _l("Stays with family or friends"),
    "other": _l("Other (say why in the note)"),
}
assert set(DECLINE_LABELS) == set(DECLINE_REASONS), "a decline reason without a label"

# Every reason a shelter may give for rejecting a request, as the manager chooses it and every reader reads it.
REJECT_LABELS = {
    "no_free_bed": _l("No free bed after all"),
    "cannot_meet_needs": _l("Cannot meet the victim's needs"),
    "security_concern": _l("Security concern"),
    "no_staff_available": _l("No staff available"),
    "other": _l("Other reason"),
}
assert set(REJECT_LABELS) == set(REJECT_REASONS), "a reject reason without a label"

# Where a decision taken on the shelter's board sends the manager back to.
BACK_TO_BOARD = "board"


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class _Exclusions:
    """The shelters a requester may leave out, offered as checkboxes (no code to mistype on a phone)."""

    exclude = MultiCheckboxField(_l("Shelters to leave out"), choices=[], validators=[Optional()],
                                 description=_l("For example a shelter the victim must not be sent to."))
    urgency = SelectField(_l("Urgency"), choices=choose_one(URGENCY_LABELS.items()), validators=[must_choose()])

    def set_shelters(self, shelters: Iterable[tuple[str, str]]) -> None:
        self.exclude.choices = choices(shelters)  # type: ignore[attr-defined]

    def refuse(self, error: DomainError) -> bool:
        """As Form.refuse; the service names unknown excluded codes `shelters`."""
        found = super().refuse(error)  # type: ignore[misc]
        if "shelters" in error.fields:
            self.exclude.errors = [*self.exclude.errors, error.message]  # type: ignore[attr-defined]
            found = True
        return found


class NewRequestForm(_Exclusions, CaseForm):
    """Screen one: the pseudonymous profile (the case form's fields) and what the request adds."""


class CaseRequestForm(_Exclusions, Form):
    """A request for a case already recorded: only what the request adds."""

    region = StringField(_l("Region where the victim is now"), validators=[Optional(), Length(max=64)],
                         filters=[_strip], render_kw={"list": "regions"},
                         description=_l("Leave empty to use the case's region."))


class DecisionForm(Form):
    """Accept or admit: nothing to fill in, only where to go back to."""

    back = HiddenField(validators=[Optional(), AnyOf([BACK_TO_BOARD, ""])])


class ReserveForm(Form):
    shelter = HiddenField(validators=[InputRequired(), Length(max=16)], filters=[_strip])


class RejectForm(DecisionForm):
    reason = SelectField(_l("Reason for rejecting"), choices=choose_one(REJECT_LABELS.items()),
                         validators=[must_choose()])
    note = TextAreaField(_l("Note (required for other)"), validators=[Optional(), Length(max=1000)],
                         filters=[_strip], render_kw={"maxlength": 1000})


class DeclineForm(Form):
    reason = SelectField(_l("Why the victim declined"), choices=choose_one(DECLINE_LABELS.items()),
                         validators=[must_choose()])
    note = TextAreaField(_l("Note (required for other)"), validators=[Optional(), Length(max=1000)], filters=[_strip])


class CancelForm(Form):
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=1000)], filters=[_strip])

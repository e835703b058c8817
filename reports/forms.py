"""The action plan's forms: they check shape; reports.actions enforces the rules."""

from __future__ import annotations

from typing import Any

from wtforms import DateField, SelectField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from accounts.forms import Form, choices
from i18n import lazy_gettext as _l
from reports.actions import NOTE_MAX, TITLE_MAX
from reports.models import ActionStatus

ACTION_STATUSES = {ActionStatus.PLANNED.value: _l("Planned"), ActionStatus.IN_PROGRESS.value: _l("In progress"),
                   ActionStatus.DONE.value: _l("Done"), ActionStatus.DROPPED.value: _l("Dropped")}


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class _Checkboxes(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class ActionForm(Form):
    """A new action. With an alert (`alert`), it resolves the alert too, with `resolution`; `existing` links the
    alert to an action already recorded instead of recording a new one."""

    title = StringField(_l("What will be done"), validators=[Optional(), Length(max=TITLE_MAX)], filters=[_strip])
    owner = SelectField(_l("Owner organisation"), choices=[], validate_choice=False)
    due_on = DateField(_l("Due date"), validators=[Optional()])
    shelters = _Checkboxes(_l("Shelters it concerns"), choices=[], validate_choice=False)
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=NOTE_MAX)], filters=[_strip])
    existing = SelectField(_l("Or link the alert to an action already recorded"), choices=[], validate_choice=False)
    resolution = TextAreaField(_l("Resolution note for the alert"), validators=[Optional(), Length(max=2000)],
                               filters=[_strip])

    def values(self) -> dict[str, Any]:
        return {"title": self.title.data, "owner": self.owner.data or None, "due_on": self.due_on.data,
                "shelters": list(self.shelters.data or []), "note": self.note.data or None}


class ActionStatusForm(Form):
    status = SelectField(_l("Status"), choices=choices([("", "—"), *ACTION_STATUSES.items()]),
                         validators=[InputRequired(), DataRequired(message=_l("Choose a status."))])

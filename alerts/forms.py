"""The alert page's forms: an action note, resolving with one, acknowledging. They check shape;
alerts.services enforces the rules (a note is required, an alert is resolved once), so pages and API refuse alike."""

from __future__ import annotations

from typing import Any

from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from accounts.forms import Form
from alerts.services import NOTE_MAX
from i18n import lazy_gettext as _l


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class CommentForm(Form):
    note = TextAreaField(_l("Action note"), validators=[DataRequired(message=_l("Write the action note.")),
                                                        Length(max=NOTE_MAX)],
                         filters=[_strip], description=_l("What was done, or will be done, about this alert."))


class ResolveForm(Form):
    note = TextAreaField(_l("Action note"), validators=[DataRequired(message=_l("Resolving needs an action note.")),
                                                        Length(max=NOTE_MAX)],
                         filters=[_strip],
                         description=_l("Required: the action plan, or what was done, that closes this alert."))


class AcknowledgeForm(Form):
    """Only the CSRF token: acknowledging says "seen, being handled"."""

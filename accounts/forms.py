"""The sign-in and account-administration forms. They check shape; accounts.services enforces the rules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import flash, g, has_request_context, request
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from wtforms import (
    BooleanField,
    DateField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional

import i18n
from accounts.models import OrganisationKind, Role
from errors import DomainError
from extensions import db
from i18n import lazy_gettext as _l

try:
    from wtforms import (
        SelectChoice as _SelectChoice,  # WTForms 3.3 deprecates (value, label) tuples
    )
except ImportError:  # pragma: no cover - older WTForms take the tuples
    _SelectChoice = None


def choice(value: str, label: str) -> Any:
    """One option of a select or a set of checkboxes, in the shape the installed WTForms prefers."""
    return _SelectChoice(value, label) if _SelectChoice is not None else (value, label)


def choices(pairs: Iterable[tuple[str, str]]) -> list[Any]:
    return [choice(value, label) for value, label in pairs]


# The empty first option of every reason, outcome and status choice: nothing is pre-selected, so nothing is
# recorded that nobody chose.
CHOOSE = _l("Choose...")


def choose_one(pairs: Iterable[tuple[str, str]]) -> list[Any]:
    """The options after an empty "Choose..." one, which `must_choose` refuses."""
    return choices([("", CHOOSE), *pairs])


def must_choose() -> InputRequired:
    """Refuses a select left on "Choose..." (the browser sends it empty)."""
    return InputRequired(message=_l("Choose one."))


ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.SECRETARIAT: _l("Secretariat"),
    Role.SHELTER_MANAGER: _l("Shelter manager"),
    Role.POLICE: _l("Police"),
    Role.PARTNER: _l("International partner"),
}

ORGANISATION_KIND_LABELS = {
    OrganisationKind.POLICE: _l("Police directorate"),
    OrganisationKind.SHELTER_OPERATOR: _l("Shelter operator"),
    OrganisationKind.MINISTRY: _l("Ministry"),
    OrganisationKind.SECRETARIAT: _l("Secretariat"),
    OrganisationKind.NGO: _l("NGO"),
    OrganisationKind.INTERNATIONAL: _l("International partner"),
}


class Form(FlaskForm):
    """A form that can show a service's refusal beside the fields it names, in the page's language."""

    class Meta:
        def get_translations(self, form: Any) -> Any:
            # WTForms' own messages ("This field is required.") come from our catalogues (see i18n.py).
            return i18n.form_translations

        def wrap_formdata(self, form: Any, formdata: Any) -> Any:
            # A form kept when its session ran out comes back filled in on its page (accounts.views), to the
            # page's form whose fields it was: not to the page's other forms.
            kept = g.get("kept_formdata") if has_request_context() else None
            if formdata is _Auto and kept is not None and request.method == "GET":
                names = set(kept.keys())
                if names and names <= set(form._fields):
                    return kept
            return super().wrap_formdata(form, formdata)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self._fields.values():
            bind = getattr(field, "bind_reader_language", None)
            if bind is not None:  # options named in the reader's language (countries, languages)
                bind()

    def refuse(self, error: DomainError) -> bool:
        """Attach `error.message` to each named field this form has; True when one was found."""
        found = False
        for name in error.fields:
            field = self._fields.get(name)
            if field is not None and name != "csrf_token":
                field.errors = [*field.errors, error.message]
                found = True
        return found

    def refused(self, error: DomainError, message: str | None = None) -> int:
        """A page handler's answer to a service's refusal, in one place: nothing the handler wrote is kept
        (rollback), the refusal is shown beside the fields it names and flashed (`message`, or its own), and
        its status is returned for the page shown again."""
        db.session.rollback()
        self.refuse(error)
        flash(message or str(error.message), "error")
        return error.status


class LoginForm(Form):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)],
                             render_kw={"autocomplete": "current-password"})


class OrganisationForm(Form):
    code = StringField(_l("Code"), validators=[InputRequired(), Length(min=2, max=16)],
                       description=_l("2-16 capitals, digits or dashes, e.g. KP-DHT"),
                       filters=[lambda v: v.strip().upper() if isinstance(v, str) else v])
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), choices=choices(ORGANISATION_KIND_LABELS.items()),
                       validators=[InputRequired()])
    mou_in_force = BooleanField(_l("A data-sharing memorandum is in force"))
    mou_since = DateField(_l("Memorandum in force since"), validators=[Optional()])


class UserForm(Form):
    username = StringField(_l("Username"), validators=[InputRequired(), Length(min=2, max=64)],
                           description=_l("lower-case letters, digits, dots, dashes or underscores"),
                           filters=[lambda v: v.strip() if isinstance(v, str) else v],
                           render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"})
    password = PasswordField(_l("Initial password"), validators=[InputRequired(), Length(max=256)],
                             render_kw={"autocomplete": "new-password"})
    role = SelectField(_l("Role"), choices=choices(ROLE_LABELS.items()),
                       validators=[InputRequired()])
    organisation = SelectField(_l("Organisation"), choices=choices([("", _l("(none)"))]), default="")
    shelters = SelectMultipleField(_l("Shelters run (shelter managers only)"), choices=[])
    email = StringField(_l("E-mail address for notifications"), validators=[Optional(), Length(max=254)],
                        filters=[lambda v: v.strip() if isinstance(v, str) else v],
                        render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false",
                                   "type": "email"})

    def set_choices(self, organisations: list[tuple[str, str]], shelters: list[tuple[str, str]]) -> None:
        """Fill the organisation and shelter options from (code, label) pairs."""
        self.organisation.choices = choices([("", _l("(none)")), *organisations])
        self.shelters.choices = choices(shelters)


class SecondFactorForm(Form):
    code = StringField(_l("Code from the authenticator app, or a recovery code"),
                       validators=[DataRequired(), Length(max=32)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "text", "autocapitalize": "none",
                                  "spellcheck": "false"})


class EnrolTotpForm(Form):
    code = StringField(_l("The 6-digit code the app shows now"), validators=[DataRequired(), Length(max=16)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class ReauthForm(Form):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=256)],
                             render_kw={"autocomplete": "current-password"})


class PasswordForm(Form):
    """Change one's own password. The rules (length, common passwords) are the service's."""

    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=256)],
                                     render_kw={"autocomplete": "current-password"})
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=256)],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("New password again"),
                            validators=[DataRequired(),
                                        EqualTo("password", message=_l("The two new passwords differ."))],
                            render_kw={"autocomplete": "new-password"})


class TimezoneForm(Form):
    timezone = SelectField(_l("Time zone"), choices=[], default="")


class RoleForm(Form):
    role = SelectField(_l("Role"), choices=choices(ROLE_LABELS.items()), validators=[InputRequired()])


class AccountAuditFilterForm(Form):
    """The admin's filter of the audit log (account events only): by user."""

    class Meta:
        csrf = False  # a GET filter changes nothing

    actor = StringField(_l("User"), validators=[Optional(), Length(max=64)],
                        filters=[lambda v: v.strip() if isinstance(v, str) else v])


class AuditFilterForm(AccountAuditFilterForm):
    """The secretariat's filter: by user and by case code."""

    case = StringField(_l("Case code"), validators=[Optional(), Length(max=64)],
                       filters=[lambda v: v.strip().upper() if isinstance(v, str) else v])

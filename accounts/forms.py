"""The sign-in and account-administration forms. They check shape; accounts.services enforces the rules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

import i18n
from accounts.models import OrganisationKind, Role
from errors import DomainError

try:
    from wtforms import SelectChoice as _SelectChoice  # WTForms 3.3 deprecates (value, label) tuples
except ImportError:  # pragma: no cover - older WTForms take the tuples
    _SelectChoice = None


def choice(value: str, label: str) -> Any:
    """One option of a select or a set of checkboxes, in the shape the installed WTForms prefers."""
    return _SelectChoice(value, label) if _SelectChoice is not None else (value, label)


def choices(pairs: Iterable[tuple[str, str]]) -> list[Any]:
    return [choice(value, label) for value, label in pairs]


ROLE_LABELS = {
    Role.ADMIN: "Administrator",
    Role.SECRETARIAT: "Secretariat",
    Role.SHELTER_MANAGER: "Shelter manager",
    Role.POLICE: "Police",
    Role.PARTNER: "International partner",
}

ORGANISATION_KIND_LABELS = {
    OrganisationKind.POLICE: "Police directorate",
    OrganisationKind.SHELTER_OPERATOR: "Shelter operator",
    OrganisationKind.MINISTRY: "Ministry",
    OrganisationKind.SECRETARIAT: "Secretariat",
    OrganisationKind.NGO: "NGO",
    OrganisationKind.INTERNATIONAL: "International partner",
}


class Form(FlaskForm):
    """A form that can show a service's refusal beside the fields it names, in the page's language."""

    class Meta:
        def get_translations(self, form: Any) -> Any:
            # WTForms' own messages ("This field is required.") come from our catalogues (see i18n.py).
            return i18n.form_translations

    def refuse(self, error: DomainError) -> bool:
        """Attach `error.message` to each named field this form has; True when one was found."""
        found = False
        for name in error.fields:
            field = self._fields.get(name)
            if field is not None and name != "csrf_token":
                field.errors = [*field.errors, error.message]
                found = True
        return found


class LoginForm(Form):
    username = StringField("Username", validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)],
                             render_kw={"autocomplete": "current-password"})


class OrganisationForm(Form):
    code = StringField("Code", validators=[InputRequired(), Length(min=2, max=16)],
                       description="2-16 capitals, digits or dashes, e.g. KP-DHT",
                       filters=[lambda v: v.strip().upper() if isinstance(v, str) else v])
    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    kind = SelectField("Kind", choices=choices(ORGANISATION_KIND_LABELS.items()),
                       validators=[InputRequired()])
    mou_in_force = BooleanField("A data-sharing memorandum is in force")
    mou_since = DateField("Memorandum in force since", validators=[Optional()])


class UserForm(Form):
    username = StringField("Username", validators=[InputRequired(), Length(min=2, max=64)],
                           description="lower-case letters, digits, dots, dashes or underscores",
                           filters=[lambda v: v.strip() if isinstance(v, str) else v],
                           render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"})
    password = PasswordField("Initial password", validators=[InputRequired(), Length(max=256)],
                             render_kw={"autocomplete": "new-password"})
    role = SelectField("Role", choices=choices(ROLE_LABELS.items()),
                       validators=[InputRequired()])
    organisation = SelectField("Organisation", choices=choices([("", "(none)")]), default="")
    shelters = SelectMultipleField("Shelters run (shelter managers only)", choices=[])

    def set_choices(self, organisations: list[tuple[str, str]], shelters: list[tuple[str, str]]) -> None:
        """Fill the organisation and shelter options from (code, label) pairs."""
        self.organisation.choices = choices([("", "(none)"), *organisations])
        self.shelters.choices = choices(shelters)


class SecondFactorForm(Form):
    code = StringField("Code from the authenticator app, or a recovery code",
                       validators=[DataRequired(), Length(max=32)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "text", "autocapitalize": "none",
                                  "spellcheck": "false"})


class EnrolTotpForm(Form):
    code = StringField("The 6-digit code the app shows now", validators=[DataRequired(), Length(max=16)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class ReauthForm(Form):
    password = PasswordField("Your password", validators=[DataRequired(), Length(max=256)],
                             render_kw={"autocomplete": "current-password"})


class RoleForm(Form):
    role = SelectField("Role", choices=choices(ROLE_LABELS.items()), validators=[InputRequired()])


class AuditFilterForm(Form):
    class Meta:
        csrf = False  # a GET filter changes nothing

    case = StringField("Case code", validators=[Optional(), Length(max=64)],
                       filters=[lambda v: v.strip().upper() if isinstance(v, str) else v])
    actor = StringField("User", validators=[Optional(), Length(max=64)],
                        filters=[lambda v: v.strip() if isinstance(v, str) else v])

"""The shelter, board and case forms. They check shape (numbers are numbers, codes look like codes);
shelters.services enforces the rules (free beds, versions, dates), so pages and API refuse alike."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FloatField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from accounts.forms import Form, choices
from shelters.models import (
    EXPLOITATION_FORMS,
    SERVICES,
    Ages,
    DischargeReason,
    Risk,
    Security,
    Sex,
    ShelterStatus,
)
from shelters.services import LANGUAGE_CODE, MAX_BEDS, MAX_CHILDREN


def _labelled(values: Iterable[str]) -> list[Any]:
    return choices((str(v), str(v).replace("_", " ").capitalize()) for v in values)


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _strip_upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


DISCHARGE_REASONS = {
    DischargeReason.REPATRIATED.value: "Repatriated",
    DischargeReason.REINTEGRATED.value: "Reintegrated",
    DischargeReason.TRANSFERRED.value: "Transferred to another shelter",
    DischargeReason.LEFT_VOLUNTARILY.value: "Left voluntarily",
    DischargeReason.OTHER.value: "Other (say why in the note)",
}
SHELTER_KINDS = {"ngo": "NGO", "state": "State", "interim": "Interim"}


class MultiCheckboxField(SelectMultipleField):
    """A set of checkboxes: easier than a multiple select on a phone."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ListField(StringField):
    """Comma-separated values typed into one box, handed on as a list."""

    def __init__(self, label: str | None = None, validators: Sequence[Any] = (), *, lower: bool = False,
                 pattern: re.Pattern | None = None, **kwargs: Any) -> None:
        super().__init__(label, validators, **kwargs)
        self.lower, self.pattern = lower, pattern

    def process_formdata(self, valuelist: list[str]) -> None:
        raw = valuelist[0] if valuelist else ""
        items = [v.strip() for v in raw.split(",") if v.strip()]
        self.data = [v.lower() for v in items] if self.lower else items

    def _value(self) -> str:
        return ", ".join(self.data or [])

    def pre_validate(self, form: Any) -> None:
        if self.pattern is not None:
            bad = [v for v in self.data or [] if not self.pattern.match(v)]
            if bad:
                raise ValidationError(f"not a two-letter code: {', '.join(bad[:5])}")


class Between(NumberRange):
    """NumberRange, quiet when the value is not a number at all: that error is shown already."""

    def __call__(self, form: Any, field: Any) -> None:
        if field.data is not None:
            super().__call__(form, field)


class VersionField(IntegerField):
    """The version the form was read at, so a save over someone else's change is refused."""

    widget = HiddenInput()


def bed_count(label: str, high: int = MAX_BEDS, **kwargs: Any) -> IntegerField:
    return IntegerField(label, validators=[InputRequired(), Between(0, high)],
                        render_kw={"inputmode": "numeric", "min": 0, "max": high}, **kwargs)


# --- the board ---------------------------------------------------------------------------------------------


class AdmitForm(Form):
    case_code = StringField("Case code", validators=[InputRequired(), Length(max=20)], filters=[_strip_upper],
                            render_kw={"autocomplete": "off", "autocapitalize": "characters",
                                       "placeholder": "VOT-25-XXXXXX"})
    admitted_at = DateTimeLocalField("Admitted at (UTC, leave empty for now)", validators=[Optional()],
                                     format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])

    def admitted_at_utc(self) -> datetime | None:
        """The typed time, read as UTC (the board says so)."""
        value = self.admitted_at.data
        return value.replace(tzinfo=UTC) if value is not None else None


class DischargeForm(Form):
    reason = SelectField("Reason", choices=choices(DISCHARGE_REASONS.items()), validators=[InputRequired()])
    note = TextAreaField("Note (required for other)", validators=[Optional(), Length(max=1000)], filters=[_strip])


class CapacityForm(Form):
    capacity = bed_count("Capacity (beds)")
    out_of_service = bed_count("Beds out of service")
    version = VersionField(validators=[InputRequired(), Between(1)])
    accept_overflow = BooleanField("Save anyway, reporting the overflow")


class HeadcountForm(Form):
    occupied = bed_count("Beds taken right now (residents and their children)")


# --- the shelter register ----------------------------------------------------------------------------------


class ShelterForm(Form):
    name = StringField("Name", validators=[InputRequired(), Length(max=200)], filters=[_strip])
    kind = SelectField("Kind", choices=choices(SHELTER_KINDS.items()), default="ngo")
    operator = SelectField("Operator", choices=choices([("", "(none)")]), default="")
    region = StringField("Region", validators=[InputRequired(), Length(max=64)], filters=[_strip],
                         render_kw={"list": "regions"})
    municipality = StringField("Municipality", validators=[Optional(), Length(max=64)], filters=[_strip])
    lat = FloatField("Latitude", validators=[Optional(), Between(-90, 90)], render_kw={"inputmode": "decimal"})
    lon = FloatField("Longitude", validators=[Optional(), Between(-180, 180)],
                     render_kw={"inputmode": "decimal"})
    address = TextAreaField("Address (confidential)", validators=[Optional(), Length(max=500)], filters=[_strip])
    capacity = bed_count("Capacity (beds)")
    out_of_service = bed_count("Beds out of service", default=0)
    sexes = MultiCheckboxField("Takes", choices=_labelled(Sex), default=[Sex.FEMALE.value])
    ages = SelectField("Ages", choices=choices([(Ages.ADULTS.value, "Adults"), (Ages.MINORS.value, "Minors"),
                                                (Ages.ALL.value, "Adults and minors")]))
    children_capacity = bed_count("Beds for accompanying children", default=0)
    services = MultiCheckboxField("Services", choices=_labelled(SERVICES))
    languages = ListField("Languages", lower=True, pattern=LANGUAGE_CODE,
                          description="ISO 639-1 codes separated by commas, e.g. sq, sr, en")
    security = SelectField("Security level", choices=_labelled(Security))
    status = SelectField("Status", choices=_labelled(ShelterStatus))

    def set_operators(self, organisations: Iterable[tuple[str, str]]) -> None:
        self.operator.choices = choices([("", "(none)"), *organisations])

    def values(self) -> dict[str, Any]:
        """The shelter fields as shelters.services takes them (blank optional text is None)."""
        return {
            "name": self.name.data,
            "kind": self.kind.data,
            "operator": self.operator.data or None,
            "region": self.region.data,
            "municipality": self.municipality.data or None,
            "lat": self.lat.data,
            "lon": self.lon.data,
            "address": self.address.data or None,
            "capacity": self.capacity.data,
            "out_of_service": self.out_of_service.data,
            "sexes": self.sexes.data or [],
            "ages": self.ages.data,
            "children_capacity": self.children_capacity.data,
            "services": self.services.data or [],
            "languages": self.languages.data or [],
            "security": self.security.data,
            "status": self.status.data,
        }


class NewShelterForm(ShelterForm):
    code = StringField("Code", validators=[InputRequired(), Length(max=16)], filters=[_strip_upper],
                       description="1-16 capitals, digits or dashes, e.g. PVPT",
                       render_kw={"autocapitalize": "characters"})


class EditShelterForm(ShelterForm):
    version = VersionField(validators=[InputRequired(), Between(1)])
    accept_overflow = BooleanField("Save anyway, reporting the overflow")


# --- cases -------------------------------------------------------------------------------------------------


class CaseForm(Form):
    sex = SelectField("Sex", choices=_labelled(Sex))
    age = IntegerField("Age (years, estimated if unknown)", validators=[InputRequired(), Between(0, 120)],
                       render_kw={"inputmode": "numeric", "min": 0, "max": 120})
    nationality = StringField("Nationality", validators=[InputRequired(), Regexp(r"^[A-Z]{2}$",
                              message="a two-letter ISO 3166 code such as AL or MD")],
                              filters=[_strip_upper], description="ISO 3166 code, e.g. MD",
                              render_kw={"autocapitalize": "characters", "maxlength": 2})
    languages = ListField("Languages", lower=True, pattern=LANGUAGE_CODE,
                          description="ISO 639-1 codes separated by commas, e.g. ro, ru")
    exploitation = MultiCheckboxField("Forms of exploitation", choices=_labelled(EXPLOITATION_FORMS))
    needs = MultiCheckboxField("Needs (services required)", choices=_labelled(SERVICES))
    children = IntegerField("Accompanying children", default=0,
                            validators=[Optional(), Between(0, MAX_CHILDREN)],
                            render_kw={"inputmode": "numeric", "min": 0, "max": MAX_CHILDREN})
    risk = SelectField("Risk level", choices=_labelled(Risk), default=Risk.MEDIUM.value)
    trafficker_regions = ListField("Regions linked to the traffickers", description="separated by commas")
    region = StringField("Region where the victim is now", validators=[Optional(), Length(max=64)],
                         filters=[_strip], render_kw={"list": "regions"})
    identified_on = DateField("Identified on (leave empty for today)", validators=[Optional()])
    identifying_details = TextAreaField(
        "Identifying details (optional)", validators=[Optional(), Length(max=2000)], filters=[_strip],
        description="Only if the secretariat must keep them, e.g. a document number. Never a name here or "
                    "anywhere else. Encrypted; shown to the secretariat only.")

    def values(self) -> dict[str, Any]:
        """The pseudonymous profile as shelters.services.create_case takes it."""
        return {
            "sex": self.sex.data,
            "age": self.age.data,
            "nationality": self.nationality.data,
            "languages": self.languages.data or [],
            "exploitation": self.exploitation.data or [],
            "needs": self.needs.data or [],
            "children": self.children.data or 0,
            "risk": self.risk.data,
            "trafficker_regions": self.trafficker_regions.data or [],
            "region": self.region.data or None,
            "identified_on": self.identified_on.data,
            "identifying_details": self.identifying_details.data or None,
        }

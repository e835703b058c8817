"""The shelter, board and case forms. They check shape (numbers are numbers, codes look like codes);
shelters.services enforces the rules (free beds, versions, dates), so pages and API refuse alike."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from babel import Locale
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf.file import FileField, FileRequired
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
from wtforms.validators import (
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

import i18n
from accounts.forms import Form, choices, choose_one, must_choose
from i18n import lazy_gettext as _l
from i18n import lazy_pgettext
from shelters.models import (
    LOCATION_FIELDS,
    Ages,
    CaseStatus,
    DischargeReason,
    Risk,
    Security,
    Sex,
    ShelterStatus,
)
from shelters.services import LANGUAGE_CODE, MAX_BEDS, MAX_CHILDREN


def _labelled(labels: dict[str, Any]) -> list[Any]:
    return choices(labels.items())


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _strip_upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


# --- what people read for the stored codes (pages never show a raw code) ----------------------------------

DISCHARGE_REASONS = {
    DischargeReason.REPATRIATED.value: _l("Repatriated"),
    DischargeReason.REINTEGRATED.value: _l("Reintegrated"),
    DischargeReason.TRANSFERRED.value: _l("Transferred to another shelter"),
    DischargeReason.LEFT_VOLUNTARILY.value: _l("Left voluntarily"),
    DischargeReason.OTHER.value: _l("Other (say why in the note)"),
}
# A case's resolution, or a discharge's outcome, inside a sentence: "Discharged (reintegrated)".
RESOLUTIONS = {
    DischargeReason.REPATRIATED.value: _l("repatriated"),
    DischargeReason.REINTEGRATED.value: _l("reintegrated"),
    DischargeReason.TRANSFERRED.value: _l("transferred to another shelter"),
    DischargeReason.LEFT_VOLUNTARILY.value: _l("left voluntarily"),
    DischargeReason.OTHER.value: _l("other reason"),
}
SHELTER_KINDS = {"ngo": _l("NGO"), "state": _l("State"), "interim": _l("Interim")}
# Short words other pages use in other senses ("Open" alerts, a "Discharged" date column) carry a context.
SHELTER_STATUSES = {
    ShelterStatus.OPEN.value: lazy_pgettext("shelter status", "Open"),
    ShelterStatus.SUSPENDED.value: lazy_pgettext("shelter status", "Suspended"),
    ShelterStatus.CLOSED.value: lazy_pgettext("shelter status", "Closed"),
}
SECURITY_LEVELS = {Security.STANDARD.value: _l("Standard"), Security.HIGH.value: _l("High")}
SEXES = {Sex.FEMALE.value: _l("Female"), Sex.MALE.value: _l("Male")}
AGE_BANDS = {Ages.ADULTS.value: _l("Adults"), Ages.MINORS.value: _l("Minors"), Ages.ALL.value: _l("Adults and minors")}
RISKS = {Risk.LOW.value: _l("Low"), Risk.MEDIUM.value: _l("Medium"), Risk.HIGH.value: _l("High")}
IDENTIFICATION_METHODS = {"proactive_operation": _l("Proactive operation"), "referral": _l("Referral"),
                          "self_report": _l("Self-report")}
CASE_STATUSES = {
    CaseStatus.IDENTIFIED.value: lazy_pgettext("case status", "Identified"),
    CaseStatus.AWAITING_PLACEMENT.value: lazy_pgettext("case status", "Awaiting placement"),
    CaseStatus.PLACED.value: lazy_pgettext("case status", "Placed"),
    CaseStatus.DECLINED_SHELTER.value: lazy_pgettext("case status", "Declined shelter"),
    CaseStatus.DISCHARGED.value: lazy_pgettext("case status", "Discharged"),
}
SERVICE_LABELS = {
    "medical": _l("Medical care"),
    "psychological": _l("Psychological support"),
    "legal": _l("Legal aid"),
    "interpretation": _l("Interpretation"),
    "vocational": _l("Vocational training"),
    "disability_access": _l("Disability access"),
    "childcare": _l("Childcare"),
    "education": _l("Education"),
}
EXPLOITATION_LABELS = {
    "sexual": _l("Sexual exploitation"),
    "labour": _l("Forced labour"),
    "begging": _l("Forced begging"),
    "criminal_activity": _l("Forced criminal activity"),
    "forced_marriage": _l("Forced marriage"),
    "other": _l("Other exploitation"),
}
# The label dicts by the names templates use: `{{ case.risk | shelter_label("risk") }}` (see shelters.views).
LABELS: dict[str, dict[str, Any]] = {
    "discharge_reason": DISCHARGE_REASONS, "resolution": RESOLUTIONS, "kind": SHELTER_KINDS,
    "shelter_status": SHELTER_STATUSES, "security": SECURITY_LEVELS, "sex": SEXES, "ages": AGE_BANDS,
    "risk": RISKS, "case_status": CASE_STATUSES, "service": SERVICE_LABELS, "exploitation": EXPLOITATION_LABELS,
}


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
                raise ValidationError(_("Not a two-letter code: %(codes)s.", codes=", ".join(bad[:5])))


LANGUAGES_HINT = _l("Choose one or more (on a computer, hold Ctrl to add another); type a name's first letters "
                    "to find it.")

# Babel's territories that are not countries a person holds a nationality of (regions, groupings, reserved
# codes). Kosovo's XK, user-assigned in ISO 3166 but used by the EU and the UN, is kept.
NOT_NATIONALITIES = frozenset({"AC", "CP", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"})


def _sort_key(name: str) -> str:
    # Names in the reader's language sorted as a reader looks for them: accents do not move a name to the end.
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()


@lru_cache(maxsize=8)
def country_options(locale: str) -> tuple[tuple[str, str], ...]:
    """(ISO 3166 alpha-2 code, name in `locale`) for every country, sorted by name (Babel's CLDR data)."""
    names = Locale.parse(locale).territories
    english = Locale("en").territories
    codes = {c for c in english if len(c) == 2 and c.isalpha() and c not in NOT_NATIONALITIES}
    return tuple(sorted(((c, names.get(c, english[c])) for c in codes), key=lambda pair: _sort_key(pair[1])))


@lru_cache(maxsize=8)
def language_options(locale: str) -> tuple[tuple[str, str], ...]:
    """(ISO 639-1 code, name in `locale`) for every language with a two-letter code, sorted by name."""
    names = Locale.parse(locale).languages
    english = Locale("en").languages
    codes = {c for c in english if len(c) == 2 and c.isalpha() and c.islower()}
    return tuple(sorted(((c, names.get(c, english[c])) for c in codes), key=lambda pair: _sort_key(pair[1])))


def _reader_locale() -> str:
    return str(get_locale() or "en")


class CountryField(SelectField):
    """A nationality chosen by name in the reader's language (a select: type the first letters to find it),
    sent as its ISO 3166 code. Starts on "Choose..."."""

    def __init__(self, label: Any = None, validators: Sequence[Any] = (), **kwargs: Any) -> None:
        super().__init__(label, validators, choices=[], filters=[_strip_upper], **kwargs)

    def bind_reader_language(self) -> None:
        self.choices = choose_one(country_options(_reader_locale()))


class LanguagesField(SelectMultipleField):
    """Languages chosen by name in the reader's language, sent as ISO 639-1 codes. Also takes codes separated
    by commas in one value ("ro, ru"), as the API and the earlier text box did."""

    def __init__(self, label: Any = None, validators: Sequence[Any] = (), **kwargs: Any) -> None:
        super().__init__(label, validators, choices=[], **kwargs)

    def bind_reader_language(self) -> None:
        self.choices = choices(language_options(_reader_locale()))

    def process_formdata(self, valuelist: list[str]) -> None:
        codes = [v.strip().lower() for raw in valuelist for v in raw.split(",") if v.strip()]
        self.data = list(dict.fromkeys(codes))

    def pre_validate(self, form: Any) -> None:
        known = {c for c, _name in language_options("en")}
        bad = [v for v in self.data or [] if v not in known]
        if bad:
            raise ValidationError(_("Not a two-letter code: %(codes)s.", codes=", ".join(bad[:5])))


class Between(NumberRange):
    """NumberRange, quiet when the value is not a number at all: that error is shown already."""

    def __call__(self, form: Any, field: Any) -> None:
        if field.data is not None:
            super().__call__(form, field)


class VersionField(IntegerField):
    """The version the form was read at, so a save over someone else's change is refused."""

    widget = HiddenInput()


def bed_count(label: Any, high: int = MAX_BEDS, **kwargs: Any) -> IntegerField:
    return IntegerField(label, validators=[InputRequired(), Between(0, high)],
                        render_kw={"inputmode": "numeric", "min": 0, "max": high}, **kwargs)


# --- the board ---------------------------------------------------------------------------------------------


class AdmitForm(Form):
    case_code = StringField(_l("Case code"), validators=[InputRequired(), Length(max=20)], filters=[_strip_upper],
                            render_kw={"autocomplete": "off", "autocapitalize": "characters",
                                       "placeholder": "VOT-25-XXXXXX"})
    admitted_at = DateTimeLocalField(_l("Admitted at (local time, leave empty for now)"), validators=[Optional()],
                                     format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])

    def admitted_at_utc(self) -> datetime | None:
        """The typed time, read in the reader's display zone (i18n.display_zone: the time on the wall), as UTC."""
        value = self.admitted_at.data
        return value.replace(tzinfo=i18n.display_zone()).astimezone(UTC) if value is not None else None


class DischargeForm(Form):
    reason = SelectField(_l("Reason"), choices=choose_one(DISCHARGE_REASONS.items()), validators=[must_choose()])
    note = TextAreaField(_l("Note (required for other)"), validators=[Optional(), Length(max=1000)], filters=[_strip])


class CapacityForm(Form):
    capacity = bed_count(_l("Capacity (beds)"))
    out_of_service = bed_count(_l("Beds out of service"))
    version = VersionField(validators=[InputRequired(), Between(1)])
    accept_overflow = BooleanField(_l("Save anyway, reporting the overflow"))


class HeadcountForm(Form):
    occupied = bed_count(_l("Beds taken right now (residents and their children)"))


# --- the shelter register ----------------------------------------------------------------------------------


class ShelterForm(Form):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=200)], filters=[_strip])
    kind = SelectField(_l("Kind"), choices=_labelled(SHELTER_KINDS), default="ngo")
    operator = SelectField(_l("Operator"), choices=choices([("", _l("(none)"))]), default="")
    region = StringField(_l("Region"), validators=[InputRequired(), Length(max=64)], filters=[_strip],
                         render_kw={"list": "regions"})
    municipality = StringField(_l("Municipality"), validators=[Optional(), Length(max=64)], filters=[_strip])
    lat = FloatField(_l("Latitude"), validators=[Optional(), Between(-90, 90)], render_kw={"inputmode": "decimal"})
    lon = FloatField(_l("Longitude"), validators=[Optional(), Between(-180, 180)],
                     render_kw={"inputmode": "decimal"})
    address = TextAreaField(_l("Address (confidential)"), validators=[Optional(), Length(max=500)], filters=[_strip])
    telephone = StringField(_l("Telephone (confidential)"), validators=[Optional(), Length(max=40)],
                            filters=[_strip], render_kw={"inputmode": "tel", "autocomplete": "off"})
    opened_on = DateField(_l("Opened on (leave empty for today)"), validators=[Optional()],
                          description=_l("Bed-nights count from this day, and no stay can begin before it."))
    capacity = bed_count(_l("Capacity (beds)"))
    out_of_service = bed_count(_l("Beds out of service"), default=0)
    sexes = MultiCheckboxField(_l("Takes"), choices=_labelled(SEXES), default=[Sex.FEMALE.value])
    ages = SelectField(_l("Ages"), choices=_labelled(AGE_BANDS))
    children_capacity = bed_count(_l("Beds for accompanying children"), default=0)
    services = MultiCheckboxField(_l("Services"), choices=_labelled(SERVICE_LABELS))
    languages = LanguagesField(_l("Languages"), description=LANGUAGES_HINT, render_kw={"size": 6})
    security = SelectField(_l("Security level"), choices=_labelled(SECURITY_LEVELS))
    status = SelectField(_l("Status"), choices=_labelled(SHELTER_STATUSES))

    def set_operators(self, organisations: Iterable[tuple[str, str]]) -> None:
        self.operator.choices = choices([("", _l("(none)")), *organisations])

    def without_location(self) -> None:
        """Drop the location fields, for someone who may not read them (they are neither shown nor saved)."""
        for name in LOCATION_FIELDS:
            delattr(self, name)

    def values(self) -> dict[str, Any]:
        """The shelter fields as shelters.services takes them (blank optional text is None; a blank opening
        day is left out: today for a new shelter, unchanged for an edit)."""
        location = {name: getattr(self, name).data or None for name in LOCATION_FIELDS if name in self}
        if "lat" in location:
            location.update(lat=self.lat.data, lon=self.lon.data)  # 0.0 is a coordinate
        opened = {"opened_on": self.opened_on.data} if self.opened_on.data else {}
        return location | opened | {
            "name": self.name.data,
            "kind": self.kind.data,
            "operator": self.operator.data or None,
            "region": self.region.data,
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
    code = StringField(_l("Code"), validators=[InputRequired(), Length(max=16)], filters=[_strip_upper],
                       description=_l("1-16 capitals, digits or dashes, e.g. %(example)s", example="PVPT"),
                       render_kw={"autocapitalize": "characters"})


class EditShelterForm(ShelterForm):
    version = VersionField(validators=[InputRequired(), Between(1)])
    accept_overflow = BooleanField(_l("Save anyway, reporting the overflow"))


# --- cases -------------------------------------------------------------------------------------------------


class CaseForm(Form):
    sex = SelectField(_l("Sex"), choices=choose_one(SEXES.items()), validators=[must_choose()])
    age = IntegerField(_l("Age (years, estimated if unknown)"), validators=[InputRequired(), Between(0, 120)],
                       render_kw={"inputmode": "numeric", "min": 0, "max": 120})
    nationality = CountryField(_l("Nationality"), validators=[must_choose()],
                               description=_l("Type the country's first letters to find it."))
    languages = LanguagesField(_l("Languages"), description=LANGUAGES_HINT, render_kw={"size": 6})
    exploitation = MultiCheckboxField(_l("Forms of exploitation"), choices=_labelled(EXPLOITATION_LABELS))
    needs = MultiCheckboxField(_l("Needs (services required)"), choices=_labelled(SERVICE_LABELS))
    children = IntegerField(_l("Accompanying children"), default=0,
                            validators=[Optional(), Between(0, MAX_CHILDREN)],
                            render_kw={"inputmode": "numeric", "min": 0, "max": MAX_CHILDREN})
    risk = SelectField(_l("Risk level"), choices=choose_one(RISKS.items()), validators=[must_choose()])
    trafficker_regions = ListField(_l("Regions linked to the traffickers"), description=_l("separated by commas"))
    region = StringField(_l("Region where the victim is now"), validators=[Optional(), Length(max=64)],
                         filters=[_strip], render_kw={"list": "regions"})
    identified_on = DateField(_l("Identified on (leave empty for today)"), validators=[Optional()])
    identifying_unit = StringField(_l("Identifying unit (optional)"), validators=[Optional(), Length(max=80)],
                                   filters=[_strip], description=_l("Within the organisation, e.g. border police "
                                                                    "at the airport"))
    identification_method = SelectField(_l("How the victim was identified"),
                                        choices=choices([("", _l("Not recorded")), *IDENTIFICATION_METHODS.items()]),
                                        default="")
    identifying_details = TextAreaField(
        _l("Identifying details (optional)"), validators=[Optional(), Length(max=2000)], filters=[_strip],
        description=_l("Only if the secretariat must keep them, e.g. a document number. Never a name here or "
                       "anywhere else. Encrypted; shown to the secretariat only."))

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
            "identifying_unit": self.identifying_unit.data or None,
            "identification_method": self.identification_method.data or None,
            "identifying_details": self.identifying_details.data or None,
        }


# --- bulk import -------------------------------------------------------------------------------------------


class ImportForm(Form):
    kind = SelectField(_l("What the file holds"), choices=choices([("shelters", _l("Shelters")),
                                                                   ("residents", _l("Current residents of shelters"))]))
    upload = FileField(_l("CSV or XLSX file"), validators=[FileRequired()],
                       render_kw={"accept": ".csv,.xlsx"})
    apply = BooleanField(_l("Apply: write every row (all or nothing); leave unticked to check the file first"))

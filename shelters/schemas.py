"""The API's shapes for shelters, cases and stays: they validate input and generate the OpenAPI document."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from paging import PageQuery, next_cursor_field
from rest import Output
from shelters.models import (EXPLOITATION_FORMS, SERVICES, Ages, CaseStatus, DischargeReason, Risk, Security, Sex,
                             ShelterStatus)
from shelters.services import MAX_BEDS, MAX_CHILDREN

LANG = fields.String(validate=validate.Regexp(r"^[a-z]{2}$", error="ISO 639-1 code, two lower-case letters"))
REGION = validate.Length(min=1, max=64)
KINDS = ["state", "ngo", "interim"]


def _codes(allowed: tuple[str, ...] | list[str]) -> fields.List:
    return fields.List(fields.String(validate=validate.OneOf(list(allowed))), validate=validate.Length(max=50))


class ShelterFields(Schema):
    """Writable shelter fields; shared by create and patch."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    kind = fields.String(validate=validate.OneOf(KINDS))
    region = fields.String(validate=REGION)
    municipality = fields.String(allow_none=True, validate=validate.Length(max=64))
    lat = fields.Float(allow_none=True, validate=validate.Range(-90, 90), allow_nan=False)
    lon = fields.Float(allow_none=True, validate=validate.Range(-180, 180), allow_nan=False)
    address = fields.String(allow_none=True, validate=validate.Length(max=500))
    telephone = fields.String(allow_none=True, validate=validate.Length(max=40))
    opened_on = fields.Date(metadata={"description": "the day the shelter opened (default today; not in the future): "
                                                     "its bed-nights count from then and no stay begins before it"})
    capacity = fields.Integer(strict=True, validate=validate.Range(0, MAX_BEDS))
    out_of_service = fields.Integer(strict=True, validate=validate.Range(0, MAX_BEDS))
    sexes = fields.List(fields.String(validate=validate.OneOf(list(Sex))), validate=validate.Length(min=1, max=2))
    ages = fields.String(validate=validate.OneOf(list(Ages)))
    children_capacity = fields.Integer(strict=True, validate=validate.Range(0, MAX_BEDS))
    services = _codes(SERVICES)
    languages = fields.List(LANG, validate=validate.Length(max=30))
    security = fields.String(validate=validate.OneOf(list(Security)))
    status = fields.String(validate=validate.OneOf(list(ShelterStatus)))
    operator = fields.String(allow_none=True, validate=validate.Length(max=16))


class ShelterCreate(ShelterFields):
    """A new shelter: its code, name, region and capacity at least; the rest as `ShelterFields`."""

    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Z0-9][A-Z0-9-]{0,15}$",
                                                                  error="1-16 capitals, digits or dashes"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    region = fields.String(required=True, validate=REGION)
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(0, MAX_BEDS))


class ShelterPatch(ShelterFields):
    """A change to a shelter: the `version` read, and only the fields to change."""

    version = fields.Integer(required=True, strict=True, validate=validate.Range(1, 2**31 - 1),
                             metadata={"description": "the version you read; a stale one is refused with 409"})
    accept_overflow = fields.Boolean(load_default=False,
                                     metadata={"description": "save a capacity below the beds taken, reporting the overflow"})


class ResidentOut(Output):
    """A resident: the open stay of a case at the shelter."""

    OPTIONAL = ()
    stay_id = fields.Integer()
    case_code = fields.String()
    admitted_at = fields.DateTime()
    beds = fields.Integer()


_LOCATION = {"description": "the shelter's location: present only for the secretariat and the shelter's managers "
                            "(each reading audited); never in a list"}


class ShelterOut(Output):
    """A shelter with its live figures; its location and residents only for those who may know them."""

    OPTIONAL = ('municipality', 'lat', 'lon', 'address', 'telephone', 'residents', 'overflow')
    code = fields.String()
    name = fields.String()
    kind = fields.String(validate=validate.OneOf(KINDS))
    region = fields.String()
    municipality = fields.String(allow_none=True, metadata=_LOCATION)
    lat = fields.Float(allow_none=True, metadata=_LOCATION)
    lon = fields.Float(allow_none=True, metadata=_LOCATION)
    address = fields.String(allow_none=True, metadata=_LOCATION)
    telephone = fields.String(allow_none=True, metadata=_LOCATION)
    opened_on = fields.Date()
    capacity = fields.Integer()
    out_of_service = fields.Integer()
    sexes = fields.List(fields.String(validate=validate.OneOf(list(Sex))))
    ages = fields.String(validate=validate.OneOf(list(Ages)))
    children_capacity = fields.Integer()
    services = fields.List(fields.String(validate=validate.OneOf(list(SERVICES))))
    languages = fields.List(fields.String())
    security = fields.String(validate=validate.OneOf(list(Security)))
    status = fields.String(validate=validate.OneOf(list(ShelterStatus)))
    operator = fields.String(allow_none=True)
    version = fields.Integer()
    occupied = fields.Integer()
    reserved = fields.Integer()
    available = fields.Integer()
    residents_count = fields.Integer()
    utilisation_30d = fields.Float(allow_none=True)
    last_headcount_at = fields.DateTime(allow_none=True)
    residents = fields.List(fields.Nested(ResidentOut), metadata={"description": "present only for those allowed"})
    overflow = fields.Integer(metadata={"description": "after a capacity change: beds taken beyond usable"})


class RegionAggregate(Output):
    """Beds of a group of at least 3 shelters, as a partner sees them."""

    OPTIONAL = ()
    region = fields.String(metadata={"description": "a region with at least 3 shelters, or \"other regions\": the "
                                                    "smaller ones together, when they hold at least 3"})
    shelters = fields.Integer(metadata={"description": "shelters with beds counted here"})
    capacity = fields.Integer(metadata={"description": "usable beds"})
    occupied = fields.Integer()
    available = fields.Integer(metadata={"description": "usable beds not occupied (bed holds are live, so not counted)"})


class ShelterQuery(PageQuery):
    """Which shelters to list, by code (partners: their region groups are neither filtered nor paged)."""

    region = fields.String(validate=REGION, metadata={"description": "only shelters in this region"})
    status = fields.String(validate=validate.OneOf(list(ShelterStatus)), metadata={"description": "only these"})
    has_free_beds = fields.Boolean(metadata={"description": "only shelters with (true) or without (false) a free bed"})


class ShelterList(Output):
    """A page of shelters (partners: beds by region group instead, in `regions`)."""

    OPTIONAL = ('regions', 'as_of')
    shelters = fields.List(fields.Nested(ShelterOut))
    regions = fields.List(fields.Nested(RegionAggregate), metadata={
        "description": "partners: beds by region group as of `as_of`; no group describes fewer than 3 shelters "
                       "(smaller groups are left out, and so is every region when the country has fewer than 3)"})
    as_of = fields.DateTime(metadata={"description": "partners: the midnight UTC their figures are as of"})
    next_cursor = next_cursor_field()


class ResidentQuery(PageQuery):
    """Which page of a shelter's residents, oldest admission first."""


class ResidentList(Output):
    """A page of a shelter's residents, oldest admission first."""

    OPTIONAL = ()
    shelter = fields.String()
    residents = fields.List(fields.Nested(ResidentOut))
    next_cursor = next_cursor_field()


class HeadcountIn(Schema):
    """The beds a manager counted as taken."""

    occupied = fields.Integer(required=True, strict=True, validate=validate.Range(0, MAX_BEDS))


class HeadcountOut(Output):
    """A headcount that agrees with the records."""

    OPTIONAL = ()
    shelter = fields.String()
    occupied = fields.Integer()
    recorded = fields.Integer()
    confirmed_at = fields.DateTime()


class CaseIn(Schema):
    """A newly identified victim's pseudonymous profile (never a name)."""

    sex = fields.String(required=True, validate=validate.OneOf(list(Sex)))
    age = fields.Integer(strict=True, validate=validate.Range(0, 120))
    birth_year = fields.Integer(strict=True, validate=validate.Range(1900, 2100))
    nationality = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{2}$", error="ISO 3166 alpha-2 code"))
    languages = fields.List(LANG, load_default=list, validate=validate.Length(max=20))
    exploitation = _codes(list(EXPLOITATION_FORMS))
    needs = _codes(SERVICES)
    children = fields.Integer(strict=True, load_default=0, validate=validate.Range(0, MAX_CHILDREN))
    risk = fields.String(load_default=Risk.MEDIUM.value, validate=validate.OneOf(list(Risk)))
    trafficker_regions = fields.List(fields.String(validate=REGION), load_default=list,
                                     validate=validate.Length(max=30))
    region = fields.String(allow_none=True, validate=REGION, metadata={"description": "where the victim is now"})
    identified_on = fields.Date()
    identifying_unit = fields.String(allow_none=True, validate=validate.Length(max=80), metadata={
        "description": "where within the organisation the victim was identified, e.g. border police at the airport"})
    identification_method = fields.String(allow_none=True, validate=validate.OneOf(
        ["proactive_operation", "referral", "self_report"]))
    identifying_details = fields.String(
        allow_none=True, validate=validate.Length(max=2000),
        metadata={"description": "optional (e.g. a document number); encrypted at rest, shown to the secretariat only"})


class CaseCreated(Output):
    """The code of the new case."""

    OPTIONAL = ()
    case_code = fields.String()


class CaseOut(Output):
    """A case's pseudonymous profile, and where it stays for those who may know it."""

    OPTIONAL = ('identifying_details',)
    case_code = fields.String()
    sex = fields.String(validate=validate.OneOf(list(Sex)))
    birth_year = fields.Integer(allow_none=True)
    age = fields.Integer(allow_none=True)
    nationality = fields.String()
    languages = fields.List(fields.String())
    exploitation = fields.List(fields.String(validate=validate.OneOf(list(EXPLOITATION_FORMS))))
    needs = fields.List(fields.String(validate=validate.OneOf(list(SERVICES))))
    children = fields.Integer()
    risk = fields.String(validate=validate.OneOf(list(Risk)))
    trafficker_regions = fields.List(fields.String())
    region = fields.String(allow_none=True)
    identified_on = fields.Date()
    status = fields.String(validate=validate.OneOf(list(CaseStatus)))
    resolution = fields.String(allow_none=True)
    shelter = fields.String(allow_none=True, metadata={
        "description": "where the case stays now, for the secretariat and that shelter's managers; null for an "
                       "officer, who reads status `placed` (in protective accommodation) and no shelter"})
    stay_id = fields.Integer(allow_none=True, metadata={"description": "as `shelter`"})
    anonymised = fields.Boolean()
    identifying_details = fields.String(
        allow_none=True, metadata={"description": "secretariat only (absent for others); each read is audited"})


class CaseQuery(PageQuery):
    """Which cases to list, by code."""

    status = fields.String(validate=validate.OneOf(list(CaseStatus)), metadata={"description": "only these"})


class CaseLine(Output):
    """A case in a list: its code and where it stands, never where it stays."""

    OPTIONAL = ()

    case_code = fields.String()
    status = fields.String(validate=validate.OneOf(list(CaseStatus)))
    identified_on = fields.Date()
    region = fields.String(allow_none=True)
    anonymised = fields.Boolean()


class CaseList(Output):
    """A page of cases, by code."""

    OPTIONAL = ()

    cases = fields.List(fields.Nested(CaseLine))
    next_cursor = next_cursor_field()


class AdmitIn(Schema):
    """A direct admission of a case."""

    case_code = fields.String(required=True, validate=validate.Length(min=1, max=20))
    admitted_at = fields.AwareDateTime(metadata={"description": "past times allowed, future refused"})


class DischargeIn(Schema):
    """Why a stay ends (a `DischargeReason` code; `note` for free text, required with `other`)."""

    reason = fields.String(required=True, validate=validate.OneOf(list(DischargeReason)),
                           metadata={"description": "a `DischargeReason` code"})
    note = fields.String(allow_none=True, validate=validate.Length(max=1000),
                         metadata={"description": "free text; required when `reason` is `other`"})
    discharged_at = fields.AwareDateTime()


class StayOut(Output):
    """A stay at a shelter."""

    OPTIONAL = ()
    stay_id = fields.Integer()
    case_code = fields.String()
    shelter = fields.String()
    beds = fields.Integer()
    admitted_at = fields.DateTime()
    discharged_at = fields.DateTime(allow_none=True)
    discharge_reason = fields.String(allow_none=True, validate=validate.OneOf(list(DischargeReason)))

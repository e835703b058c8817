"""The API's shapes for alerts and utilisation statistics: they validate input and generate the OpenAPI document."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from alerts.services import NOTE_MAX

STATUSES = ["open", "acknowledged", "resolved", "all"]


class AlertQuery(Schema):
    status = fields.String(load_default="open", validate=validate.OneOf(STATUSES))


class AlertCommentOut(Schema):
    id = fields.Integer()
    at = fields.DateTime()
    user = fields.String(allow_none=True)
    note = fields.String()


class AlertOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    subject_type = fields.String()
    subject = fields.String()
    shelter = fields.String(allow_none=True, metadata={"description": "the shelter code the alert concerns, if any"})
    severity = fields.String()
    status = fields.String()
    figures = fields.Dict(metadata={"description": "the figures behind the alert"})
    message = fields.String()
    first_seen = fields.DateTime()
    last_seen = fields.DateTime()
    acknowledged_at = fields.DateTime(allow_none=True)
    acknowledged_by = fields.String(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    resolved_by = fields.String(allow_none=True)
    resolution_note = fields.String(allow_none=True)
    comments = fields.List(fields.Nested(AlertCommentOut), metadata={"description": "on a single alert only"})


class AlertList(Schema):
    alerts = fields.List(fields.Nested(AlertOut))


class NoteIn(Schema):
    note = fields.String(required=True, validate=validate.Length(min=1, max=NOTE_MAX))


class UtilisationQuery(Schema):
    days = fields.Integer(load_default=30, validate=validate.Range(1, 3650))


class ShelterUtilisation(Schema):
    code = fields.String()
    utilisation = fields.Float(allow_none=True, metadata={"description": "0..1+, null when no bed was available"})
    bed_nights_occupied = fields.Integer()
    bed_nights_available = fields.Integer()


class RegionUtilisation(Schema):
    region = fields.String(metadata={"description": "a region with at least 3 shelters, or \"other regions\": the "
                                                    "smaller ones together, when they hold at least 3"})
    shelters = fields.Integer(metadata={"description": "shelters with bed-nights counted here"})
    utilisation = fields.Float(allow_none=True)
    bed_nights_occupied = fields.Integer()
    bed_nights_available = fields.Integer()


class UtilisationOut(Schema):
    days = fields.Integer()
    shelters = fields.List(fields.Nested(ShelterUtilisation))
    regions = fields.List(fields.Nested(RegionUtilisation), metadata={
        "description": "partners: bed-nights by region group over the `days` nights ending at `as_of`; no group "
                       "describes fewer than 3 shelters (smaller groups are left out, and so is every region when "
                       "the country has fewer than 3)"})
    as_of = fields.DateTime(metadata={"description": "partners: the midnight UTC their figures are as of"})

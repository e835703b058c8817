"""The API's shapes for alerts and utilisation statistics: they validate input and generate the OpenAPI document."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from alerts.models import AlertStatus, Severity, SubjectType
from alerts.rules import ALERT_KINDS
from alerts.services import NOTE_MAX
from paging import PageQuery, next_cursor_field
from rest import Output

STATUSES = ["open", "acknowledged", "resolved", "all"]


class AlertQuery(PageQuery):
    """Which alerts to list."""

    status = fields.String(load_default="open", validate=validate.OneOf(STATUSES))


class AlertCommentOut(Output):
    """An action note on an alert."""

    OPTIONAL = ()

    id = fields.Integer()
    at = fields.DateTime()
    user = fields.String(allow_none=True)
    note = fields.String()


class AlertOut(Output):
    """An alert raised by a rule, and its review."""

    OPTIONAL = ('comments',)

    id = fields.Integer()
    kind = fields.String(validate=validate.OneOf(list(ALERT_KINDS)))
    subject_type = fields.String(validate=validate.OneOf(list(SubjectType)))
    subject = fields.String()
    shelter = fields.String(allow_none=True, metadata={"description": "the shelter code the alert concerns, if any"})
    severity = fields.String(validate=validate.OneOf(list(Severity)))
    status = fields.String(validate=validate.OneOf(list(AlertStatus)))
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


class AlertList(Output):
    """A page of alerts, most severe and oldest first."""

    OPTIONAL = ()

    alerts = fields.List(fields.Nested(AlertOut))
    next_cursor = next_cursor_field()


class NoteIn(Schema):
    """An action note (free text)."""

    note = fields.String(required=True, validate=validate.Length(min=1, max=NOTE_MAX))


class UtilisationQuery(Schema):
    """Over how many nights."""

    days = fields.Integer(load_default=30, validate=validate.Range(1, 3650))


class ShelterUtilisation(Output):
    """A shelter's bed-nights occupied over available."""

    OPTIONAL = ()

    code = fields.String()
    utilisation = fields.Float(allow_none=True, metadata={"description": "0..1+, null when no bed was available"})
    bed_nights_occupied = fields.Integer()
    bed_nights_available = fields.Integer()


class RegionUtilisation(Output):
    """Bed-nights of a group of at least 3 shelters, as a partner sees them."""

    OPTIONAL = ()

    region = fields.String(metadata={"description": "a region with at least 3 shelters, or \"other regions\": the "
                                                    "smaller ones together, when they hold at least 3"})
    shelters = fields.Integer(metadata={"description": "shelters with bed-nights counted here"})
    utilisation = fields.Float(allow_none=True)
    bed_nights_occupied = fields.Integer()
    bed_nights_available = fields.Integer()


class UtilisationOut(Output):
    """Utilisation by shelter (partners: by region group, in `regions`)."""

    OPTIONAL = ('regions', 'as_of')

    days = fields.Integer()
    shelters = fields.List(fields.Nested(ShelterUtilisation))
    regions = fields.List(fields.Nested(RegionUtilisation), metadata={
        "description": "partners: bed-nights by region group over the `days` nights ending at `as_of`; no group "
                       "describes fewer than 3 shelters (smaller groups are left out, and so is every region when "
                       "the country has fewer than 3)"})
    as_of = fields.DateTime(metadata={"description": "partners: the midnight UTC their figures are as of"})

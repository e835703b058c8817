"""The API's shapes for placement requests."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from placement.models import DECLINE_REASONS, Urgency

CODE = fields.String(validate=validate.Regexp(r"^[A-Z0-9][A-Z0-9-]{0,15}$", error="a shelter code"))


class PlacementIn(Schema):
    case_code = fields.String(required=True, validate=validate.Length(min=1, max=20))
    urgency = fields.String(load_default=Urgency.URGENT.value, validate=validate.OneOf(list(Urgency)))
    region = fields.String(allow_none=True, validate=validate.Length(min=1, max=64),
                           metadata={"description": "where the victim is now (default: the case's region)"})
    exclude = fields.List(CODE, load_default=list, validate=validate.Length(max=100))
    transfer = fields.Boolean(load_default=False,
                              metadata={"description": "move a resident to another shelter (secretariat only)"})


class ReserveIn(Schema):
    shelter = fields.String(required=True, validate=validate.Length(min=1, max=16))


class RejectIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class DeclineIn(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(list(DECLINE_REASONS)))
    note = fields.String(allow_none=True, validate=validate.Length(max=1000))


class CancelIn(Schema):
    note = fields.String(allow_none=True, validate=validate.Length(max=1000))


class SuggestionOut(Schema):
    shelter = fields.String()
    score = fields.Integer()
    terms = fields.Dict(keys=fields.String(), values=fields.Integer())
    distance_band = fields.Integer(metadata={
        "description": "police only, who see the distance term in bands: 0 (no points) to 4 (the nearest quarter "
                       "of the distance scale), the term's points those of the band's lower edge and the score "
                       "their sum"})


class ExclusionOut(Schema):
    shelter = fields.String()
    reasons = fields.List(fields.String(), metadata={"description": "each reason in English"})
    codes = fields.List(fields.String(), metadata={"description": "each reason's code, in the order of `reasons`"})
    values = fields.List(fields.Dict(keys=fields.String()), metadata={
        "description": "each reason's values (the figures and words its English quotes), in the order of `codes`; "
                       "absent for a request stored before the values were kept"})


class EventOut(Schema):
    at = fields.DateTime()
    by = fields.String(allow_none=True, metadata={
        "description": "who acted; null for the system, and for a shelter's manager where the shelter is hidden"})
    by_role = fields.String(allow_none=True, metadata={"description": "the role of who acted; null for the system"})
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    shelter = fields.String(allow_none=True, metadata={"description": "null where the reader may not know it"})
    note = fields.String(allow_none=True)


class PlacementOut(Schema):
    id = fields.Integer()
    case_code = fields.String()
    status = fields.String()
    urgency = fields.String()
    region = fields.String(allow_none=True)
    shelter = fields.String(allow_none=True, metadata={
        "description": "the shelter holding (or that held) the bed: for the requesting officer only while it holds "
                       "it (reserved, accepted); for managers their own; null otherwise"})
    address = fields.String(allow_none=True, metadata={
        "description": "the shelter's address: for the requesting officer only while accepted; the secretariat and "
                       "the shelter's managers"})
    telephone = fields.String(allow_none=True, metadata={"description": "the shelter's telephone, as `address`"})
    expires_at = fields.DateTime(allow_none=True)
    stay_id = fields.Integer(allow_none=True, metadata={"description": "as `shelter`"})
    transfer = fields.Boolean()
    reason = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    suggestions = fields.List(fields.Nested(SuggestionOut), metadata={
        "description": "the ranking as shown when the request was made: for the requester and the secretariat "
                       "(empty for a deciding manager)"})
    excluded = fields.List(fields.Nested(ExclusionOut), metadata={"description": "as `suggestions`"})
    why_empty = fields.Dict(keys=fields.String(), values=fields.Integer(),
                            metadata={"description": "when nothing fits: how many shelters each reason excluded"})
    profile = fields.Dict(metadata={"description": "the pseudonymous profile, for those who decide on it"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    timeline = fields.List(fields.Nested(EventOut))


class PlacementList(Schema):
    placements = fields.List(fields.Nested(PlacementOut))


class BatchOut(Schema):
    waiting = fields.Integer()
    placed = fields.Integer()
    urgent_placed = fields.Integer()
    score = fields.Integer()
    optimal = fields.Boolean()
    gap = fields.Float()
    method = fields.String()
    seconds = fields.Float()
    assignment = fields.Dict(keys=fields.String(), values=fields.String(),
                             metadata={"description": "request id -> shelter code, reserved"})
    unplaced = fields.List(fields.Integer())

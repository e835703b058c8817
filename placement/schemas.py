"""The API's shapes for placement requests."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from paging import PageQuery, next_cursor_field
from placement.models import DECLINE_REASONS, REJECT_REASONS, RequestStatus, Urgency
from rest import Output

CODE = fields.String(validate=validate.Regexp(r"^[A-Z0-9][A-Z0-9-]{0,15}$", error="a shelter code"))


class PlacementIn(Schema):
    """A request for a bed for a case."""

    case_code = fields.String(required=True, validate=validate.Length(min=1, max=20))
    urgency = fields.String(load_default=Urgency.URGENT.value, validate=validate.OneOf(list(Urgency)))
    region = fields.String(allow_none=True, validate=validate.Length(min=1, max=64),
                           metadata={"description": "where the victim is now (default: the case's region)"})
    exclude = fields.List(CODE, load_default=list, validate=validate.Length(max=100))
    transfer = fields.Boolean(load_default=False,
                              metadata={"description": "move a resident to another shelter (secretariat only)"})


class ReserveIn(Schema):
    """The shelter to hold a bed at."""

    shelter = fields.String(required=True, validate=validate.Length(min=1, max=16))


class RejectIn(Schema):
    """Why the shelter refuses: a `RejectReason` code, with `note` for free text (required with `other`)."""

    reason = fields.String(required=True, validate=validate.Length(min=1, max=500), metadata={
        "description": "a `RejectReason` code (" + ", ".join(f"`{r}`" for r in REJECT_REASONS) + "). For clients "
                       "written when the reason was free text, any other text is accepted and kept as the `note` "
                       "under the code `other`", "example": "cannot_meet_needs"})
    note = fields.String(allow_none=True, validate=validate.Length(max=1000), metadata={
        "description": "free text; required when `reason` is `other`", "example": "no room for a mother with a baby"})


class DeclineIn(Schema):
    """Why the victim declined shelter (a `DeclineReason` code; `note` for free text, required with `other`)."""

    reason = fields.String(required=True, validate=validate.OneOf(list(DECLINE_REASONS)),
                           metadata={"description": "a `DeclineReason` code"})
    note = fields.String(allow_none=True, validate=validate.Length(max=1000),
                         metadata={"description": "free text; required when `reason` is `other`"})


class CancelIn(Schema):
    """Withdraw a request, optionally saying why."""

    note = fields.String(allow_none=True, validate=validate.Length(max=1000))


class SuggestionOut(Output):
    """A shelter that fits, with its score broken into terms."""

    OPTIONAL = ('distance_band',)

    shelter = fields.String()
    score = fields.Integer()
    terms = fields.Dict(keys=fields.String(), values=fields.Integer())
    distance_band = fields.Integer(metadata={
        "description": "police only, who see the distance term in bands: 0 (no points) to 4 (the nearest quarter "
                       "of the distance scale), the term's points those of the band's lower edge and the score "
                       "their sum"})


class ExclusionOut(Output):
    """A shelter that does not fit, and why."""

    OPTIONAL = ()

    shelter = fields.String()
    reasons = fields.List(fields.String(), metadata={"description": "each reason in English"})
    codes = fields.List(fields.String(), metadata={"description": "each reason's code, in the order of `reasons`"})
    values = fields.List(fields.Dict(keys=fields.String()), metadata={
        "description": "each reason's values (the figures and words its English quotes), in the order of `codes`; "
                       "absent for a request stored before the values were kept"})


class EventOut(Output):
    """An entry of a request's timeline."""

    OPTIONAL = ()

    at = fields.DateTime()
    by = fields.String(allow_none=True, metadata={
        "description": "who acted; null for the system, and for a shelter's manager where the shelter is hidden"})
    by_role = fields.String(allow_none=True, metadata={"description": "the role of who acted; null for the system"})
    from_status = fields.String(allow_none=True, validate=validate.OneOf(list(RequestStatus)))
    to_status = fields.String(validate=validate.OneOf(list(RequestStatus)))
    shelter = fields.String(allow_none=True, metadata={"description": "null where the reader may not know it"})
    reason = fields.String(allow_none=True, validate=validate.OneOf(list(REJECT_REASONS)), metadata={
        "description": "on a rejection, the shelter's `RejectReason` code (its free text in `note`); null otherwise"})
    note = fields.String(allow_none=True)


class PlacementOut(Output):
    """A placement request as the caller may see it."""

    OPTIONAL = ('address', 'telephone', 'why_empty', 'profile', 'timeline')

    id = fields.Integer()
    case_code = fields.String()
    status = fields.String(validate=validate.OneOf(list(RequestStatus)))
    urgency = fields.String(validate=validate.OneOf(list(Urgency)))
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
    reason = fields.String(allow_none=True, metadata={
        "description": "why it ended: a `DeclineReason` code when declined, a `RejectReason` code when the shelter "
                       "rejected it (free text in `note`)"})
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


class PlacementLine(Output):
    """A placement request in a list."""

    OPTIONAL = ()

    id = fields.Integer()
    case_code = fields.String()
    status = fields.String(validate=validate.OneOf(list(RequestStatus)))
    urgency = fields.String(validate=validate.OneOf(list(Urgency)))
    shelter = fields.String(allow_none=True, metadata={"description": "as in `PlacementOut`"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class PlacementQuery(PageQuery):
    """Which placement requests to list, newest first."""

    status = fields.String(validate=validate.OneOf(list(RequestStatus)), metadata={"description": "only these"})
    urgency = fields.String(validate=validate.OneOf(list(Urgency)), metadata={"description": "only these"})
    shelter = fields.String(validate=validate.Length(min=1, max=16), metadata={
        "description": "only those addressed to this shelter (secretariat, managers; police: 403)"})
    since = fields.AwareDateTime(metadata={"description": "only those made at or after this time"})


class PlacementList(Output):
    """A page of placement requests, newest first."""

    OPTIONAL = ()

    placements = fields.List(fields.Nested(PlacementLine))
    next_cursor = next_cursor_field()


class BatchOut(Output):
    """What the batch assignment reserved."""

    OPTIONAL = ()

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

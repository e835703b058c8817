"""The API's shapes for organisations and users."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from accounts.models import OrganisationKind, Role
from paging import next_cursor_field
from rest import Output


class OrganisationIn(Schema):
    """A new organisation."""

    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Z0-9][A-Z0-9-]{1,15}$",
                                                                  error="2-16 capitals, digits or dashes"))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(list(OrganisationKind)))
    mou_in_force = fields.Boolean(load_default=False)
    mou_since = fields.Date(allow_none=True)


class OrganisationOut(Output):
    """An organisation (police directorate, NGO, ministry, partner)."""

    OPTIONAL = ()

    code = fields.String()
    name = fields.String()
    kind = fields.String(validate=validate.OneOf(list(OrganisationKind)))
    mou_in_force = fields.Boolean()
    mou_since = fields.Date(allow_none=True)


class OrganisationList(Output):
    """A page of organisations, by code."""

    OPTIONAL = ()

    organisations = fields.List(fields.Nested(OrganisationOut))
    next_cursor = next_cursor_field()


class UserIn(Schema):
    """A new account; the password must pass the password rules."""

    username = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9._-]{1,63}$",
                                                                      error="2-64 lower-case letters, digits, . _ -"))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=256))
    role = fields.String(required=True, validate=validate.OneOf(list(Role)))
    organisation = fields.String(allow_none=True, validate=validate.Length(max=16))
    shelters = fields.List(fields.String(validate=validate.Length(max=16)), load_default=list,
                           validate=validate.Length(max=100))
    email = fields.String(allow_none=True, validate=validate.Length(max=254))
    timezone = fields.String(allow_none=True, validate=validate.Length(max=64))


class UserOut(Output):
    """An account."""

    OPTIONAL = ()

    username = fields.String()
    role = fields.String(validate=validate.OneOf(list(Role)))
    organisation = fields.String(allow_none=True)
    shelters = fields.List(fields.String())
    active = fields.Boolean()
    email = fields.String(allow_none=True)
    timezone = fields.String(allow_none=True)


class UserList(Output):
    """A page of accounts, by username."""

    OPTIONAL = ()

    users = fields.List(fields.Nested(UserOut))
    next_cursor = next_cursor_field()

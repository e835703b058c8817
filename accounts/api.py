"""/api/v1 for organisations and users (admin manages, secretariat reads) and the caller's own account."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, url_for
from sqlalchemy import select

import paging
from accounts import schemas, services
from accounts.models import Organisation, Role, User
from accounts.permissions import ALL_ROLES, roles_required
from database import utcnow
from extensions import db
from rest import api_blueprint, created
# Linking a manager to shelters is the one place accounts reads the registry.
from shelters import services as shelter_services

blp = api_blueprint("accounts_api", __name__, "Organisations, users and the caller's account")


def org_json(org: Organisation) -> dict[str, Any]:
    return {"code": org.code, "name": org.name, "kind": org.kind, "mou_in_force": org.mou_in_force,
            "mou_since": org.mou_since}


def user_json(user: User) -> dict[str, Any]:
    return {"username": user.username, "role": user.role,
            "organisation": user.organisation.code if user.organisation else None,
            "shelters": [s.code for s in user.managed_shelters], "active": user.active, "email": user.email,
            "timezone": user.timezone}


@blp.route("/me")
@roles_required(*ALL_ROLES)
@blp.response(200, schemas.UserOut)
def me() -> dict[str, Any]:
    """The account the token belongs to."""
    return user_json(g.api_user)


@blp.route("/organisations")
@roles_required(Role.ADMIN, Role.SECRETARIAT)
@blp.arguments(paging.PageQuery, location="query")
@blp.response(200, schemas.OrganisationList)
@paging.paged
def list_organisations(query: dict[str, Any]) -> Any:
    """Organisations by code (admin, secretariat)."""
    (after,) = paging.decode_cursor(query["cursor"], (str,)) or (None,)
    select_orgs = select(Organisation).order_by(Organisation.code).limit(query["limit"] + 1)
    if after is not None:
        select_orgs = select_orgs.where(Organisation.code > after)
    orgs, cursor = paging.page_of(list(db.session.scalars(select_orgs)), query["limit"], lambda o: (o.code,))
    return {"organisations": [org_json(o) for o in orgs], "next_cursor": cursor}, 200, paging.link_header(cursor)


@blp.route("/organisations", methods=["POST"])
@roles_required(Role.ADMIN)
@blp.arguments(schemas.OrganisationIn)
@blp.response(201, schemas.OrganisationOut)
def create_organisation(data: dict[str, Any]) -> Any:
    org = services.create_organisation(db.session, g.api_user, utcnow(), **data)
    db.session.commit()
    return created(org_json(org), url_for("accounts_api.get_organisation", code=org.code))


@blp.route("/organisations/<code>")
@roles_required(Role.ADMIN, Role.SECRETARIAT)
@blp.response(200, schemas.OrganisationOut)
def get_organisation(code: str) -> dict[str, Any]:
    """One organisation (admin, secretariat)."""
    return org_json(services.get_organisation(db.session, code))


@blp.route("/users")
@roles_required(Role.ADMIN, Role.SECRETARIAT)
@blp.arguments(paging.PageQuery, location="query")
@blp.response(200, schemas.UserList)
@paging.paged
def list_users(query: dict[str, Any]) -> Any:
    """Accounts by username (admin, secretariat)."""
    (after,) = paging.decode_cursor(query["cursor"], (str,)) or (None,)
    select_users = select(User).order_by(User.username).limit(query["limit"] + 1)
    if after is not None:
        select_users = select_users.where(User.username > after)
    users, cursor = paging.page_of(list(db.session.scalars(select_users)), query["limit"], lambda u: (u.username,))
    return {"users": [user_json(u) for u in users], "next_cursor": cursor}, 200, paging.link_header(cursor)


@blp.route("/users", methods=["POST"])
@roles_required(Role.ADMIN)
@blp.arguments(schemas.UserIn)
@blp.response(201, schemas.UserOut)
def create_user(data: dict[str, Any]) -> Any:
    user = services.create_user(
        db.session, g.api_user, utcnow(), username=data["username"], password=data["password"], role=data["role"],
        organisation_code=data.get("organisation"),
        shelters=shelter_services.get_shelters(db.session, data["shelters"]),
        password_min_length=current_app.config["SAFEHAVEN_PASSWORD_MIN_LENGTH"], email=data.get("email"),
        timezone=data.get("timezone"),
    )
    db.session.commit()
    return created(user_json(user), url_for("accounts_api.get_user", username=user.username))


@blp.route("/users/<username>")
@roles_required(Role.ADMIN, Role.SECRETARIAT)
@blp.response(200, schemas.UserOut)
def get_user(username: str) -> dict[str, Any]:
    """One account (admin, secretariat)."""
    return user_json(services.get_user(db.session, username))

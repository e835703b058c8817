"""/api/v1 for organisations and users (admin manages, secretariat reads) and the caller's own account."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from sqlalchemy import select

from accounts import schemas, services
from accounts.models import Organisation, Role, User
from accounts.permissions import ALL_ROLES, roles_required
from database import utcnow
from extensions import db
from rest import api_blueprint
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
@blp.response(200, schemas.OrganisationList)
def list_organisations() -> dict[str, Any]:
    orgs = db.session.scalars(select(Organisation).order_by(Organisation.code))
    return {"organisations": [org_json(o) for o in orgs]}


@blp.route("/organisations", methods=["POST"])
@roles_required(Role.ADMIN)
@blp.arguments(schemas.OrganisationIn)
@blp.response(201, schemas.OrganisationOut)
def create_organisation(data: dict[str, Any]) -> dict[str, Any]:
    org = services.create_organisation(db.session, g.api_user, utcnow(), **data)
    db.session.commit()
    return org_json(org)


@blp.route("/users")
@roles_required(Role.ADMIN, Role.SECRETARIAT)
@blp.response(200, schemas.UserList)
def list_users() -> dict[str, Any]:
    users = db.session.scalars(select(User).order_by(User.username))
    return {"users": [user_json(u) for u in users]}


@blp.route("/users", methods=["POST"])
@roles_required(Role.ADMIN)
@blp.arguments(schemas.UserIn)
@blp.response(201, schemas.UserOut)
def create_user(data: dict[str, Any]) -> dict[str, Any]:
    user = services.create_user(
        db.session, g.api_user, utcnow(), username=data["username"], password=data["password"], role=data["role"],
        organisation_code=data.get("organisation"),
        shelters=shelter_services.get_shelters(db.session, data["shelters"]),
        password_min_length=current_app.config["SAFEHAVEN_PASSWORD_MIN_LENGTH"], email=data.get("email"),
        timezone=data.get("timezone"),
    )
    db.session.commit()
    return user_json(user)

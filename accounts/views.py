"""Pages: sign in and out, and the organisation and user registers (admin manages, secretariat reads)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from accounts import audit, services
from accounts.forms import ORGANISATION_KIND_LABELS, ROLE_LABELS, LoginForm, OrganisationForm, UserForm
from accounts.models import Organisation, Role, User
from accounts.permissions import can_manage_accounts, can_read_accounts, roles_required
from database import utcnow
from errors import DomainError
from extensions import db
from shelters import services as shelter_services
from shelters.models import Shelter

bp = Blueprint("accounts", __name__)

LOGIN_FAILED = "Login failed."


@bp.app_context_processor
def _navigation() -> dict[str, Any]:
    return {"can_read_accounts": can_read_accounts, "can_manage_accounts": can_manage_accounts,
            "role_labels": ROLE_LABELS}


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host, so a link cannot bounce a fresh login elsewhere."""
    if not target or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    # Shown to a signed-in user too: signing in again as someone else replaces the session's user.
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(db.session, form.username.data, form.password.data, utcnow())
        db.session.commit()  # the audit entry, success or not
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("shelters.home"))
        flash(LOGIN_FAILED, "error")
    elif form.is_submitted():
        flash(LOGIN_FAILED, "error")
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated:
        audit.record(db.session, actor=current_user, action="logout", object_type="user",
                     object_id=current_user.username, now=utcnow())
        db.session.commit()
    logout_user()
    flash("Signed out.", "info")
    return redirect(url_for("accounts.login"))


# --- organisations -----------------------------------------------------------------------------------------


def _organisations() -> list[Organisation]:
    return list(db.session.scalars(select(Organisation).order_by(Organisation.code)))


def _organisations_page(form: OrganisationForm | None, status: int = 200) -> tuple[str, int]:
    if form is None and can_manage_accounts(current_user):
        form = OrganisationForm(formdata=None)
    return render_template("admin/organisations.html", organisations=_organisations(), form=form,
                           kinds=ORGANISATION_KIND_LABELS), status


@bp.get("/admin/organisations")
@roles_required(Role.ADMIN, Role.SECRETARIAT)
def organisations() -> Any:
    return _organisations_page(None)


@bp.post("/admin/organisations")
@roles_required(Role.ADMIN)
def create_organisation() -> Any:
    form = OrganisationForm()
    if not form.validate():
        return _organisations_page(form, 422)
    try:
        org = services.create_organisation(
            db.session, current_user, utcnow(), code=form.code.data, name=form.name.data.strip(),
            kind=form.kind.data, mou_in_force=form.mou_in_force.data, mou_since=form.mou_since.data,
        )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        form.refuse(error)
        flash(error.message, "error")
        return _organisations_page(form, error.status)
    flash(f"Organisation {org.code} created.", "success")
    return redirect(url_for("accounts.organisations"))


# --- users -------------------------------------------------------------------------------------------------


def _user_form(formdata: Any = None) -> UserForm:
    form = UserForm() if formdata is not None else UserForm(formdata=None)
    shelters = db.session.scalars(select(Shelter).order_by(Shelter.code))
    form.set_choices([(o.code, f"{o.code} · {o.name}") for o in _organisations()],
                     [(s.code, f"{s.code} · {s.name}") for s in shelters])
    return form


def _users_page(form: UserForm | None, status: int = 200) -> tuple[str, int]:
    if form is None and can_manage_accounts(current_user):
        form = _user_form()
    users = db.session.scalars(
        select(User).options(selectinload(User.organisation), selectinload(User.managed_shelters))
        .order_by(User.username)
    )
    return render_template("admin/users.html", users=list(users), form=form, roles=ROLE_LABELS), status


@bp.get("/admin/users")
@roles_required(Role.ADMIN, Role.SECRETARIAT)
def users() -> Any:
    return _users_page(None)


@bp.post("/admin/users")
@roles_required(Role.ADMIN)
def create_user() -> Any:
    form = _user_form(request.form)
    if not form.validate():
        return _users_page(form, 422)
    try:
        shelters = shelter_services.get_shelters(db.session, form.shelters.data or [])
        user = services.create_user(
            db.session, current_user, utcnow(), username=form.username.data, password=form.password.data,
            role=form.role.data, organisation_code=form.organisation.data or None, shelters=shelters,
            password_min_length=current_app.config["SAFEHAVEN_PASSWORD_MIN_LENGTH"],
        )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        form.refuse(error)
        flash(error.message, "error")
        return _users_page(form, error.status)
    flash(f"User {user.username} created.", "success")
    return redirect(url_for("accounts.users"))

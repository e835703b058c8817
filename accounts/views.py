"""Pages: sign in and out, and the organisation and user registers (admin manages, secretariat reads)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial, wraps
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import available_timezones

import qrcode
import qrcode.image.svg
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

import i18n
from accounts import audit, services
from accounts.forms import (
    ORGANISATION_KIND_LABELS,
    ROLE_LABELS,
    AccountAuditFilterForm,
    AuditFilterForm,
    EnrolTotpForm,
    LoginForm,
    OrganisationForm,
    PasswordForm,
    ReauthForm,
    RoleForm,
    SecondFactorForm,
    TimezoneForm,
    UserForm,
)
from accounts.models import AuditEvent, Organisation, Role, SessionEnd, User
from accounts.permissions import (
    can_manage_accounts,
    can_read_accounts,
    can_read_audit,
    can_read_case_events,
    roles_required,
)
from database import utcnow
from errors import DomainError
from extensions import db, limiter
from i18n import LANGUAGES, language_code
from i18n import lazy_gettext as _l
from rest import is_api_request
from shelters import services as shelter_services
from shelters.models import Shelter

bp = Blueprint("accounts", __name__)

LOGIN_FAILED = _l("Login failed.")


@bp.app_context_processor
def _navigation() -> dict[str, Any]:
    return {"can_read_accounts": can_read_accounts, "can_manage_accounts": can_manage_accounts,
            "can_read_audit": can_read_audit, "role_labels": ROLE_LABELS}


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host, so a link cannot bounce a fresh login elsewhere."""
    if not target or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _login_rate() -> str:
    return current_app.config["SAFEHAVEN_LOGIN_RATE_LIMIT"]


def _lockout() -> dict[str, int]:
    config = current_app.config
    return {"max_failures": config["SAFEHAVEN_LOCKOUT_FAILURES"], "lock_minutes": config["SAFEHAVEN_LOCKOUT_MINUTES"]}


# A half-done sign-in (password right, second factor still to come) lasts this long.
PENDING_SECONDS = 300


# The Flask session's key for the id of the page session's server-side record (accounts.models.UserSession).
PAGE_SESSION_KEY = "sid"
# The id of the page session that ran out in this browser: a form posted after that is kept with its record,
# and handed to the same user's next sign-in. An ended session's id is no credential.
RESUME_KEY = "resume"
# The path of a form handed back to this session, waiting for its page (the fields stay on the server).
KEPT_KEY = "kept"


def _reset_session(reason: SessionEnd = SessionEnd.SIGNED_OUT) -> None:
    """End this browser's server-side session, if it has a live one, then drop everything the cookie held,
    the CSRF token included (a new one is made on demand). The caller commits.

    The record is ended first: in a GET's read-only transaction that write stops the request, which is run
    again before anything else changed. The language chosen on the sign-in page stays: it is a preference,
    not a credential.
    """
    raw = session.get(PAGE_SESSION_KEY)
    if isinstance(raw, str):
        services.end_session(db.session, raw, utcnow(), reason)
    language, resume = session.get("language"), session.get(RESUME_KEY)
    session.clear()
    if language:
        session["language"] = language
    if isinstance(resume, str) and reason != SessionEnd.SIGNED_OUT:
        session[RESUME_KEY] = resume
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)


def _start_session(user: User) -> None:
    """Sign the user in on a fresh session, recorded on the server: nothing from before the sign-in survives
    it, and a session this browser held before is ended. A form kept when this browser's last session ran
    out is handed on to the new one when it is the same user's (see _landing). The caller commits."""
    resume = session.get(RESUME_KEY)
    _reset_session()
    session.pop(RESUME_KEY, None)
    raw = services.open_session(db.session, user, utcnow())
    session[PAGE_SESSION_KEY] = raw
    login_user(user)
    session["seen_at"] = session["reauth_at"] = int(time.time())
    if isinstance(resume, str) and services.carry_kept_form(db.session, resume, raw, user, utcnow()):
        session[KEPT_KEY] = True


def _landing(target: str) -> str:
    """Where a completed sign-in goes: back to a kept form first, else `target`."""
    return url_for("accounts.kept_form") if session.get(KEPT_KEY) else target


def _keep_posted_form(raw: Any) -> bool:
    """Keep this POST's fields (never its CSRF token) with the page session `raw`, on the server. Only page
    forms of the other domains: sign-in and account forms (passwords) are never kept."""
    if not isinstance(raw, str) or request.method != "POST" or is_api_request() or request.blueprint in (
            None, bp.name):
        return False
    token_name = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    fields = [(name, value) for name, value in request.form.items(multi=True) if name != token_name]
    return bool(fields) and services.keep_form(db.session, raw, request.full_path.rstrip("?"), fields, utcnow())


KEPT_NOTICE = _l("Your session had ended, so the form was not sent. Sign in again: what you typed was kept and "
                 "comes back to you.")


def _pending_user() -> User | None:
    """The user whose password was right and who still owes a second factor (or an enrolment)."""
    pending = session.get("pending_login")
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    uid = str(pending.get("user", ""))
    user = db.session.get(User, int(uid)) if uid.isdigit() else None
    return user if user is not None and user.active else None


def _finish_pending() -> str:
    """Where to go after a completed two-step sign-in."""
    pending = session.get("pending_login") or {}
    return _safe_next(pending.get("next")) or url_for("shelters.home")


@bp.before_app_request
def _session_gate() -> Response | None:
    """Page sessions end after SAFEHAVEN_SESSION_IDLE_MINUTES without a request (kept in the signed cookie, so a
    request writes nothing), and when the server no longer accepts them (the user loader refused the record:
    signed out elsewhere, past SAFEHAVEN_SESSION_MAX_HOURS, revoked). The API has its own bearer tokens."""
    if request.endpoint in (None, "static") or is_api_request() or not isinstance(session.get(PAGE_SESSION_KEY), str):
        return None
    signed_in = current_user.is_authenticated
    seen_at = session.get("seen_at")
    if signed_in and isinstance(seen_at, int) and (
            time.time() - seen_at <= current_app.config["SAFEHAVEN_SESSION_IDLE_MINUTES"] * 60):
        # What an open page asks by itself (static/live.js sends X-Live) is not the person at work: a page left
        # open still ends its session after the idle minutes.
        if not request.headers.get("X-Live"):
            session["seen_at"] = int(time.time())
        return None
    # Idle, or refused by the user loader: an open record is then one past its hours (or one whose cookie
    # Flask-Login's address check refused); one ended already stays as it was.
    raw = session[PAGE_SESSION_KEY]
    kept = _keep_posted_form(raw)
    _reset_session(SessionEnd.IDLE if signed_in else SessionEnd.EXPIRED)
    db.session.commit()
    logout_user()
    session[RESUME_KEY] = raw
    flash(str(KEPT_NOTICE) if kept else _("Your session has ended. Please sign in again."), "info")
    return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")
                            if request.method == "GET" else None))


@bp.app_errorhandler(CSRFError)
def _csrf_refused(error: CSRFError) -> Any:
    """A page form whose session token is missing or stale. Its fields are kept (on the server, with the page
    session) and the sender comes back to them: at once while still signed in (a page from before signing in
    again), else through the sign-in page, in the reader's language. Never a bare 400."""
    raw = session.get(PAGE_SESSION_KEY)
    if not request.form.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")):
        # No token in the form at all: no page of ours sent it. Refused as it always was; nothing is kept.
        return render_template("error.html", status=400, message=_(
            "This form has expired or came from another page: please send it again.")), 400
    if current_user.is_authenticated and _keep_posted_form(raw):
        db.session.commit()
        session[KEPT_KEY] = True
        flash(_("This form had expired, so it was not sent: check what you typed and send it again."), "warning")
        return redirect(url_for("accounts.kept_form"))
    if current_user.is_authenticated:
        return render_template("error.html", status=400, message=_(
            "This form has expired or came from another page: please send it again.")), 400
    kept = _keep_posted_form(session.get(RESUME_KEY))
    db.session.commit()
    flash(str(KEPT_NOTICE) if kept else _("Your session had ended, so the form was not sent. Please sign in "
                                          "again."), "info")
    return render_template("accounts/login.html", form=LoginForm(formdata=None), action=url_for("accounts.login")), 400


@bp.get("/session/alive")
def session_alive() -> tuple[str, int]:
    """"Stay signed in" (static/session.js): the request itself restarts the idle clock (_session_gate)."""
    return "", 204


@bp.get("/session/kept")
def kept_form() -> Any:
    """Back to a kept form: its page shows it filled in (see shelters' and placement's forms, through
    accounts.forms.Form), or, for an action with no page of its own, a page that sends it again as it was."""
    path = _kept_page()
    if path is None:
        return redirect(url_for("shelters.home"))
    if _has_page(path):
        return redirect(path)
    kept = services.take_kept_form(db.session, session[PAGE_SESSION_KEY])  # a write: the GET runs again first
    db.session.commit()
    session.pop(KEPT_KEY, None)
    if kept is None:
        return redirect(url_for("shelters.home"))
    return render_template("accounts/kept_form.html", action=kept[0], fields=kept[1])


def _kept_page() -> str | None:
    """The path of the form kept with this session, if any (read without taking it)."""
    raw = session.get(PAGE_SESSION_KEY)
    if not session.get(KEPT_KEY) or not isinstance(raw, str):
        return None
    return services.kept_form_path(db.session, raw)


def _has_page(path: str) -> bool:
    """True when `path` answers GET with a page (the form posts to itself)."""
    adapter = current_app.url_map.bind("", url_scheme=request.scheme)
    try:
        adapter.match(urlsplit(path).path, method="GET")
    except HTTPException:
        return False
    return True


@bp.before_app_request
def _hand_back_kept_form() -> None:
    """On the GET of a kept form's page, take its fields from the server for the page's form (g.kept_formdata)."""
    if request.method != "GET" or not session.get(KEPT_KEY) or request.endpoint in (None, "static", "accounts.kept_form"):
        return
    raw = session.get(PAGE_SESSION_KEY)
    if not isinstance(raw, str) or services.kept_form_path(db.session, raw) != request.full_path.rstrip("?"):
        return
    kept = services.take_kept_form(db.session, raw)
    db.session.commit()  # handed back once: a reload shows the page as it is
    session.pop(KEPT_KEY, None)
    if kept is not None:
        g.kept_formdata = MultiDict(kept[1])
        flash(_("What you typed was kept: check it and send it again."), "info")


@bp.teardown_app_request
def _forget_kept_form(_error: BaseException | None) -> None:
    g.pop("kept_formdata", None)  # one request's: never a later one's in the same application context


def fresh_login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Ask for the password again unless it was entered in the last SAFEHAVEN_REAUTH_MINUTES."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        reauth_at = session.get("reauth_at")
        window = current_app.config["SAFEHAVEN_REAUTH_MINUTES"] * 60
        if not isinstance(reauth_at, int) or time.time() - reauth_at > window:
            flash(_("Please enter your password again to make this change."), "info")
            # Pages send no Referer (Referrer-Policy: no-referrer): a refused change returns to the users page.
            back = url_for("accounts.users") if request.method != "GET" else request.full_path.rstrip("?")
            return redirect(url_for("accounts.reauth", next=back))
        return view(*args, **kwargs)

    return wrapper


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate, methods=["POST"])
def login() -> Any:
    # Shown to a signed-in user too: signing in again as someone else replaces the session's user.
    form = LoginForm()
    if form.validate_on_submit():
        roles = current_app.config["SAFEHAVEN_TOTP_REQUIRED_ROLES"]
        user = services.authenticate(db.session, form.username.data, form.password.data, utcnow(),
                                     totp_roles=roles, **_lockout())
        next_url = _safe_next(request.args.get("next"))
        second_step = user is not None and services.needs_second_factor(user, roles)
        if second_step:
            _reset_session()
            session["pending_login"] = {"user": user.get_id(), "at": int(time.time()), "next": next_url}
        elif user is not None:
            _start_session(user)
        db.session.commit()  # the audit entry, success or not, and the new session's record
        if second_step:
            return redirect(url_for("accounts.second_factor" if user.has_totp else "accounts.enrol_totp"))
        if user is not None:
            return redirect(_landing(next_url or url_for("shelters.home")))
        flash(str(LOGIN_FAILED), "error")
    elif form.is_submitted():
        flash(str(LOGIN_FAILED), "error")
    return render_template("accounts/login.html", form=form)


@bp.route("/login/two-factor", methods=["GET", "POST"])
@limiter.limit(_login_rate, methods=["POST"])
def second_factor() -> Any:
    user = _pending_user()
    if user is None or not user.has_totp:
        session.pop("pending_login", None)
        return redirect(url_for("accounts.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        ok = services.verify_second_factor(db.session, user, form.code.data, utcnow(), **_lockout())
        target = _finish_pending()
        if ok:
            _start_session(user)
        db.session.commit()
        if ok:
            return redirect(_landing(target))
        flash(str(LOGIN_FAILED), "error")
        return render_template("accounts/second_factor.html", form=form), 200
    if form.is_submitted():
        flash(str(LOGIN_FAILED), "error")
    return render_template("accounts/second_factor.html", form=form)


def _qr_svg(uri: str) -> Markup:
    """The otpauth URI as an inline SVG QR code, drawn here: no script, no request to anyone else."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    svg = image.to_string(encoding="unicode").replace(' xmlns="http://www.w3.org/2000/svg"', "")
    svg = svg.replace("<svg ", '<svg role="img" aria-label="{label}" class="qr" '.format(
        label=escape(_("QR code of the two-factor secret"))), 1)
    return Markup(svg)  # built from our own URI only; no user text in it


@bp.route("/login/two-factor/enrol", methods=["GET", "POST"])
@limiter.limit(_login_rate, methods=["POST"])
def enrol_totp() -> Any:
    """Set up the authenticator app: during a sign-in that requires it, or from a signed-in session."""
    pending = not current_user.is_authenticated
    user = _pending_user() if pending else current_user
    if user is None:
        return redirect(url_for("accounts.login"))
    if user.has_totp:
        if pending:
            return redirect(url_for("accounts.second_factor"))
        flash(_("Two-factor sign-in is already set up for your account."), "info")
        return redirect(url_for("shelters.home"))
    secret = services.begin_totp_enrolment(db.session, user)
    db.session.commit()
    form = EnrolTotpForm()
    status = 200
    if form.validate_on_submit():
        codes = services.confirm_totp_enrolment(db.session, user, form.code.data, utcnow())
        if codes is not None:
            target = _finish_pending() if pending else url_for("shelters.home")
            if pending:
                services.complete_enrolment_login(db.session, user, utcnow())
                _start_session(user)
            db.session.commit()
            return render_template("accounts/recovery_codes.html", codes=codes, next_url=_landing(target))
        db.session.commit()
        form.code.errors = [_("That code does not match. Check the phone's clock and enter the current code.")]
        status = 422
    return render_template("accounts/enrol_totp.html", form=form, qr=_qr_svg(services.provisioning_uri(user)),
                           secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
                           pending=pending), status


@bp.route("/account/reauth", methods=["GET", "POST"])
@limiter.limit(_login_rate, methods=["POST"])
def reauth() -> Any:
    """Enter the password again before a sensitive change."""
    form = ReauthForm()
    if form.validate_on_submit():
        now = utcnow()
        ok = services.reauthenticate(db.session, current_user, form.password.data, now, **_lockout())
        if not ok and current_user.is_locked(now):
            return _locked_out()
        db.session.commit()
        if ok:
            session["reauth_at"] = int(time.time())
            return redirect(_safe_next(request.args.get("next")) or url_for("shelters.home"))
        form.password.errors = [_("That is not your password.")]
        return render_template("accounts/reauth.html", form=form), 422
    return render_template("accounts/reauth.html", form=form)


@bp.route("/account/password", methods=["GET", "POST"])
@limiter.limit(_login_rate, methods=["POST"])
def change_password() -> Any:
    """Change one's own password, with the current one; every other session and every API token ends."""
    form = PasswordForm()
    min_length = current_app.config["SAFEHAVEN_PASSWORD_MIN_LENGTH"]
    if form.validate_on_submit():
        now = utcnow()
        try:
            ok = services.change_own_password(db.session, current_user, now, form.current_password.data,
                                              form.password.data, keep_session=session[PAGE_SESSION_KEY],
                                              min_length=min_length, **_lockout())
        except DomainError as error:  # the new password breaks the rules: nothing was counted or changed
            db.session.rollback()
            form.refuse(error)
            return render_template("accounts/password.html", form=form, min_length=min_length), error.status
        if not ok and current_user.is_locked(now):
            return _locked_out()
        db.session.commit()
        if ok:
            session["reauth_at"] = int(time.time())
            flash(_("Your password was changed. Every other session and every API token of yours has ended."),
                  "success")
            return redirect(url_for("shelters.home"))
        form.current_password.errors = [_("That is not your password.")]
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/password.html", form=form, min_length=min_length), status


def _zone_choices() -> list[tuple[str, str]]:
    """The deployment's zone first (no choice of one's own), then UTC and Europe's zones."""
    default = current_app.config.get("SAFEHAVEN_TIMEZONE") or "UTC"
    zones = sorted(z for z in available_timezones() if z.startswith("Europe/"))
    return [("", _("As the deployment: %(zone)s", zone=default)), ("UTC", "UTC"), *((z, z) for z in zones)]


@bp.route("/account/timezone", methods=["GET", "POST"])
def account_timezone() -> Any:
    """The time zone one's own pages show times in (and typed times are read in)."""
    form = TimezoneForm()
    form.timezone.choices = _zone_choices()
    if form.validate_on_submit():
        try:
            services.set_timezone(db.session, current_user, utcnow(), current_user, form.timezone.data or None)
            db.session.commit()
        except DomainError as error:
            db.session.rollback()
            form.refuse(error)
            return render_template("accounts/timezone.html", form=form), error.status
        flash(_("Times are now shown in %(zone)s.", zone=i18n.display_zone().key), "success")
        return redirect(url_for("accounts.account_timezone"))
    if not form.is_submitted():
        form.timezone.data = current_user.timezone or ""
    return render_template("accounts/timezone.html", form=form), 422 if form.is_submitted() else 200


def _locked_out() -> Response:
    """A wrong password entered again locked the account: the session ends, and the page says only what
    sign-in says (the lockout count and audit entries are committed here)."""
    _reset_session(SessionEnd.LOCKED)
    db.session.commit()
    logout_user()
    flash(str(LOGIN_FAILED), "error")
    return redirect(url_for("accounts.login"))


@bp.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated:
        audit.record(db.session, actor=current_user, action="logout", object_type="user",
                     object_id=current_user.username, now=utcnow())
    _reset_session()
    db.session.commit()
    logout_user()
    flash(_("Signed out."), "info")
    return redirect(url_for("accounts.login"))


@bp.post("/language")
def set_language() -> Response:
    """The language switch on every page: kept on the user, or in the session before signing in."""
    language = request.form.get("language", "")
    if language_code(language) is None:
        abort(400, description=f"language: not one of {', '.join(LANGUAGES)}")
    session["language"] = language
    if current_user.is_authenticated:
        services.set_language(db.session, current_user, language)
        db.session.commit()
    return redirect(_safe_next(request.form.get("next")) or url_for("shelters.home"))


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
        flash(str(error.message), "error")
        return _organisations_page(form, error.status)
    flash(_("Organisation %(code)s created.", code=org.code), "success")
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
    return render_template("admin/users.html", users=list(users), form=form, roles=ROLE_LABELS,
                           role_form=RoleForm(formdata=None) if can_manage_accounts(current_user) else None,
                           now=utcnow()), status


@bp.get("/admin/users")
@roles_required(Role.ADMIN, Role.SECRETARIAT)
def users() -> Any:
    return _users_page(None)


@bp.post("/admin/users")
@roles_required(Role.ADMIN)
@fresh_login_required
def create_user() -> Any:
    form = _user_form(request.form)
    if not form.validate():
        return _users_page(form, 422)
    try:
        shelters = shelter_services.get_shelters(db.session, form.shelters.data or [])
        user = services.create_user(
            db.session, current_user, utcnow(), username=form.username.data, password=form.password.data,
            role=form.role.data, organisation_code=form.organisation.data or None, shelters=shelters,
            password_min_length=current_app.config["SAFEHAVEN_PASSWORD_MIN_LENGTH"], email=form.email.data,
        )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        form.refuse(error)
        flash(str(error.message), "error")
        return _users_page(form, error.status)
    flash(_("User %(username)s created.", username=user.username), "success")
    return redirect(url_for("accounts.users"))


def _user_or_404(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None:
        abort(404)
    return user


@bp.post("/admin/users/<username>/role")
@roles_required(Role.ADMIN)
@fresh_login_required
def change_role(username: str) -> Any:
    user = _user_or_404(username)
    form = RoleForm()
    if not form.validate():
        flash(_("Choose one of the roles."), "error")
        return redirect(url_for("accounts.users"))
    services.set_role(db.session, current_user, utcnow(), user, form.role.data)
    db.session.commit()
    flash(_("User %(username)s is now %(role)s; their sessions and tokens ended.", username=user.username,
            role=ROLE_LABELS.get(user.role, user.role)), "success")
    return redirect(url_for("accounts.users"))


@bp.post("/admin/users/<username>/status")
@roles_required(Role.ADMIN)
@fresh_login_required
def change_status(username: str) -> Any:
    user = _user_or_404(username)
    active = request.form.get("active") == "1"
    if user.id == current_user.id and not active:
        flash(_("You cannot disable your own account."), "error")
        return redirect(url_for("accounts.users"))
    services.set_active(db.session, current_user, utcnow(), user, active)
    db.session.commit()
    flash(_("User %(username)s enabled.", username=user.username) if active
          else _("User %(username)s disabled.", username=user.username), "success")
    return redirect(url_for("accounts.users"))


@bp.post("/admin/users/<username>/unlock")
@roles_required(Role.ADMIN)
@fresh_login_required
def unlock_user(username: str) -> Any:
    user = _user_or_404(username)
    services.unlock(db.session, current_user, utcnow(), user)
    db.session.commit()
    flash(_("User %(username)s unlocked.", username=user.username), "success")
    return redirect(url_for("accounts.users"))


@bp.post("/admin/users/<username>/two-factor-reset")
@roles_required(Role.ADMIN)
@fresh_login_required
def reset_two_factor(username: str) -> Any:
    user = _user_or_404(username)
    services.reset_totp(db.session, current_user, utcnow(), user)
    db.session.commit()
    flash(_("The two-factor sign-in of %(username)s was removed; they enrol again at their next sign-in.",
            username=user.username), "success")
    return redirect(url_for("accounts.users"))


# --- the audit log -----------------------------------------------------------------------------------------

AUDIT_PAGE_SIZE = 200
# An event's outcome as the log's reader sees it; actions stay as recorded (they are the log's own vocabulary).
OUTCOME_LABELS = {"ok": _l("ok"), "failed": _l("failed"), "denied": _l("denied"), "mismatch": _l("mismatch")}
# What an event was about, in the reader's words; the object's own code or name follows as recorded.
OBJECT_LABELS = {"audit": _l("audit log"), "case": _l("case"), "keys": _l("keys"), "organisation": _l("organisation"),
                 "placement": _l("placement request"), "report": _l("report"), "shelter": _l("shelter"),
                 "user": _l("user"), "alert": _l("alert"), "token": _l("API token"), "stay": _l("stay")}


@bp.get("/audit")
@roles_required(Role.ADMIN, Role.SECRETARIAT)
def audit_log() -> Any:
    """The log, newest first, filtered by actor and (secretariat) case code; for a case, who viewed it.

    The admin reads account events only and has no case filter: a case code from them is refused.
    """
    case_events = can_read_case_events(current_user)
    if not case_events and "case" in request.args:
        abort(403)
    form = (AuditFilterForm if case_events else AccountAuditFilterForm)(request.args)
    page = partial(render_template, "accounts/audit.html", form=form, case_events=case_events,
                   outcomes=OUTCOME_LABELS, objects=OBJECT_LABELS)
    if not form.validate():
        return page(events=[], viewers=[]), 422
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(AUDIT_PAGE_SIZE)
    if not case_events:
        query = query.where(audit.account_events())
    case = form.case.data if case_events else None
    viewers: list[Any] = []
    if case:
        query = query.where(AuditEvent.object_type == "case", AuditEvent.object_id == case)
        viewers = list(db.session.execute(
            select(AuditEvent.actor, func.count(), func.max(AuditEvent.id))
            .where(AuditEvent.object_type == "case", AuditEvent.object_id == case,
                   AuditEvent.action == "case.read")
            .group_by(AuditEvent.actor).order_by(func.max(AuditEvent.id).desc())
        ))
        last_at = {e.id: e.at for e in db.session.scalars(
            select(AuditEvent).where(AuditEvent.id.in_([v[2] for v in viewers])))} if viewers else {}
        viewers = [(actor, count, last_at.get(last_id)) for actor, count, last_id in viewers]
    if form.actor.data:
        query = query.where(AuditEvent.actor == form.actor.data)
    # Reading who viewed a case is itself a case event, so the admin's account log never names the case.
    audit.record(db.session, actor=current_user, action="audit.read", object_type="case" if case else "audit",
                 object_id=case or form.actor.data or "*", now=utcnow())
    db.session.commit()
    return page(events=list(db.session.scalars(query)), viewers=viewers, limit=AUDIT_PAGE_SIZE)

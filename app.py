"""The application factory: `flask --app app ...` and `create_app()` for servers and tests."""

from __future__ import annotations

import gc
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Response, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from werkzeug.routing import IntegerConverter

import i18n
import outages
from accounts.audit import audit_keys, generate_key
from config import Config
from database import configure_sqlite, configured_or_instance_keys, encryption_keys, keyring, utcnow
from errors import DomainError
from extensions import csrf, db, limiter, login_manager, migrate


class DatabaseId(IntegerConverter):
    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 - werkzeug's name
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


# Reachable without signing in; everything else needs a session (pages) or a token (API).
PUBLIC_ENDPOINTS = frozenset({"accounts.login", "static", "health", "api-docs.openapi_json",
                              # load balancers' probes: no data, no session (health.py)
                              "health.healthz", "health.readyz",
                              # the second step of a sign-in: the view checks the half-done sign-in itself
                              "accounts.second_factor", "accounts.enrol_totp",
                              # the language switch works on the sign-in page too
                              "accounts.set_language"})


def create_app(config: Any = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    # Every <int:...> in a URL is a database id: one beyond 64-bit integers is simply not found.
    app.url_map.converters["int"] = DatabaseId
    app.config.from_object(config if config is not None else Config())
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path) / "secret_key")
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(app.instance_path) / 'safehaven.db'}"
    bind_keys(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # A database that is away is noticed in seconds (a 503, outages.py), not after the kernel's TCP timeout.
        engine_options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        engine_options.setdefault("connect_args", {}).setdefault("connect_timeout", 5)

    db.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(Path(__file__).with_name("migrations")))
    csrf.init_app(app)
    limiter.init_app(app)
    outages.init_app(app)
    i18n.init_app(app)
    _init_login(app)
    _register_transactions(app)
    _register_api(app)
    _register_pages(app)
    _register_cli(app)
    _register_hooks(app)
    _register_listeners()
    if app.config.get("SAFEHAVEN_SCHEDULER") and not app.config.get("TESTING"):
        from alerts.scheduler import start_background

        start_background(app)
    if not app.config.get("TESTING"):
        # Everything made so far (modules, mappers, the app) lives as long as the process: keep it out of
        # the garbage collector's full passes, which a request's many short-lived rows set off
        # (docs/performance.md, suggest). Tests make an app each and must not pin them.
        gc.freeze()
    return app


def bind_keys(app: Flask) -> None:
    """Bind the process-wide keyrings to this app's keys, here and never at import time: the encrypted columns'
    Fernet keys, and the audit chain's HMAC keys, both kept outside the database."""
    keyring.bind(encryption_keys(app.config.get("SAFEHAVEN_ENCRYPTION_KEYS") or [],
                                 Path(app.instance_path) / "encryption_key"))
    audit_keys.bind(configured_or_instance_keys(app.config.get("SAFEHAVEN_AUDIT_KEYS") or [],
                                                Path(app.instance_path) / "audit_key", generate_key))


def _instance_secret(path: Path) -> str:
    """A random key kept in the instance folder, so sessions survive restarts without configuration."""
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _init_login(app: Flask) -> None:
    from accounts import services as account_services
    from accounts.models import User
    from accounts.views import PAGE_SESSION_KEY

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = i18n.lazy_gettext("Please sign in.")
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        # The cookie is only signed: the server's own record of the session decides (signed out, timed out
        # or revoked is refused), in the one query that loads the user.
        raw = session.get(PAGE_SESSION_KEY)
        if not user_id.isdigit() or not isinstance(raw, str):
            return None
        return account_services.user_for_session(db.session, int(user_id), raw, utcnow(),
                                                 app.config["SAFEHAVEN_SESSION_MAX_HOURS"])


def _register_listeners() -> None:
    # The outbox hears of placement's transitions (placement.services.TRANSITION_LISTENERS) once it is imported.
    import alerts.notify  # noqa: F401


def _register_api(app: Flask) -> None:
    from accounts.api import blp as accounts_api
    from alerts.api import blp as alerts_api
    from idempotency import IdempotencyKeyPlugin
    from placement.api import blp as placement_api
    from reports.api import blp as reports_api
    from rest import api
    from shelters.api import blp as shelters_api

    api.init_app(app, spec_kwargs={"security": [{"bearerAuth": []}], "extra_plugins": [IdempotencyKeyPlugin()]})
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for blp in (shelters_api, placement_api, accounts_api, alerts_api, reports_api):
        api.register_blueprint(blp)
        csrf.exempt(blp)  # bearer tokens, never cookies: nothing for a forged form to ride on


def _register_pages(app: Flask) -> None:
    import health
    from accounts.views import bp as accounts_bp
    from alerts.views import bp as alerts_bp
    from placement.views import bp as placement_bp
    from reports.views import bp as reports_bp
    from shelters.views import bp as shelters_bp

    app.register_blueprint(accounts_bp)
    app.register_blueprint(shelters_bp)
    app.register_blueprint(alerts_bp)
    app.register_blueprint(placement_bp)
    app.register_blueprint(reports_bp)
    app.register_blueprint(health.bp)

    @app.context_processor
    def open_alerts() -> dict[str, Any]:
        """`open_alert_count()` for the nav: all open alerts (secretariat), own shelters' (manager), else None."""
        from accounts.models import Role
        from alerts import services as alert_services

        def open_alert_count() -> int | None:
            if not current_user.is_authenticated:
                return None
            if current_user.role == Role.SECRETARIAT:
                return alert_services.open_counts(db.session)
            if current_user.role == Role.SHELTER_MANAGER:
                return alert_services.open_counts(
                    db.session, alert_services.managed_shelter_ids(db.session, current_user))
            return None

        return {"open_alert_count": open_alert_count}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/")
    def index() -> Response:
        return redirect(url_for("shelters.home"))


def _register_cli(app: Flask) -> None:
    from accounts.cli import audit_cli, backup_command, keys_cli, users_cli
    from alerts.cli import alerts_cli, notifications_cli, scheduler_cli
    from shelters.cli import demo_cli, export_cli, import_cli

    for command in (users_cli, audit_cli, keys_cli, demo_cli, backup_command, alerts_cli, scheduler_cli,
                    notifications_cli, import_cli, export_cli):
        app.cli.add_command(command)

    @app.cli.command("check")
    def check() -> None:
        """Check that stays, holds, placement requests, counters and the audit chain agree; exit 1 listing
        every problem (each domain's invariants are in its checks.py)."""
        import click

        from accounts.checks import accounts_problems
        from database import utcnow
        from placement.checks import placement_problems
        from shelters.checks import shelter_problems

        now = utcnow()
        checks = (shelter_problems, placement_problems, accounts_problems)
        problems = [problem for run in checks for problem in run(db.session, now)]
        db.session.rollback()
        for problem in problems:
            click.echo(problem, err=True)
        if problems:
            raise SystemExit(f"{len(problems)} problem(s) found")
        click.echo("all invariants hold: stays, holds, placement requests, counters and the audit chain agree")


def _register_transactions(app: Flask) -> None:
    """GET and HEAD requests read in a read-only transaction; registered before any other hook touches the
    database (the page session's user loader included), so that its first query begins that transaction."""
    from flask import g

    import odd_input
    from health import NO_TRANSACTION_ENDPOINTS
    from database import WriteInReadOnlyTransaction, begin_read_only, end_read_only

    @app.before_request
    def refuse_odd_input() -> None:
        # Before anything reads the request: a NUL byte would be a 500 on PostgreSQL and stored on SQLite, deep
        # JSON a RecursionError in whichever parser met it first (odd_input.py). Pages and API alike.
        odd = odd_input.find(request)
        if odd is None:
            return
        if odd.problem == odd_input.TOO_DEEP:
            message = i18n.lazy_gettext("The JSON body is nested deeper than %(levels)s levels.",
                                        levels=odd_input.MAX_JSON_DEPTH)
        else:
            message = i18n.lazy_gettext("The %(where)s holds characters that are not text.", where=odd.where)
        raise DomainError(message, fields={odd.where: odd.problem})

    @app.before_request
    def read_only_transaction() -> None:
        # GET and HEAD read: on SQLite their transaction takes no write lock, so readers do not queue
        # behind each other (database.begin_read_only). One that turns out to write is done again below.
        if request.endpoint in NO_TRANSACTION_ENDPOINTS:
            return  # a probe answers without the database (/healthz) or opens its own connection (/readyz)
        if request.method in ("GET", "HEAD") and not g.get("write_retry"):
            begin_read_only(db.session())

    @app.teardown_request
    def end_read_only_transaction(_error: BaseException | None) -> None:
        end_read_only(db.session())

    @app.errorhandler(WriteInReadOnlyTransaction)
    def write_in_read_only(_error: WriteInReadOnlyTransaction) -> Any:
        # A read that writes (an audited read, an expired hold released): nothing was written; run the
        # request again, hooks included, in a write-locking transaction so its writes rest on fresh reads.
        end_read_only(db.session())
        g.write_retry = True
        try:
            response = app.preprocess_request()
            return response if response is not None else app.dispatch_request()
        except Exception as error:  # the retry's own errors get the handlers the first run's would have
            return app.handle_user_exception(error)


def _register_hooks(app: Flask) -> None:
    from werkzeug.exceptions import HTTPException

    from rest import api, domain_error_response, is_api_request, rate_limit_headers

    app.after_request(rate_limit_headers)

    @app.before_request
    def require_login() -> Response | None:
        db.session.info["ip"] = request.remote_addr
        if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None or is_api_request():
            return None  # API blueprints check their bearer token themselves
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return None

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if app.config.get("SAFEHAVEN_HTTPS"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        if response.mimetype == "text/html" or is_api_request():
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError) -> Any:
        db.session.rollback()
        if is_api_request():
            return domain_error_response(error)
        flash(str(error.message), "error")
        return render_template("error.html", status=error.status, message=error.message), error.status

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        if is_api_request():
            return api.handle_http_exception(error)
        # Werkzeug's stock descriptions are English prose; the page's own heading says it in the user's language.
        custom = error.description if error.description != type(error).description else None
        return render_template("error.html", status=error.code, message=custom), error.code

"""`flask users ...`, `flask audit verify|anchor`, `flask keys rotate` and `flask backup PATH`."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import click
from cryptography.fernet import InvalidToken
from flask import current_app
from flask.cli import AppGroup

from accounts import audit, services
from database import reencrypt_all, utcnow
from errors import DomainError
from extensions import db
from shelters import services as shelter_services

users_cli = AppGroup("users", help="Create users, issue API tokens, reset passwords, unlock accounts.")
audit_cli = AppGroup("audit", help="Check the audit log and anchor it outside the database.")
keys_cli = AppGroup("keys", help="Encryption keys of identifying data.")


def _fail(error: DomainError) -> None:
    db.session.rollback()
    raise click.ClickException(error.message)


@users_cli.command("create")
@click.argument("name")
@click.option("--role", required=True, help="admin, secretariat, shelter_manager, police or partner")
@click.option("--org", "org_code", help="the organisation's code")
@click.option("--shelter", "shelter_codes", multiple=True, help="a shelter a manager runs (repeatable)")
@click.option("--email", help="the address notifications are mailed to")
@click.option("--timezone", help="the time zone of the user's pages, e.g. Europe/Belgrade (default SAFEHAVEN_TIMEZONE)")
def create_user(name: str, role: str, org_code: str | None, shelter_codes: tuple[str, ...],
                email: str | None, timezone: str | None) -> None:
    """Create user NAME; the password is read from standard input (one line)."""
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = services.create_user(
            db.session, None, utcnow(), username=name, password=password, role=role, organisation_code=org_code,
            shelters=shelter_services.get_shelters(db.session, list(shelter_codes)),
            password_min_length=current_app.config["SAFEHAVEN_PASSWORD_MIN_LENGTH"], email=email,
            timezone=timezone,
        )
    except DomainError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"created {user.username} ({user.role})")


@users_cli.command("email")
@click.argument("name")
@click.argument("address", required=False, default="")
def email_command(name: str, address: str) -> None:
    """Mail NAME's notifications to ADDRESS; without ADDRESS, to nobody."""
    try:
        services.set_email(db.session, None, utcnow(), services.get_user(db.session, name), address)
    except DomainError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"e-mail of {name}: {address or 'none'}")


@users_cli.command("timezone")
@click.argument("name")
@click.argument("zone", required=False, default="")
def timezone_command(name: str, zone: str) -> None:
    """Show NAME's pages in ZONE (e.g. Europe/Berlin); without ZONE, in SAFEHAVEN_TIMEZONE again."""
    try:
        services.set_timezone(db.session, None, utcnow(), services.get_user(db.session, name), zone)
    except DomainError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"time zone of {name}: {zone or 'the deployment default'}")


@users_cli.command("webhook")
@click.argument("org_code")
@click.argument("url", required=False, default="")
def webhook(org_code: str, url: str) -> None:
    """Send ORG_CODE's users' notifications to URL as signed JSON too; the signing secret is read from standard
    input (one line). Without URL, the webhook is turned off."""
    secret = sys.stdin.readline().rstrip("\r\n") if url else None
    try:
        organisation = services.get_organisation(db.session, org_code)
        services.set_webhook(db.session, None, utcnow(), organisation, url, secret)
    except DomainError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"webhook of {org_code}: {url or 'off'}")


@users_cli.command("token")
@click.argument("name")
@click.option("--days", type=int, default=None, help="lifetime in days (default SAFEHAVEN_TOKEN_DAYS)")
def token(name: str, days: int | None) -> None:
    """Print a new API token for NAME, alone on the last line."""
    try:
        user = services.get_user(db.session, name)
        raw = services.issue_token(db.session, None, utcnow(), user,
                                   days or current_app.config["SAFEHAVEN_TOKEN_DAYS"])
    except DomainError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"token for {name} (shown once; store it safely):")
    click.echo(raw)


@users_cli.command("unlock")
@click.argument("name")
def unlock(name: str) -> None:
    """End NAME's lockout after failed sign-ins (audited)."""
    try:
        user = services.get_user(db.session, name)
    except DomainError as error:
        _fail(error)
    was_locked = services.unlock(db.session, None, utcnow(), user)
    db.session.commit()
    click.echo(f"{name} unlocked" if was_locked else f"{name} was not locked")


@users_cli.command("reset-password")
@click.argument("name")
def reset_password(name: str) -> None:
    """Give NAME a new password, read from standard input (one line); all their sessions and API tokens end."""
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = services.get_user(db.session, name)
        services.set_password(db.session, None, utcnow(), user, password,
                              current_app.config["SAFEHAVEN_PASSWORD_MIN_LENGTH"], actor_name="cli")
    except DomainError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"password of {name} reset; their sessions and API tokens ended")


@users_cli.command("reset-two-factor")
@click.argument("name")
def reset_two_factor(name: str) -> None:
    """Remove NAME's second factor (a lost phone); they enrol again at their next sign-in."""
    try:
        user = services.get_user(db.session, name)
    except DomainError as error:
        _fail(error)
    services.reset_totp(db.session, None, utcnow(), user)
    db.session.commit()
    click.echo(f"two-factor sign-in removed for {name}; their sessions and tokens ended")


def _anchor_file() -> Path:
    return audit.anchor_path(current_app.config, current_app.instance_path)


@audit_cli.command("verify")
def verify() -> None:
    """Exit 0 when the audit chain is intact and agrees with its anchors; otherwise name the first broken
    event (or anchor line)."""
    report = audit.verify_chain(db.session, _anchor_file())
    db.session.rollback()
    if report.ok:
        click.echo(f"audit chain {report.finding}")
        return
    click.echo(f"audit chain {report.finding}", err=True)
    sys.exit(1)


@audit_cli.command("anchor")
def anchor() -> None:
    """Append the chain's head (time, last id, MAC) to the anchor file outside the database
    (SAFEHAVEN_AUDIT_ANCHOR_PATH, default instance/audit-anchors.log)."""
    path = _anchor_file()
    try:
        mark = audit.anchor(db.session, utcnow(), path)
    except OSError as error:
        raise click.ClickException(f"could not append to the anchor file {path}: {error}") from error
    finally:
        db.session.rollback()
    if mark is None:
        click.echo("the audit log is empty: nothing to anchor")
    else:
        click.echo(f"anchored event {mark.last_id} in {path}")


@keys_cli.command("rotate")
def rotate_keys() -> None:
    """Re-encrypt every encrypted value with the newest key (the first of SAFEHAVEN_ENCRYPTION_KEYS)."""
    try:
        count = reencrypt_all(db.session.connection(), db.metadata)
    except InvalidToken as error:
        db.session.rollback()
        raise click.ClickException("a stored value opens with none of the keys: put every key still in use "
                                   "in SAFEHAVEN_ENCRYPTION_KEYS (newest first); nothing was changed") from error
    audit.record(db.session, actor=None, action="keys.rotate", object_type="keys", object_id="encryption",
                 now=utcnow(), detail={"values": count}, actor_name="cli")
    db.session.commit()
    click.echo(f"{count} encrypted values re-encrypted with the newest key; older keys may now be removed")


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(path: Path) -> None:
    """Write a consistent copy of the database to PATH while the app runs.

    SQLite: the online backup API (pages copied under a read transaction).
    PostgreSQL: pg_dump in custom format (restore with pg_restore).
    """
    url = db.engine.url
    if path.exists():
        raise click.ClickException(f"{path} exists; choose a new file")
    if url.get_backend_name() == "sqlite":
        source = sqlite3.connect(url.database)
        target = sqlite3.connect(path)
        try:
            with target:
                source.backup(target)
        finally:
            target.close()
            source.close()
    else:
        # The password goes through the environment: a command line is visible to every user of the host.
        dsn = url._replace(drivername="postgresql", password=None).render_as_string(hide_password=False)
        env = os.environ | ({"PGPASSWORD": url.password} if url.password else {})
        subprocess.run(["pg_dump", "--format=custom", f"--file={path}", dsn], check=True, env=env)
    click.echo(f"backup written to {path}")

"""`flask demo load [--reset]`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from accounts import audit
from database import utcnow
from errors import DomainError
from extensions import db
from shelters import demo

demo_cli = AppGroup("demo", help="The demo data from the cable.")


@demo_cli.command("load")
@click.option("--reset", is_flag=True, help="delete everything first (demo databases only)")
def load(reset: bool) -> None:
    """Load the cable's shelters, cases, stays and one user per role; print the logins.

    --reset refuses a database that holds anything but the demo's data."""
    now = utcnow()
    if reset:
        try:
            demo.reset(db.session)
        except DomainError as error:
            db.session.rollback()
            raise click.ClickException(error.message) from error
    elif not demo.is_empty(db.session):
        raise click.ClickException("the database is not empty; use --reset to replace it with the demo")
    logins = demo.load(db.session, now)
    if reset:
        # The log starts again at event 1, so the anchors of the old one no longer apply: keep them aside.
        path = audit.anchor_path(current_app.config, current_app.instance_path)
        try:
            retired = audit.retire_anchors(path, now)
        except OSError as error:
            db.session.rollback()
            raise click.ClickException(f"could not move the anchor file {path} aside ({error}); "
                                       "nothing was changed") from error
        if retired is not None:
            click.echo(f"The audit log was emptied: its anchors were moved to {retired}")
    db.session.commit()
    click.echo("Demo loaded. Sign in at http://127.0.0.1:5000 as (demo passwords, for the demo only):")
    for login in logins:
        click.echo(f"  {login.username:<12} {login.password:<28} {login.role:<16} {login.note}")

"""`flask demo load [--reset]`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from database import utcnow
from extensions import db
from shelters import demo

demo_cli = AppGroup("demo", help="The demo data from the cable.")


@demo_cli.command("load")
@click.option("--reset", is_flag=True, help="delete everything first (demo databases only)")
def load(reset: bool) -> None:
    """Load the cable's shelters, cases, stays and one user per role; print the logins."""
    if reset:
        demo.reset(db.session)
    elif not demo.is_empty(db.session):
        raise click.ClickException("the database is not empty; use --reset to replace it with the demo")
    logins = demo.load(db.session, utcnow())
    db.session.commit()
    click.echo("Demo loaded. Sign in at http://127.0.0.1:5000 as (demo passwords, for the demo only):")
    for login in logins:
        click.echo(f"  {login.username:<12} {login.password:<28} {login.role:<16} {login.note}")

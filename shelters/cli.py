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


import_cli = AppGroup("import", help="Bring in shelters, or a shelter's current residents, from CSV or XLSX.")


def _import(kind: str, path: str, apply: bool) -> None:
    from pathlib import Path

    from shelters import imports

    now = utcnow()
    try:
        table = imports.read_table(kind, path, Path(path).read_bytes())
        report = imports.run_import(db.session, None, now, kind, table, apply=apply)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(f"{path}: {error.message}") from error
    for row in report.rows:
        click.echo(f"row {row.row}: {row.key}: {row.label}")
        for column, reason in row.errors:
            click.echo(f"  row {row.row}, column {column}: {reason}")
    summary = (f"{len(report.rows)} rows: {report.count('create')} new, {report.count('update')} updated, "
               f"{report.count('unchanged')} unchanged, {report.errors} errors")
    if report.applied:
        db.session.commit()
        click.echo(f"applied. {summary}")
        return
    db.session.rollback()
    if report.errors:
        raise click.ClickException(f"nothing was changed. {summary}")
    click.echo(f"dry run, nothing was changed (add --apply). {summary}")


@import_cli.command("shelters")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--apply", is_flag=True, help="write the rows (all or nothing); without it, a dry run")
def import_shelters(path: str, apply: bool) -> None:
    """Shelters from a CSV or XLSX file (columns: see the templates on /imports)."""
    _import("shelters", path, apply)


@import_cli.command("residents")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--apply", is_flag=True, help="write the rows (all or nothing); without it, a dry run")
def import_residents(path: str, apply: bool) -> None:
    """Current residents (pseudonymous profiles with admission dates) from a CSV or XLSX file."""
    _import("residents", path, apply)


export_cli = AppGroup("export", help="Shelters, or current residents, in the import's format (CSV).")


@export_cli.command("shelters")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def export_shelters(path: str) -> None:
    """Every shelter, location included (the file is as confidential as the register)."""
    _export("shelters", path)


@export_cli.command("residents")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def export_residents(path: str) -> None:
    """Every current resident's pseudonymous profile, shelter and admission day."""
    _export("residents", path)


def _export(kind: str, path: str) -> None:
    from pathlib import Path

    from shelters import imports

    rows = imports.export_rows(db.session, kind)
    audit.record(db.session, actor=None, action=f"export.{kind}", object_type="export", object_id=kind,
                 now=utcnow(), detail={"rows": len(rows)})
    Path(path).write_text(imports.write_csv(kind, rows), encoding="utf-8")
    db.session.commit()
    click.echo(f"{len(rows)} {kind} written to {path}")

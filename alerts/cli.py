"""`flask alerts run [--at TIME]` and `flask scheduler run`."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import AppGroup

from alerts import jobs, scheduler
from alerts.rules import Thresholds
from database import utcnow
from extensions import db

alerts_cli = AppGroup("alerts", help="Alert rules.")
scheduler_cli = AppGroup("scheduler", help="The job scheduler.")
notifications_cli = AppGroup("notifications", help="The notification outbox.")


def _parse_time(value: str | None) -> datetime:
    if not value:
        return utcnow()
    try:
        at = datetime.fromisoformat(value)
    except ValueError as error:
        raise click.BadParameter("an ISO-8601 time, e.g. 2025-03-01T08:00:00+00:00", param_hint="--at") from error
    # A time without an offset is taken as UTC, the way every time is stored.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@alerts_cli.command("run")
@click.option("--at", "at", metavar="ISO-8601", help="evaluate as if the time were this (default: now)")
def run(at: str | None) -> None:
    """Evaluate every alert rule once and print what opened, updated and resolved, per kind."""
    now = _parse_time(at)
    summary = jobs.evaluate_alerts(db.session, now, Thresholds.from_config(current_app.config))
    db.session.commit()
    click.echo(f"Alerts evaluated as of {now.isoformat()}:")
    for line in summary.lines():
        click.echo(line)


@scheduler_cli.command("run")
def run_scheduler() -> None:
    """Run the scheduler in the foreground; only the instance holding the lease runs jobs."""
    click.echo("Scheduler running (Ctrl+C to stop).")
    scheduler.run_blocking(current_app._get_current_object())  # type: ignore[attr-defined]


@notifications_cli.command("deliver")
@click.option("--at", "at", metavar="ISO-8601", help="as if the time were this (default: now)")
def deliver(at: str | None) -> None:
    """Write the notifications the clock makes due (escalations, holds running out), then deliver every
    notification that is due, once; print what was sent and what waits."""
    from alerts import delivery, notify

    now = _parse_time(at)
    written = notify.scan(db.session, now, current_app.config)
    db.session.commit()
    report = delivery.deliver_due(db.session, now, current_app.config, scheduler.new_holder_id())
    click.echo(f"Notifications as of {now.isoformat()}: written {written}, {report.line()}, "
               f"waiting {delivery.waiting(db.session)}")
    if report.failed:
        raise SystemExit(1)

"""The scheduler: every scheduled job wired in this one place.

Jobs: alert evaluation (hourly), reservation expiry (every minute), the daily
census, digest and retention (anonymising closed cases), the audit chain's
anchor outside the database (every ten minutes), and notifications (every
SAFEHAVEN_NOTIFY_SECONDS). Each run happens in an app context and its own transaction; a job
that raises is logged, rolled back and raised as a `system` alert in a
transaction of its own, and the other jobs go on.

Exactly one scheduler is active across any number of app instances: before a
job runs, its process takes or renews the lease row in `scheduler_leases`
with one atomic UPDATE (... WHERE expires_at < now OR holder = me). Whoever
does not hold the lease skips the run; when the holder dies, its lease
expires and a standby takes over at its next tick.

Long jobs: the lease is renewed by a job of its own (every third of the lease),
on its own thread, so a job that runs longer than the lease does not lose it
while its process lives. Should it be lost anyway (the database unreachable for
a whole lease), the job's work is fenced: it commits only if, in the same
transaction, the lease row still names this holder, so a standby that took over
never sees its work doubled. APScheduler's `max_instances=1` and `coalesce` keep
a job that overruns its interval from starting a second, overlapping run; the
missed runs collapse into one.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from accounts import audit
from alerts import jobs, rules, services
from alerts.models import SchedulerLease
from alerts.rules import Thresholds
from database import utcnow
from extensions import db

log = logging.getLogger("safehaven.scheduler")

LEASE_NAME = "scheduler"
DEFAULT_LEASE_SECONDS = 90
MISFIRE_GRACE_SECONDS = 300


def new_holder_id() -> str:
    """Unique per scheduler instance: host, process and a random part (two schedulers in one process differ)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def take_lease(session: Session, holder: str, now: datetime, seconds: int = DEFAULT_LEASE_SECONDS) -> bool:
    """Take the lease when it is free or expired, or renew it when `holder` has it. True when `holder` holds it.

    Atomic: the UPDATE's WHERE decides, so of two schedulers racing for an
    expired lease exactly one matches the row. The caller commits.
    """
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # Make sure the row exists; an expired lease is free to take.
    session.execute(insert(SchedulerLease).values(name=LEASE_NAME, holder="", expires_at=now - timedelta(seconds=1))
                    .on_conflict_do_nothing(index_elements=["name"]))
    result = session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == LEASE_NAME,
               (SchedulerLease.expires_at < now) | (SchedulerLease.holder == holder))
        .values(holder=holder, expires_at=now + timedelta(seconds=seconds))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def release_lease(session: Session, holder: str) -> None:
    """Give the lease up at shutdown so a standby need not wait for it to expire."""
    session.execute(update(SchedulerLease).where(SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == holder)
                    .values(expires_at=datetime(1970, 1, 1, tzinfo=UTC)).execution_options(synchronize_session=False))


# --- the jobs ----------------------------------------------------------------------------------------------


def _evaluate(app: Flask, session: Session, now: datetime) -> Any:
    return jobs.evaluate_alerts(session, now, Thresholds.from_config(app.config))


def _expire(app: Flask, session: Session, now: datetime) -> Any:
    # Requests whose hold ran out become 'expired' (placement owns that transition), then any hold
    # left behind without a request is released too.
    from placement.services import expire_holds

    return expire_holds(session, now) + jobs.expire_reservations(session, now)


def _census(app: Flask, session: Session, now: datetime) -> Any:
    return jobs.record_census(session, now)


def _digest(app: Flask, session: Session, now: datetime) -> Any:
    # Sends nothing (and returns 0) unless SAFEHAVEN_SMTP_HOST and SAFEHAVEN_SMTP_TO are set.
    from alerts.mail import send_digest

    return send_digest(session, now, app.config)


def _retention(app: Flask, session: Session, now: datetime) -> Any:
    # Closed cases are anonymised; the answers kept for API retries (Idempotency-Key) expire.
    from idempotency import DEFAULT_HOURS, purge_expired_keys
    from shelters.retention import anonymise_closed_cases

    anonymised = anonymise_closed_cases(session, now, int(app.config.get("SAFEHAVEN_RETENTION_YEARS") or 5))
    purge_expired_keys(session, now, int(app.config.get("SAFEHAVEN_IDEMPOTENCY_HOURS") or DEFAULT_HOURS))
    return anonymised


def _anchor(app: Flask, session: Session, now: datetime) -> Any:
    # The audit chain's head, appended to the anchor file outside the database; writes nothing to the database.
    mark = audit.anchor(session, now, audit.anchor_path(app.config, app.instance_path))
    return mark.last_id if mark else None


def _notify(app: Flask, session: Session, now: datetime) -> Any:
    # The clock's notifications (escalations, holds about to run out) are written and committed, then the outbox
    # is delivered: claims and outcomes commit as they go (alerts/delivery.py), so nothing is left to fence.
    from alerts import delivery, notify

    notify.scan(session, now, app.config)
    session.commit()
    return delivery.deliver_due(session, now, app.config, new_holder_id()).line()


@dataclass(frozen=True)
class JobSpec:
    name: str
    run: Callable[[Flask, Session, datetime], Any]
    trigger: str
    trigger_args: dict[str, Any]


JOBS: dict[str, JobSpec] = {
    "evaluate": JobSpec("evaluate", _evaluate, "interval", {"hours": 1}),
    "expire": JobSpec("expire", _expire, "interval", {"minutes": 1}),
    "census": JobSpec("census", _census, "cron", {"hour": 0, "minute": 5, "timezone": UTC}),
    "digest": JobSpec("digest", _digest, "cron", {"hour": 7, "minute": 0, "timezone": UTC}),
    "retention": JobSpec("retention", _retention, "cron", {"hour": 2, "minute": 30, "timezone": UTC}),
    "anchor": JobSpec("anchor", _anchor, "interval", {"minutes": 10}),
    # Every SAFEHAVEN_NOTIFY_SECONDS (build_scheduler reads it).
    "notify": JobSpec("notify", _notify, "interval", {"seconds": 10}),
}


@dataclass(frozen=True)
class JobRun:
    job: str
    ok: bool
    result: Any = None
    error: str | None = None


def still_holds_lease(session: Session, holder: str) -> bool:
    """True when the lease row names `holder`; the row stays locked (PostgreSQL) or the database write-locked
    (SQLite) until the caller's transaction ends, so no standby can take the lease before it commits."""
    result = session.execute(update(SchedulerLease)
                             .where(SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == holder)
                             .values(holder=holder).execution_options(synchronize_session=False))
    return result.rowcount == 1


def run_job(app: Flask, name: str, now: datetime, registry: dict[str, JobSpec] | None = None,
            holder: str | None = None) -> JobRun:
    """Run one job in an app context and its own transaction.

    A job that raises is logged and rolled back, and a `system` alert naming it
    is opened (or refreshed) in a transaction of its own; nothing is re-raised,
    so the scheduler and the other jobs go on. With `holder`, the work commits
    only while that holder still has the lease; otherwise it is rolled back and
    the run reported as not ok (not a failure: another scheduler is in charge).
    """
    spec = (registry or JOBS)[name]
    with app.app_context():
        session = db.session
        try:
            result = spec.run(app, session, now)
            services.clear_system_alert(session, now, name)
            if holder is not None and not still_holds_lease(session, holder):
                session.rollback()
                log.warning("job %s: the lease passed to another scheduler during the run; its work is undone", name)
                return JobRun(name, False, error="lease lost")
            session.commit()
            log.info("job %s ran as %s for %s", name, holder or "-", now.isoformat())
            return JobRun(name, True, result)
        except Exception as error:  # noqa: BLE001 - any failure of a job becomes a system alert, then we go on
            log.exception("scheduled job %s failed", name)
            session.rollback()
            try:
                services.raise_system_alert(session, now, rules.job_failed(name, error))
                session.commit()
            except Exception:  # the database itself may be what failed; the log has it
                log.exception("could not record the failure of job %s as an alert", name)
                session.rollback()
            return JobRun(name, False, error=f"{type(error).__name__}: {error}")
        finally:
            db.session.remove()


def tick(app: Flask, now: datetime, holder: str, names: Iterable[str] | None = None,
         registry: dict[str, JobSpec] | None = None) -> list[JobRun]:
    """One scheduler tick as `holder`: take or renew the lease, and run `names` (all jobs) only if held.

    Returns the runs made: empty when another scheduler holds the lease.
    """
    registry = registry or JOBS
    seconds = int(app.config.get("SAFEHAVEN_SCHEDULER_LEASE_SECONDS") or DEFAULT_LEASE_SECONDS)
    with app.app_context():
        try:
            held = take_lease(db.session, holder, now, seconds)
            db.session.commit()
        except Exception:  # noqa: BLE001 - no lease, no run; the next tick tries again
            log.exception("could not take the scheduler lease")
            db.session.rollback()
            held = False
        finally:
            db.session.remove()
    if not held:
        return []
    return [run_job(app, name, now, registry, holder) for name in (names if names is not None else registry)]


# Tests call this to drive the scheduler by hand, with a fixed `now`.
run_due_jobs_once = tick


# --- APScheduler -------------------------------------------------------------------------------------------


def build_scheduler(app: Flask, *, blocking: bool, holder: str | None = None,
                    registry: dict[str, JobSpec] | None = None) -> Any:
    """An APScheduler 3 scheduler with every job, each run only while this process holds the lease.

    `SAFEHAVEN_SCHEDULER_INTERVALS` ({job: seconds}) runs the jobs it names at that interval instead.
    """
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.blocking import BlockingScheduler

    holder = holder or new_holder_id()
    grace = int(app.config.get("SAFEHAVEN_SCHEDULER_MISFIRE_GRACE_S") or MISFIRE_GRACE_SECONDS)
    seconds = int(app.config.get("SAFEHAVEN_SCHEDULER_LEASE_SECONDS") or DEFAULT_LEASE_SECONDS)
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": grace})
    started = utcnow()

    registry = registry or JOBS
    intervals = app.config.get("SAFEHAVEN_SCHEDULER_INTERVALS") or {}
    # Renewing the lease more often than it lasts keeps a live holder in charge, however long a job runs.
    scheduler.add_job(_renew_lease, "interval", args=[app, holder], seconds=seconds / 3, id="lease",
                      next_run_time=started)
    for spec in registry.values():
        first = {"next_run_time": started} if spec.name in ("evaluate", "census") else {}
        trigger, trigger_args = spec.trigger, spec.trigger_args
        if spec.name == "notify":
            trigger_args = {"seconds": int(app.config.get("SAFEHAVEN_NOTIFY_SECONDS") or 10)}
        if spec.name in intervals:
            trigger, trigger_args = "interval", {"seconds": intervals[spec.name]}
        scheduler.add_job(_run_named, trigger, args=[app, holder, spec.name, registry], id=spec.name,
                          **trigger_args, **first)
    scheduler.safehaven_holder = holder
    log.info("scheduler %s ready (lease %ss)", holder, seconds)
    return scheduler


def _renew_lease(app: Flask, holder: str) -> None:
    tick(app, utcnow(), holder, names=[])


def _run_named(app: Flask, holder: str, name: str, registry: dict[str, JobSpec] | None = None) -> None:
    tick(app, utcnow(), holder, names=[name], registry=registry)


def start_background(app: Flask) -> Any:
    """Start the scheduler inside the web process (SAFEHAVEN_SCHEDULER=1); other instances stand by."""
    scheduler = build_scheduler(app, blocking=False)
    scheduler.start()
    return scheduler


def run_blocking(app: Flask) -> None:
    """`flask scheduler run`: run in the foreground until interrupted, then give the lease up."""
    if not logging.getLogger().handlers:  # a foreground process says what it runs, on standard error
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    scheduler = build_scheduler(app, blocking=True)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if scheduler.running:
            # Wait for a job in flight: one finishing after the release (the lease job itself, or a tick
            # taking the lease) would hold the lease again for a whole period after this process is gone.
            scheduler.shutdown(wait=True)
        with app.app_context():
            release_lease(db.session, scheduler.safehaven_holder)
            db.session.commit()

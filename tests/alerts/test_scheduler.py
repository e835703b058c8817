"""The scheduler: failures become system alerts, and one lease means one run per tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from alerts import scheduler
from alerts.models import Alert, SchedulerLease
from alerts.scheduler import JOBS, JobSpec
from extensions import db

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)


class Calls:
    """A registry of jobs that count their runs; 'broken' always raises."""

    def __init__(self) -> None:
        self.runs: list[str] = []

    def registry(self, *, broken: bool = False) -> dict[str, JobSpec]:
        def counting(name: str):  # noqa: ANN202
            def run(app, session, now):  # noqa: ANN001, ANN202
                self.runs.append(name)
                return JOBS[name].run(app, session, now)
            return run

        def failing(app, session, now):  # noqa: ANN001, ANN202
            self.runs.append("broken")
            raise RuntimeError("disk on fire")

        jobs = {name: JobSpec(name, counting(name), spec.trigger, spec.trigger_args) for name, spec in JOBS.items()}
        if broken:
            jobs = {"broken": JobSpec("broken", failing, "interval", {"minutes": 1})} | jobs
        return jobs


@pytest.fixture
def calls() -> Calls:
    return Calls()


def system_alerts() -> list[dict]:
    """The system alerts as plain values; the read transaction ends so the scheduler's own session can write."""
    db.session.expire_all()
    rows = [{"subject_type": a.subject_type, "subject": a.subject, "severity": a.severity, "status": a.status,
             "message": a.message, "figures": a.figures, "resolved_by_id": a.resolved_by_id}
            for a in db.session.scalars(select(Alert).where(Alert.kind == "system"))]
    db.session.rollback()
    return rows


def test_a_failing_job_raises_a_system_alert_and_the_others_run(app, calls, make, caplog):
    make.shelter("PVPT", capacity=5)
    db.session.remove()
    runs = scheduler.tick(app, NOW, "a", registry=calls.registry(broken=True))
    assert calls.runs == ["broken", "evaluate", "expire", "census", "digest", "retention", "anchor", "notify"]
    assert [(r.job, r.ok) for r in runs] == [("broken", False), ("evaluate", True), ("expire", True),
                                             ("census", True), ("digest", True), ("retention", True),
                                             ("anchor", True), ("notify", True)]
    (alert,) = system_alerts()
    assert (alert["subject_type"], alert["subject"], alert["severity"], alert["status"]) == (
        "system", "broken", "critical", "open")
    assert "disk on fire" in alert["message"] and alert["figures"]["failures"] == 1
    assert "scheduled job broken failed" in caplog.text
    # Evaluation of the other rules does not resolve the system alert; failing again refreshes it.
    scheduler.tick(app, NOW + timedelta(hours=1), "a", registry=calls.registry(broken=True))
    (alert,) = system_alerts()
    assert alert["status"] == "open" and alert["figures"]["failures"] == 2


def test_a_job_that_runs_cleanly_again_clears_its_system_alert(app, calls):
    scheduler.tick(app, NOW, "a", names=["broken"], registry=calls.registry(broken=True))
    healed = calls.registry() | {"broken": JobSpec("broken", lambda app, session, now: None, "interval", {})}
    scheduler.tick(app, NOW + timedelta(minutes=1), "a", names=["broken"], registry=healed)
    (alert,) = system_alerts()
    assert alert["status"] == "resolved" and alert["resolved_by_id"] is None


def test_two_schedulers_one_evaluation_per_tick(app, calls):
    registry = calls.registry()
    for minute in range(3):
        at = NOW + timedelta(minutes=minute)
        first = scheduler.tick(app, at, "instance-a", names=["evaluate"], registry=registry)
        second = scheduler.tick(app, at, "instance-b", names=["evaluate"], registry=registry)
        assert (len(first), len(second)) == (1, 0)
    assert calls.runs == ["evaluate"] * 3


def test_a_standby_takes_over_when_the_lease_expires(app, calls):
    registry = calls.registry()
    seconds = app.config["SAFEHAVEN_SCHEDULER_LEASE_SECONDS"]
    assert scheduler.tick(app, NOW, "instance-a", names=["evaluate"], registry=registry)
    # instance-a dies; until its lease runs out instance-b stands by.
    assert scheduler.tick(app, NOW + timedelta(seconds=seconds - 1), "instance-b", names=["evaluate"],
                          registry=registry) == []
    assert scheduler.tick(app, NOW + timedelta(seconds=seconds + 1), "instance-b", names=["evaluate"],
                          registry=registry)
    db.session.expire_all()
    assert db.session.get(SchedulerLease, scheduler.LEASE_NAME).holder == "instance-b"
    db.session.rollback()
    # The old holder, come back, is now the standby.
    assert scheduler.tick(app, NOW + timedelta(seconds=seconds + 2), "instance-a", names=["evaluate"],
                          registry=registry) == []
    assert calls.runs == ["evaluate", "evaluate"]


def test_releasing_the_lease_hands_over_at_once(app):
    with app.app_context():
        assert scheduler.take_lease(db.session, "a", NOW)
        scheduler.release_lease(db.session, "a")
        assert scheduler.take_lease(db.session, "b", NOW)
        assert not scheduler.take_lease(db.session, "a", NOW)
        db.session.commit()


def test_apscheduler_wiring(app):
    sched = scheduler.build_scheduler(app, blocking=False, holder="test")
    sched.start(paused=True)  # job defaults apply once the jobs are really added; paused, nothing runs
    jobs = {job.id: job for job in sched.get_jobs()}
    sched.shutdown(wait=False)
    assert set(jobs) == {"lease", "evaluate", "expire", "census", "digest", "retention", "anchor", "notify"}
    for job in jobs.values():
        assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time == 300
    assert str(jobs["evaluate"].trigger) == "interval[1:00:00]"
    assert str(jobs["expire"].trigger) == "interval[0:01:00]"
    assert str(jobs["anchor"].trigger) == "interval[0:10:00]"
    assert str(jobs["notify"].trigger) == "interval[0:00:10]"  # SAFEHAVEN_NOTIFY_SECONDS
    assert "cron" in str(jobs["census"].trigger).lower()

"""The scheduler under faults: a job that loses the lease mid-run, a job that overruns its interval (real
APScheduler), and the lease holder killed with SIGKILL while a standby `flask scheduler run` waits
(real processes on one database: the SQLite file, and PostgreSQL where TEST_DATABASE_URL is set).

Intervals and the lease are seconds long (SAFEHAVEN_SCHEDULER_INTERVALS, SAFEHAVEN_SCHEDULER_LEASE_SECONDS),
so each of these tests takes a few seconds of wall time.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from alerts import jobs, scheduler
from alerts.models import Alert, CensusDay, SchedulerLease
from alerts.scheduler import JobSpec
from config import TEST_AUDIT_KEY, TEST_ENCRYPTION_KEY
from extensions import db

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def test_work_done_after_the_lease_passed_on_is_undone(app, make):
    """Fencing: should a holder lose the lease during a run, its work does not commit beside the new holder's."""
    make.shelter("PVPT", capacity=5)
    db.session.remove()
    seconds = app.config["SAFEHAVEN_SCHEDULER_LEASE_SECONDS"]

    def census_after_a_takeover(app, session, now):
        # While this run is under way (before it writes), its lease expires and "b" takes over.
        assert scheduler.tick(app, now + timedelta(seconds=seconds + 1), "b", names=[]) == []
        return jobs.record_census(session, now)

    registry = {"census": JobSpec("census", census_after_a_takeover, "interval", {"seconds": 1})}
    (run,) = scheduler.tick(app, NOW, "a", registry=registry)
    assert (run.ok, run.error) == (False, "lease lost")
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(CensusDay)) == 0
    assert db.session.scalar(select(func.count()).select_from(Alert)) == 0  # not a failure: no system alert
    assert db.session.get(SchedulerLease, scheduler.LEASE_NAME).holder == "b"
    db.session.rollback()
    # The new holder's own run of the same job commits.
    (run,) = scheduler.tick(app, NOW + timedelta(seconds=seconds + 2), "b", registry=scheduler.JOBS | {
        "census": JobSpec("census", lambda app, session, now: jobs.record_census(session, now), "interval", {})},
        names=["census"])
    assert run.ok and run.result == 1


def test_an_overrunning_job_neither_overlaps_itself_nor_loses_the_lease(app, caplog):
    """A 1-second job that takes 2.2 s, under a 2-second lease, with a second scheduler standing by."""
    app.config["SAFEHAVEN_SCHEDULER_LEASE_SECONDS"] = 2
    runs: list[tuple[str, float, float]] = []

    def slow(label: str) -> dict[str, JobSpec]:
        def run(app, session, now):
            start = time.monotonic()
            time.sleep(2.2)  # longer than its interval and than the lease
            runs.append((label, start, time.monotonic()))

        return {"slow": JobSpec("slow", run, "interval", {"seconds": 1})}

    caplog.set_level(logging.WARNING, logger="apscheduler")
    first = scheduler.build_scheduler(app, blocking=False, holder="a", registry=slow("a"))
    second = scheduler.build_scheduler(app, blocking=False, holder="b", registry=slow("b"))
    first.start()
    time.sleep(0.3)  # "a" renews the lease at once; "b" starts as the standby
    second.start()
    time.sleep(5)
    first.shutdown(wait=True)
    second.shutdown(wait=True)

    assert len(runs) >= 2, runs
    assert {label for label, _, _ in runs} == {"a"}, runs  # the standby never ran it, though it outlasted the lease
    spans = sorted((start, end) for _, start, end in runs)
    assert all(end <= next_start for (_, end), (next_start, _) in itertools.pairwise(spans)), spans  # no overlap
    assert "maximum number of running instances reached" in caplog.text  # the overrun skipped, not doubled
    db.session.expire_all()
    assert db.session.get(SchedulerLease, scheduler.LEASE_NAME).holder == "a"
    db.session.rollback()


def test_a_job_that_keeps_failing_under_apscheduler_leaves_the_others_running(app):  # noqa: ANN001
    """Through the real APScheduler wiring: a job raising every second is a system alert, counted; the other
    job and the scheduler go on."""
    runs: list[str] = []

    def broken(app, session, now):  # noqa: ANN001, ANN202
        runs.append("broken")
        raise RuntimeError("disk on fire")

    def healthy(app, session, now):  # noqa: ANN001, ANN202
        runs.append("healthy")

    registry = {"broken": JobSpec("broken", broken, "interval", {"seconds": 0.5}),
                "healthy": JobSpec("healthy", healthy, "interval", {"seconds": 0.5})}
    sched = scheduler.build_scheduler(app, blocking=False, holder="a", registry=registry)
    sched.start()
    try:
        deadline = time.monotonic() + 10
        while min(runs.count("broken"), runs.count("healthy")) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sched.running
    finally:
        sched.shutdown(wait=True)
    assert runs.count("broken") >= 3 and runs.count("healthy") >= 3, runs
    db.session.expire_all()
    (alert,) = db.session.scalars(select(Alert).where(Alert.kind == "system")).all()
    assert (alert.subject, alert.status) == ("broken", "open")
    assert alert.figures["failures"] == runs.count("broken")
    db.session.rollback()


def test_intervals_from_the_environment_replace_the_schedule(app, monkeypatch):
    from config import Config

    monkeypatch.setenv("SAFEHAVEN_SCHEDULER_INTERVALS", "evaluate=1.5, expire=1")
    app.config["SAFEHAVEN_SCHEDULER_INTERVALS"] = Config().SAFEHAVEN_SCHEDULER_INTERVALS
    assert app.config["SAFEHAVEN_SCHEDULER_INTERVALS"] == {"evaluate": 1.5, "expire": 1.0}
    sched = scheduler.build_scheduler(app, blocking=False, holder="test")
    sched.start(paused=True)
    jobs_by_id = {job.id: job for job in sched.get_jobs()}
    sched.shutdown(wait=False)
    assert str(jobs_by_id["evaluate"].trigger) == "interval[0:00:01.500000]"
    assert str(jobs_by_id["expire"].trigger) == "interval[0:00:01]"
    assert "cron" in str(jobs_by_id["census"].trigger)
    # The lease is renewed three times per lease period, however short the lease.
    assert jobs_by_id["lease"].trigger.interval.total_seconds() == app.config["SAFEHAVEN_SCHEDULER_LEASE_SECONDS"] / 3


# --- two `flask scheduler run` processes; the holder is killed ---------------------------------------------

RAN = re.compile(r"job (\w+) ran as (\S+) for (\S+)")


# Long enough that a loaded CI machine still renews it in time (renewals come every third of it).
PROCESS_LEASE_S = 3


class SchedulerProcess:
    """`flask --app app scheduler run` in its own process, its log lines collected as they come."""

    def __init__(self, database_url: str) -> None:
        env = os.environ | {
            "DATABASE_URL": database_url, "SECRET_KEY": "scheduler-test-secret",
            "SAFEHAVEN_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEY, "SAFEHAVEN_AUDIT_KEYS": TEST_AUDIT_KEY,
            "PYTHONUNBUFFERED": "1",
            "SAFEHAVEN_SCHEDULER_LEASE_SECONDS": str(PROCESS_LEASE_S),
            "SAFEHAVEN_SCHEDULER_INTERVALS": "evaluate=1,expire=1",
        }
        flask = str(Path(sys.executable).with_name("flask"))
        self.process = subprocess.Popen([flask, "--app", "app", "scheduler", "run"], cwd=ROOT, env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line.rstrip())

    def runs(self) -> list[tuple[str, str, datetime]]:
        """(job, holder, the tick's time) of every job this process ran."""
        return [(m[1], m[2], datetime.fromisoformat(m[3])) for line in list(self.lines) if (m := RAN.search(line))]

    def wait_for(self, predicate, timeout: float) -> float:
        """Seconds until predicate() held; fails after `timeout`."""
        start = time.monotonic()
        while not predicate():
            assert self.process.poll() is None, "\n".join(self.lines[-30:])
            assert time.monotonic() - start < timeout, "\n".join(self.lines[-30:])
            time.sleep(0.05)
        return time.monotonic() - start

    def stop(self, sig: int = signal.SIGINT) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._reader.join(5)


def test_killing_the_lease_holder_hands_over_to_exactly_one_standby(app, make, database_url):
    make.shelter("PVPT", capacity=5)
    db.session.remove()
    both = [SchedulerProcess(database_url), SchedulerProcess(database_url)]
    try:
        # Started together: one takes the lease and evaluates at once, the other stands by.
        both[0].wait_for(lambda: any(p.runs() for p in both) and all(
            any("ready" in line for line in p.lines) for p in both), timeout=30)
        holder, standby = both if both[0].runs() else both[::-1]
        time.sleep(PROCESS_LEASE_S)  # the standby ticks, and is refused the lease, for a whole lease period
        assert standby.runs() == []

        killed_at = datetime.now(UTC)
        holder.process.send_signal(signal.SIGKILL)
        holder.process.wait(10)
        takeover = standby.wait_for(lambda: any(job == "evaluate" for job, _, _ in standby.runs()), timeout=15)
        # Within the lease plus one renewal tick (a third of it) and a margin for the machine's load.
        print(f"standby took over {takeover:.2f} s after the kill")
        assert takeover <= PROCESS_LEASE_S + 1 + 2, takeover
        standby.wait_for(lambda: sum(job == "evaluate" for job, _, _ in standby.runs()) >= 3, timeout=10)
    finally:
        both[0].stop(signal.SIGINT)  # a graceful stop gives the lease up (the killed one is gone already)
        both[1].stop(signal.SIGINT)

    before, after = holder.runs(), standby.runs()
    assert {h for _, h, _ in before} == {before[0][1]} and {h for _, h, _ in after} == {after[0][1]}
    assert before[0][1] != after[0][1]
    assert all(at <= killed_at for _, _, at in before), (killed_at, before)
    assert all(at >= killed_at for _, _, at in after), (killed_at, after)
    # Every evaluation tick ran once: the merged runs are an interval apart, never a pair at one tick.
    evaluations = sorted(at for job, _, at in before + after if job == "evaluate")
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(evaluations)]
    assert min(gaps) >= 0.5, gaps
    assert standby.process.returncode == 0, "\n".join(standby.lines[-20:])
    db.session.expire_all()
    lease = db.session.get(SchedulerLease, scheduler.LEASE_NAME)
    assert lease.holder == after[0][1] and lease.expires_at.year == 1970  # released on the way out
    db.session.rollback()

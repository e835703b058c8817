"""A scheduler that cannot take its lease (the database refuses the statement) runs nothing, says so in the log,
and takes the lease at the next tick once the database answers again."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from alerts import scheduler
from alerts.models import SchedulerLease
from extensions import db

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_scheduler_that_fails_to_take_its_lease_runs_nothing(app, caplog):
    ran = []
    registry = {"probe": scheduler.JobSpec("probe", lambda app_, session, now: ran.append(now), "interval",
                                           {"hours": 1})}
    with app.app_context():
        SchedulerLease.__table__.drop(db.engine)  # every statement on the lease now fails
    try:
        with caplog.at_level(logging.ERROR, logger=scheduler.log.name):
            assert scheduler.tick(app, NOW, "holder-a", registry=registry) == []
        assert ran == []
        assert "could not take the scheduler lease" in caplog.text
    finally:
        with app.app_context():
            SchedulerLease.__table__.create(db.engine)
    runs = scheduler.tick(app, NOW + timedelta(minutes=1), "holder-a", registry=registry)
    assert [(r.job, r.ok) for r in runs] == [("probe", True)] and ran == [NOW + timedelta(minutes=1)]

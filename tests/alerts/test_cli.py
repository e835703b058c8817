"""`flask alerts run --at TIME` on the demo."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from alerts.models import Alert
from extensions import db
from shelters import demo

AT = datetime(2025, 6, 1, 12, tzinfo=UTC)


def test_alerts_run_at_a_time_prints_a_summary_and_is_idempotent(app, runner):
    demo.load(db.session, AT)
    db.session.commit()
    result = runner.invoke(args=["alerts", "run", "--at", AT.isoformat()])
    assert result.exit_code == 0, result.output
    assert "as of 2025-06-01T12:00:00+00:00" in result.output
    assert "unused_facility: opened 2" in result.output
    assert "identification_drop: opened 1" in result.output
    again = runner.invoke(args=["alerts", "run", "--at", "2025-06-01T12:00:00Z"])
    assert again.exit_code == 0
    assert "opened 0, updated 0, unchanged 5, resolved 0" in again.output
    db.session.expire_all()
    kinds = sorted((a.kind, a.subject) for a in db.session.scalars(select(Alert)))
    assert ("unused_facility", "HAH") in kinds and ("unused_facility", "ISF") in kinds
    assert len(kinds) == 5


def test_alerts_run_refuses_a_bad_time(app, runner):
    result = runner.invoke(args=["alerts", "run", "--at", "next tuesday"])
    assert result.exit_code != 0 and "ISO-8601" in result.output

"""The unusual_access alert: a user reading far more cases or shelter addresses in an hour than usual."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from accounts import audit
from alerts import jobs, rules
from alerts.models import Alert
from alerts.rules import Thresholds
from extensions import db


def test_the_rule_fires_above_the_threshold_only():
    t = Thresholds(unusual_access_per_hour=30)
    assert rules.unusual_access("officer", 30, t) is None
    decision = rules.unusual_access("officer", 31, t)
    assert decision.kind == "unusual_access" and decision.subject_type == "user" and decision.subject == "officer"
    assert decision.figures == {"reads_last_hour": 31, "threshold": 30} and decision.severity == "warning"
    assert rules.unusual_access("officer", 91, t).severity == "critical"


def test_thresholds_come_from_the_configuration(app):
    app.config["SAFEHAVEN_ALERT_UNUSUAL_ACCESS_PER_HOUR"] = 7
    assert Thresholds.from_config(app.config).unusual_access_per_hour == 7


def test_the_job_counts_the_last_hour_and_raises_one_alert(make, now):
    reader = make.user("police", username="reader")
    calm = make.user("secretariat", username="calm")
    for i in range(4):
        audit.record(db.session, actor=reader, action="case.read", object_type="case", object_id=f"VOT-{i}", now=now)
    audit.record(db.session, actor=reader, action="shelter.location_read", object_type="shelter", object_id="S1",
                 now=now - timedelta(minutes=30))
    audit.record(db.session, actor=reader, action="case.read", object_type="case", object_id="OLD",
                 now=now - timedelta(hours=2))
    audit.record(db.session, actor=calm, action="case.read", object_type="case", object_id="VOT-0", now=now)
    db.session.commit()
    assert jobs.sensitive_reads_last_hour(db.session, now) == {"reader": 5, "calm": 1}

    t = Thresholds(unusual_access_per_hour=3)
    jobs.evaluate_alerts(db.session, now, t)
    jobs.evaluate_alerts(db.session, now + timedelta(minutes=1), t)
    db.session.commit()
    alerts = db.session.scalars(select(Alert).where(Alert.kind == "unusual_access")).all()
    assert [(a.subject_type, a.subject, a.status) for a in alerts] == [("user", "reader", "open")]
    assert alerts[0].figures["reads_last_hour"] == 5

    jobs.evaluate_alerts(db.session, now + timedelta(hours=2), t)  # the hour passed: resolved
    db.session.commit()
    assert db.session.scalar(select(Alert.status).where(Alert.kind == "unusual_access")) == "resolved"

"""/api/v1/reports: why a shelter stands empty, for the secretariat's own tools (the page's figures as JSON)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, g
from marshmallow import Schema, fields

from accounts import audit
from accounts.models import Role
from accounts.permissions import roles_required
from database import utcnow
from errors import Invalid
from extensions import db
from i18n import lazy_gettext as _l
from placement.services import Settings
from reports import evidence
from rest import api_blueprint
from shelters import services as shelter_services

blp = api_blueprint("reports_api", __name__, "Why shelters stand empty: the placement funnel and what-if")


class FunnelQuery(Schema):
    from_ = fields.String(data_key="from", load_default=None, metadata={"description": "first day, YYYY-MM-DD"})
    to = fields.String(load_default=None, metadata={"description": "last day (inclusive), YYYY-MM-DD"})


class FunnelOut(Schema):
    shelter = fields.String()
    period = fields.Dict(metadata={"description": "from and to (inclusive) days"})
    steps = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "made, eligible, top3, chosen, accepted, admitted, stayed: requests at each step"})
    exclusions = fields.List(fields.Dict(), metadata={
        "description": "each reason (code and values) that left the shelter out: requests, and how often alone"})
    leaks = fields.Dict(metadata={"description": "what stopped the rest after eligibility"})
    what_if = fields.Dict(metadata={"description": "per change: eligible and ranked first, before and after"})


@blp.route("/reports/shelters/<code>/funnel")
@roles_required(Role.SECRETARIAT)
@blp.arguments(FunnelQuery, location="query")
@blp.response(200, FunnelOut)
def shelter_funnel(query: dict[str, Any], code: str) -> dict[str, Any]:
    """A shelter's placement funnel over the requests made in a period (the last 365 days by default), from
    their stored rankings and timelines, with the what-if replays. 422 naming `from` or `to` for a bad period."""
    now = utcnow()
    shelter = shelter_services.get_shelter(db.session, code)
    try:
        period = evidence.parse_period(query.get("from_"), query.get("to"), now.date())
    except ValueError as exc:
        raise Invalid(_l("Give the period as days (YYYY-MM-DD), the end on or after the start."),
                      fields={str(exc): "invalid"}) from exc
    funnel = evidence.funnel(db.session, shelter, period, now)
    changes = evidence.what_ifs(db.session, shelter, period, Settings.from_config(current_app.config))
    audit.record(db.session, actor=g.api_user, action="report.funnel_read", object_type="shelter",
                 object_id=shelter.code, now=now, detail={"from": period.start.isoformat(),
                                                          "to": period.end.isoformat(), "api": True})
    db.session.commit()
    return {
        "shelter": shelter.code,
        "period": {"from": period.start.isoformat(), "to": (period.end - timedelta(days=1)).isoformat()},
        "steps": dict(funnel.steps()),
        "exclusions": [{"code": t.code, "values": dict(t.values), "requests": t.requests,
                        "only_reason": t.only_reason} for t in funnel.exclusions],
        "leaks": {"ranked_lower": dict(funnel.ranked_lower), "passed_over": dict(funnel.passed_over),
                  "never_placed": funnel.never_placed, "rejected": dict(funnel.rejected),
                  "declined": dict(funnel.declined), "expired": funnel.expired, "cancelled": funnel.cancelled,
                  "left_early": dict(funnel.left_early), "too_recent": funnel.too_recent},
        "what_if": {name: {"eligible_before": w.eligible_before, "eligible_after": w.eligible_after,
                           "first_before": w.first_before, "first_after": w.first_after}
                    for name, w in changes.items()},
    }

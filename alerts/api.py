"""/api/v1 for alerts and utilisation statistics: the same services as the pages, as JSON."""

from __future__ import annotations

from typing import Any

from flask import g, url_for

import paging
from accounts.models import Role, User
from accounts.permissions import roles_required
from alerts import permissions, schemas, services
from alerts.models import Alert
from database import utcnow
from errors import NotAllowed
from extensions import db
from rest import api_blueprint, created

blp = api_blueprint("alerts_api", __name__, "Alerts, their review, and utilisation statistics")


def _user() -> User:
    return g.api_user


def alert_json(alert: Alert, *, comments: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": alert.id, "kind": alert.kind, "subject_type": alert.subject_type, "subject": alert.subject,
        "shelter": alert.shelter.code if alert.shelter else None, "severity": alert.severity,
        "status": alert.status, "figures": alert.figures, "message": alert.message,
        "first_seen": alert.first_seen, "last_seen": alert.last_seen,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by.username if alert.acknowledged_by else None,
        "resolved_at": alert.resolved_at,
        "resolved_by": alert.resolved_by.username if alert.resolved_by else None,
        "resolution_note": alert.resolution_note,
    }
    if comments:
        data["comments"] = [{"id": c.id, "at": c.at, "user": c.user.username if c.user else None, "note": c.note}
                            for c in alert.comments]
    return data


@blp.route("/alerts")
@roles_required(Role.SECRETARIAT, Role.SHELTER_MANAGER)
@blp.arguments(schemas.AlertQuery, location="query")
@blp.response(200, schemas.AlertList)
@paging.paged
def list_alerts(query: dict[str, Any]) -> Any:
    """Alerts by status, most severe and oldest first: all for the secretariat, own shelters' for a manager."""
    user = _user()
    scope = None if permissions.sees_all_alerts(user) else services.managed_shelter_ids(db.session, user)
    after = paging.decode_cursor(query["cursor"], (int, str, int))
    if after is not None:
        after = (after[0], paging.cursor_time(after[1]), after[2])
    alerts = services.list_alerts(db.session, query["status"], scope, after=after, limit=query["limit"] + 1)
    alerts, cursor = paging.page_of(alerts, query["limit"], lambda a: (
        (rank := services.alert_sort_key(a))[0], rank[1].isoformat(), rank[2]))
    return {"alerts": [alert_json(a) for a in alerts], "next_cursor": cursor}, 200, paging.link_header(cursor)


@blp.route("/alerts/<int:alert_id>")
@roles_required(Role.SECRETARIAT, Role.SHELTER_MANAGER)
@blp.response(200, schemas.AlertOut)
def get_alert(alert_id: int) -> dict[str, Any]:
    """One alert with its action notes; 404 for an alert the caller may not see."""
    return alert_json(permissions.load_alert(db.session, _user(), alert_id), comments=True)


def _reviewable(alert_id: int) -> Alert:
    user = _user()
    alert = permissions.load_alert(db.session, user, alert_id)
    if not permissions.can_review_alert(user, alert):
        raise NotAllowed("only the secretariat acknowledges and resolves alerts")
    return alert


@blp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"])
@roles_required(Role.SECRETARIAT, Role.SHELTER_MANAGER)
@blp.response(200, schemas.AlertOut)
def acknowledge(alert_id: int) -> dict[str, Any]:
    """Acknowledge an open alert (secretariat). 409 when it is not open."""
    alert = services.acknowledge(db.session, _user(), utcnow(), _reviewable(alert_id))
    db.session.commit()
    return alert_json(alert, comments=True)


@blp.route("/alerts/<int:alert_id>/resolve", methods=["POST"])
@roles_required(Role.SECRETARIAT, Role.SHELTER_MANAGER)
@blp.arguments(schemas.NoteIn)
@blp.response(200, schemas.AlertOut)
def resolve(data: dict[str, Any], alert_id: int) -> dict[str, Any]:
    """Resolve an alert with a note saying what was done (secretariat). 409 when already resolved."""
    alert = services.resolve(db.session, _user(), utcnow(), _reviewable(alert_id), data["note"])
    db.session.commit()
    return alert_json(alert, comments=True)


@blp.route("/alerts/<int:alert_id>/comments", methods=["POST"])
@roles_required(Role.SECRETARIAT, Role.SHELTER_MANAGER)
@blp.arguments(schemas.NoteIn)
@blp.response(201, schemas.AlertOut)
def add_comment(data: dict[str, Any], alert_id: int) -> Any:
    """Add an action note (secretariat; the manager of the shelter it concerns)."""
    user = _user()
    alert = permissions.load_alert(db.session, user, alert_id)
    if not permissions.can_comment_alert(user, alert):
        raise NotAllowed("you may not comment on this alert")
    services.comment(db.session, user, utcnow(), alert, data["note"])
    db.session.commit()
    db.session.refresh(alert)
    return created(alert_json(alert, comments=True), url_for("alerts_api.get_alert", alert_id=alert_id))


@blp.route("/stats/utilisation")
@roles_required(Role.SECRETARIAT, Role.SHELTER_MANAGER, Role.PARTNER)
@blp.arguments(schemas.UtilisationQuery, location="query")
@blp.response(200, schemas.UtilisationOut)
def utilisation(query: dict[str, Any]) -> dict[str, Any]:
    """Bed-nights occupied over available for the last `days` nights: by shelter, or for partners by region group
    over the nights ending at the last midnight UTC (`as_of`)."""
    user = _user()
    days = query["days"]
    scope = permissions.utilisation_scope(user)
    if scope is None:
        raise NotAllowed("no access to statistics")
    if scope == "regions":
        partner = services.partner_utilisation(db.session, utcnow(), days)
        return {"days": days, "shelters": [], "regions": partner.regions, "as_of": partner.as_of}
    ids = services.managed_shelter_ids(db.session, user) if scope == "own" else None
    rows = services.utilisation_rows(db.session, utcnow(), days, ids)
    return {"days": days, "shelters": [
        {"code": r.code, "utilisation": r.utilisation, "bed_nights_occupied": r.bed_nights_occupied,
         "bed_nights_available": r.bed_nights_available} for r in rows]}

"""Pages: the alert queue and one alert with its figures, the shelter's occupancy chart, action notes,
and the secretariat's acknowledge and resolve. Each handler checks permission, calls the same services as
alerts/api.py, commits once and redirects; a refusal is rolled back and shown, never a 500."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from accounts.models import Role, User
from accounts.permissions import roles_required
from alerts import charts, permissions, services
from alerts.forms import AcknowledgeForm, CommentForm, ResolveForm
from alerts.models import Alert, AlertStatus
from alerts.schemas import STATUSES
from database import utcnow
from errors import DomainError, NotAllowed
from extensions import db

bp = Blueprint("alerts", __name__)

REVIEWERS = (Role.SECRETARIAT, Role.SHELTER_MANAGER)

STATUS_LABELS = {"open": "Open", "acknowledged": "Acknowledged", "resolved": "Resolved", "all": "All"}
SEVERITY_LABELS = {"critical": "Critical", "warning": "Warning", "info": "Info"}

# What each figure of alerts/rules.py means, in words.
FIGURE_LABELS = {
    "days_unused": "Days without a resident",
    "never_used": "Never used",
    "last_resident_at": "Last resident left",
    "unused_days": "Alert after (days unused)",
    "usable": "Usable beds",
    "utilisation": "Bed-nights used",
    "bed_nights_occupied": "Bed-nights occupied",
    "bed_nights_available": "Bed-nights available",
    "days": "Over (days)",
    "floor": "Alert below",
    "occupied": "Beds occupied",
    "reserved": "Beds held for placements",
    "overflow": "Beds beyond usable capacity",
    "ratio": "Beds taken or held",
    "threshold": "Alert at",
    "hours_since": "Hours since the last headcount",
    "last_headcount_at": "Last headcount",
    "threshold_hours": "Alert after (hours)",
    "last_12_months": "Identified, last 12 months",
    "previous_12_months": "Identified, the 12 months before",
    "drop": "Drop",
    "request": "Placement request",
    "shelter": "Shelter",
    "requested_at": "Requested",
    "hours": "Hours without an answer",
    "job": "Job",
    "error": "Error",
    "failures": "Failed runs",
}
PERCENT_FIGURES = {"utilisation", "floor", "ratio", "threshold", "drop"}


def _user() -> User:
    return current_user  # type: ignore[return-value]


def _format_figure(key: str, value: Any) -> tuple[str, bool]:
    """A figure as text, and whether it is a number (right-aligned)."""
    if value is None:
        return ("never" if key.endswith("_at") else "none"), False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, float) and key in PERCENT_FIGURES:
        return f"{value:.0%}", True
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value), True
    if isinstance(value, str) and key.endswith("_at"):
        try:
            return f"{datetime.fromisoformat(value):%Y-%m-%d %H:%M} UTC", False
        except ValueError:
            pass
    return str(value), False


def figure_rows(alert: Alert) -> list[tuple[str, str, bool]]:
    """(label, value, is_number) for each figure behind the alert, in the rule's order."""
    rows = []
    for key, value in (alert.figures or {}).items():
        text, numeric = _format_figure(key, value)
        rows.append((FIGURE_LABELS.get(key, key.replace("_", " ").capitalize()), text, numeric))
    return rows


def subject_label(alert: Alert) -> str:
    if alert.subject_type == "country":
        return "Country" if alert.subject == "national" else f"Region {alert.subject}"
    if alert.subject_type == "request":
        return f"Placement request {alert.subject}"
    if alert.subject_type == "system":
        return f"Job {alert.subject}"
    if alert.subject_type == "user":
        return f"User {alert.subject}"
    return alert.subject


def age(since: datetime, now: datetime) -> str:
    span = now - since
    if span.days >= 1:
        return "1 day" if span.days == 1 else f"{span.days} days"
    hours = int(span.total_seconds() // 3600)
    return "under an hour" if hours < 1 else ("1 hour" if hours == 1 else f"{hours} hours")


# --- the queue ---------------------------------------------------------------------------------------------


@bp.get("/alerts")
@roles_required(*REVIEWERS)
def index() -> Any:
    user = _user()
    status = request.args.get("status", "open")
    if status not in STATUSES:
        abort(400, description=f"Unknown status: choose one of {', '.join(STATUSES)}.")
    scope = None if permissions.sees_all_alerts(user) else services.managed_shelter_ids(db.session, user)
    alerts = services.list_alerts(db.session, status, scope)
    return render_template("alerts/index.html", alerts=alerts, status=status, statuses=STATUS_LABELS,
                           severities=SEVERITY_LABELS, now=utcnow(), age=age,
                           subject=subject_label, sees_all=permissions.sees_all_alerts(user))


# --- one alert ---------------------------------------------------------------------------------------------


def _detail(alert: Alert, *, status: int = 200, comment_form: CommentForm | None = None,
            resolve_form: ResolveForm | None = None) -> tuple[str, int]:
    user, now = _user(), utcnow()
    chart = description = None
    if alert.shelter is not None:
        series = charts.occupancy_series(db.session, alert.shelter.id, now)
        chart = charts.occupancy_svg(series, alert.shelter.code, f"alert-{alert.id}-chart")
        description = charts.describe(series, alert.shelter.code)
    can_review = permissions.can_review_alert(user, alert)
    can_comment = permissions.can_comment_alert(user, alert)
    html = render_template(
        "alerts/show.html",
        alert=alert,
        figures=figure_rows(alert),
        chart=chart,
        chart_text=description,
        chart_days=charts.DAYS,
        severities=SEVERITY_LABELS,
        now=now,
        age=age,
        subject=subject_label,
        comment_form=(comment_form or CommentForm(formdata=None)) if can_comment else None,
        acknowledge_form=(AcknowledgeForm(formdata=None)
                          if can_review and alert.status == AlertStatus.OPEN else None),
        resolve_form=((resolve_form or ResolveForm(formdata=None))
                      if can_review and alert.status != AlertStatus.RESOLVED else None),
    )
    return html, status


def _to_alert(alert_id: int) -> Response:
    return redirect(url_for("alerts.show", alert_id=alert_id))


def _refused(alert_id: int, error: DomainError, **forms: Any) -> tuple[str, int]:
    """A service said no: undo, say why (beside the note, when the form has it), show the alert."""
    db.session.rollback()
    for form in forms.values():
        form.refuse(error)
    flash(error.message, "error")
    return _detail(permissions.load_alert(db.session, _user(), alert_id), status=error.status, **forms)


def _reviewable(alert_id: int) -> Alert:
    user = _user()
    alert = permissions.load_alert(db.session, user, alert_id)
    if not permissions.can_review_alert(user, alert):
        raise NotAllowed("Only the secretariat acknowledges and resolves alerts.")
    return alert


@bp.get("/alerts/<int:alert_id>")
@roles_required(*REVIEWERS)
def show(alert_id: int) -> Any:
    return _detail(permissions.load_alert(db.session, _user(), alert_id))


@bp.post("/alerts/<int:alert_id>/acknowledge")
@roles_required(*REVIEWERS)
def acknowledge(alert_id: int) -> Any:
    alert = _reviewable(alert_id)
    form = AcknowledgeForm()
    if not form.validate():
        abort(400, description="The form expired: reload the page and try again.")
    try:
        services.acknowledge(db.session, _user(), utcnow(), alert)
        db.session.commit()
    except DomainError as error:
        return _refused(alert_id, error)
    flash("Alert acknowledged: write what is being done as an action note, then resolve it.", "success")
    return _to_alert(alert_id)


@bp.post("/alerts/<int:alert_id>/resolve")
@roles_required(*REVIEWERS)
def resolve(alert_id: int) -> Any:
    alert = _reviewable(alert_id)
    form = ResolveForm()
    if not form.validate():
        flash("The alert was not resolved: resolving needs an action note.", "error")
        return _detail(alert, status=422, resolve_form=form)
    try:
        services.resolve(db.session, _user(), utcnow(), alert, form.note.data)
        db.session.commit()
    except DomainError as error:
        return _refused(alert_id, error, resolve_form=form)
    flash("Alert resolved with its action note.", "success")
    return _to_alert(alert_id)


@bp.post("/alerts/<int:alert_id>/comments")
@roles_required(*REVIEWERS)
def comment(alert_id: int) -> Any:
    user = _user()
    alert = permissions.load_alert(db.session, user, alert_id)
    if not permissions.can_comment_alert(user, alert):
        raise NotAllowed("You may not add notes to this alert.")
    form = CommentForm()
    if not form.validate():
        flash("The note was not saved: check the highlighted field.", "error")
        return _detail(alert, status=422, comment_form=form)
    try:
        services.comment(db.session, user, utcnow(), alert, form.note.data)
        db.session.commit()
    except DomainError as error:
        return _refused(alert_id, error, comment_form=form)
    flash("Action note added.", "success")
    return _to_alert(alert_id)

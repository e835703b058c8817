"""Pages: the alert queue and one alert with its figures, the shelter's occupancy chart, action notes,
and the secretariat's acknowledge and resolve. Each handler checks permission, calls the same services as
alerts/api.py, commits once and redirects; a refusal is rolled back and shown, never a 500."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal, format_percent
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

import i18n
from accounts.models import Role, User
from accounts.permissions import roles_required
from alerts import charts, permissions, services, texts
from alerts.forms import AcknowledgeForm, CommentForm, ResolveForm
from alerts.models import Alert, AlertStatus
from alerts.schemas import STATUSES
from database import utcnow
from errors import AlreadyDone, DomainError, Invalid, NotAllowed
from extensions import db
from i18n import lazy_gettext as _l
from paging import page_numbers
from shelters.models import Shelter

bp = Blueprint("alerts", __name__)

REVIEWERS = (Role.SECRETARIAT, Role.SHELTER_MANAGER)

# The queue's filters: the statuses, and every alert whatever its status.
FILTER_LABELS = {**texts.STATUS_LABELS, "all": _l("All")}
EMPTY_QUEUE = {"open": _l("No open alerts."), "acknowledged": _l("No acknowledged alerts."),
               "resolved": _l("No resolved alerts."), "all": _l("No alerts.")}

# What each figure of alerts/rules.py means, in words.
FIGURE_LABELS = {
    "days_unused": _l("Days without a resident"),
    "never_used": _l("Never used"),
    "last_resident_at": _l("Last resident left"),
    "unused_days": _l("Alert after (days unused)"),
    "usable": _l("Usable beds"),
    "utilisation": _l("Bed-nights used"),
    "bed_nights_occupied": _l("Bed-nights occupied"),
    "bed_nights_available": _l("Bed-nights available"),
    "days": _l("Over (days)"),
    "floor": _l("Alert below"),
    "occupied": _l("Beds occupied"),
    "reserved": _l("Beds held for placements"),
    "overflow": _l("Beds beyond usable capacity"),
    "ratio": _l("Beds taken or held"),
    "threshold": _l("Alert at"),
    "hours_since": _l("Hours since the last headcount"),
    "last_headcount_at": _l("Last headcount"),
    "threshold_hours": _l("Alert after (hours)"),
    "last_12_months": _l("Identified, last 12 months"),
    "previous_12_months": _l("Identified, the 12 months before"),
    "drop": _l("Drop"),
    "request": _l("Placement request"),
    "shelter": _l("Shelter"),
    "requested_at": _l("Requested"),
    "hours": _l("Hours without an answer"),
    "job": _l("Job"),
    "error": _l("Error"),
    "failures": _l("Failed runs"),
    "reads_last_hour": _l("Reads in the last hour"),
}
PERCENT_FIGURES = {"utilisation", "floor", "ratio", "threshold", "drop"}
IDENTIFIERS = {"request"}  # numbers that name something: never grouped ("1,204")


def _user() -> User:
    return current_user  # type: ignore[return-value]


def _format_figure(key: str, value: Any) -> tuple[str, bool]:
    """A figure as text in the page's language, and whether it is a number (right-aligned)."""
    if value is None:
        return (_("never") if key.endswith("_at") else _("none")), False
    if isinstance(value, bool):
        return (_("yes") if value else _("no")), False
    if isinstance(value, float) and key in PERCENT_FIGURES:
        return format_percent(value), True
    if isinstance(value, int | float) and key not in IDENTIFIERS:
        return format_decimal(value), True
    if isinstance(value, str) and key.endswith("_at"):
        try:
            return i18n.format_when(datetime.fromisoformat(value)), False
        except ValueError:
            pass
    return str(value), False


def figure_rows(alert: Alert) -> list[tuple[str, str, bool]]:
    """(label, value, is_number) for each figure behind the alert, in the rule's order."""
    rows = []
    for key, value in (alert.figures or {}).items():
        text, numeric = _format_figure(key, value)
        label = FIGURE_LABELS.get(key)
        rows.append((str(label) if label is not None else key.replace("_", " ").capitalize(), text, numeric))
    return rows


ALREADY = {
    AlertStatus.ACKNOWLEDGED: _l("The alert is already acknowledged."),
    AlertStatus.RESOLVED: _l("The alert is already resolved."),
}


def _in_words(error: DomainError) -> DomainError:
    """A service's refusal in the page's language (alerts.services words it in English, for the API)."""
    message: str | None = None
    if isinstance(error, AlreadyDone) and error.fields.get("status") in ALREADY:
        message = str(ALREADY[error.fields["status"]])
    elif isinstance(error, Invalid) and error.fields.get("note") == "required":
        message = _("A note is required.")
    elif isinstance(error, Invalid) and "note" in error.fields:
        message = _("The note must be at most %(max)s characters.", max=format_decimal(services.NOTE_MAX))
    if message is None:
        return error
    return type(error)(message, code=error.code, fields=error.fields, details=error.details)


@bp.context_processor
def _wording() -> dict[str, Any]:
    """How the alert pages word an alert, in the page's language (alerts.texts)."""
    return {"describe": texts.describe, "kind_label": texts.kind_label, "severity_label": texts.severity_label,
            "status_label": texts.status_label, "subject": texts.subject_label, "age": texts.age}


# --- the queue ---------------------------------------------------------------------------------------------


PAGE_SIZE = 50  # alerts a page of the queue shows: a thousand at once took a third of a second to render


@bp.get("/alerts")
@roles_required(*REVIEWERS)
def index() -> Any:
    user = _user()
    status = request.args.get("status", "open")
    if status not in STATUSES:
        abort(400, description=_("Unknown status: choose one of %(statuses)s.",
                                 statuses=", ".join(STATUSES)))
    scope = None if permissions.sees_all_alerts(user) else services.managed_shelter_ids(db.session, user)
    alerts = services.list_alerts(db.session, status, scope)
    total = len(alerts)
    pages = max(1, -(-total // PAGE_SIZE))
    # Past the last page (the queue shrank since the link was made), or not a number: the nearest page.
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    first = (page - 1) * PAGE_SIZE
    shown = alerts[first:first + PAGE_SIZE]
    # The page's shelter codes in one query, rather than loading each alert's shelter for its link.
    shelter_ids = {a.shelter_id for a in shown if a.shelter_id is not None}
    codes = dict(db.session.execute(select(Shelter.id, Shelter.code).where(Shelter.id.in_(shelter_ids))).all()
                 ) if shelter_ids else {}
    return render_template("alerts/index.html", alerts=shown, codes=codes, status=status, filters=FILTER_LABELS,
                           empty_queue=EMPTY_QUEUE, total=total, page=page, pages=pages,
                           page_numbers=page_numbers(page, pages), first=first + 1, last=first + len(shown),
                           now=utcnow(), sees_all=permissions.sees_all_alerts(user))


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
        now=now,
        comment_form=(comment_form or CommentForm(formdata=None)) if can_comment else None,
        acknowledge_form=(AcknowledgeForm(formdata=None)
                          if can_review and alert.status == AlertStatus.OPEN else None),
        resolve_form=((resolve_form or ResolveForm(formdata=None))
                      if can_review and alert.status != AlertStatus.RESOLVED else None),
        # The page's one note box shows what the refused submit held, whichever button sent it.
        note_form=comment_form or resolve_form or CommentForm(formdata=None),
    )
    return html, status


def _to_alert(alert_id: int) -> Response:
    return redirect(url_for("alerts.show", alert_id=alert_id))


def _refused(alert_id: int, error: DomainError, **forms: Any) -> tuple[str, int]:
    """A service said no: undo, say why (beside the note, when the form has it), show the alert."""
    db.session.rollback()
    error = _in_words(error)
    for form in forms.values():
        form.refuse(error)
    flash(str(error.message), "error")
    return _detail(permissions.load_alert(db.session, _user(), alert_id), status=error.status, **forms)


def _reviewable(alert_id: int) -> Alert:
    user = _user()
    alert = permissions.load_alert(db.session, user, alert_id)
    if not permissions.can_review_alert(user, alert):
        raise NotAllowed(_("Only the secretariat acknowledges and resolves alerts."))
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
        abort(400, description=_("The form expired: reload the page and try again."))
    try:
        services.acknowledge(db.session, _user(), utcnow(), alert)
        db.session.commit()
    except DomainError as error:
        return _refused(alert_id, error)
    flash(_("Alert acknowledged: write what is being done as an action note, then resolve it."), "success")
    return _to_alert(alert_id)


@bp.post("/alerts/<int:alert_id>/resolve")
@roles_required(*REVIEWERS)
def resolve(alert_id: int) -> Any:
    alert = _reviewable(alert_id)
    form = ResolveForm()
    if not form.validate():
        flash(_("The alert was not resolved: resolving needs an action note."), "error")
        return _detail(alert, status=422, resolve_form=form)
    try:
        services.resolve(db.session, _user(), utcnow(), alert, form.note.data)
        db.session.commit()
    except DomainError as error:
        return _refused(alert_id, error, resolve_form=form)
    flash(_("Alert resolved with its action note."), "success")
    return _to_alert(alert_id)


@bp.post("/alerts/<int:alert_id>/comments")
@roles_required(*REVIEWERS)
def comment(alert_id: int) -> Any:
    user = _user()
    alert = permissions.load_alert(db.session, user, alert_id)
    if not permissions.can_comment_alert(user, alert):
        raise NotAllowed(_("You may not add notes to this alert."))
    form = CommentForm()
    if not form.validate():
        flash(_("The note was not saved: check the highlighted field."), "error")
        return _detail(alert, status=422, comment_form=form)
    try:
        services.comment(db.session, user, utcnow(), alert, form.note.data)
        db.session.commit()
    except DomainError as error:
        return _refused(alert_id, error, comment_form=form)
    flash(_("Action note added."), "success")
    return _to_alert(alert_id)

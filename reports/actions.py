"""The action plan's services: record, change and review actions, each audited, and each linked shelter's
utilisation and funnel before and after the action's date.

An action's date is the day it was recorded: the before window is the `days` before it, the after window the
`days` from it (cut at today). Resolving an `unused_facility` or `low_utilisation` alert can record a new
action or link an existing one (`resolve_alert_with_action`): reports reads alerts, alerts never reads reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from accounts import audit
from accounts.models import Organisation, User
from alerts import services as alert_services
from alerts.models import Alert
from errors import Invalid, NotFound
from i18n import lazy_gettext as _l
from reports import evidence
from reports.models import OPEN_STATUSES, Action, ActionStatus
from shelters import figures
from shelters.models import Shelter

TITLE_MAX = 200
NOTE_MAX = 2000
# The alerts about an empty shelter, whose resolution can record or link an action.
EMPTY_SHELTER_ALERTS = ("unused_facility", "low_utilisation")
BEFORE_AFTER_DAYS = 90


def _title(value: Any) -> str:
    title = value.strip() if isinstance(value, str) else ""
    if not title or len(title) > TITLE_MAX:
        raise Invalid(_l("Say what will be done, in 1 to %(max)s characters.", max=TITLE_MAX),
                      fields={"title": "required"})
    return title


def _note(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > NOTE_MAX:
        raise Invalid(_l("The note is too long."), fields={"note": f"<= {NOTE_MAX}"})
    return value.strip()


def _owner(session: Session, code: Any) -> Organisation:
    owner = session.scalar(select(Organisation).where(Organisation.code == code)) if isinstance(code, str) else None
    if owner is None:
        raise Invalid(_l("Choose the organisation that owns the action."), fields={"owner": "unknown"})
    return owner


def _due(value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None  # type: ignore[return-value]
    except ValueError:
        pass
    raise Invalid(_l("Give the due date as a day (YYYY-MM-DD)."), fields={"due_on": "invalid"})


def _status(value: Any) -> str:
    if value not in set(ActionStatus):
        raise Invalid(_l("Status must be one of %(values)s.", values=", ".join(ActionStatus)),
                      fields={"status": "unknown"})
    return str(value)


def _shelters(session: Session, codes: Sequence[str]) -> list[Shelter]:
    codes = sorted(set(codes))
    found = list(session.scalars(select(Shelter).where(Shelter.code.in_(codes)))) if codes else []
    missing = sorted(set(codes) - {s.code for s in found})
    if missing:
        raise Invalid(_l("Unknown shelters: %(codes)s.", codes=", ".join(missing)), fields={"shelters": missing})
    return found


def _alerts(session: Session, ids: Sequence[int]) -> list[Alert]:
    ids = sorted(set(ids))
    found = list(session.scalars(select(Alert).where(Alert.id.in_(ids)))) if ids else []
    missing = sorted(set(ids) - {a.id for a in found})
    if missing:
        raise Invalid(_l("Unknown alerts: %(ids)s.", ids=", ".join(map(str, missing))), fields={"alerts": missing})
    return found


def _audit(session: Session, actor: User, now: datetime, action: str, record: Action, **detail: Any) -> None:
    audit.record(session, actor=actor, action=action, object_type="action", object_id=record.id, now=now,
                 detail={"status": record.status, "shelters": [s.code for s in record.shelters],
                         "alerts": [a.id for a in record.alerts], **detail})


def create_action(session: Session, actor: User, now: datetime, values: dict[str, Any]) -> Action:
    """Record an action: `title`, `owner` (an organisation code), `due_on`, optional `note`, `shelters` (codes)
    and `alerts` (ids) it answers. Raises Invalid naming the field; audited."""
    record = Action(title=_title(values.get("title")), owner=_owner(session, values.get("owner")),
                    due_on=_due(values.get("due_on")), status=_status(values.get("status") or ActionStatus.PLANNED),
                    note=_note(values.get("note")), created_at=now, updated_at=now, created_by_id=actor.id)
    record.shelters = _shelters(session, values.get("shelters") or [])
    alerts = _alerts(session, values.get("alerts") or [])
    # An alert about a shelter links its shelter too.
    record.shelters = sorted({*record.shelters, *(a.shelter for a in alerts if a.shelter is not None)},
                             key=lambda s: s.code)
    record.alerts = alerts
    session.add(record)
    session.flush()
    _audit(session, actor, now, "action.create", record, title=record.title)
    return record


def update_action(session: Session, actor: User, now: datetime, record: Action, values: dict[str, Any]) -> Action:
    """Change an action's status, due date, note or links (only the keys given). Raises Invalid; audited."""
    before = record.status
    if "status" in values:
        record.status = _status(values["status"])
    if "due_on" in values:
        record.due_on = _due(values["due_on"])
    if "note" in values:
        record.note = _note(values["note"])
    if "shelters" in values:
        record.shelters = _shelters(session, values["shelters"] or [])
    if "alerts" in values:
        record.alerts = _alerts(session, values["alerts"] or [])
    record.updated_at = now
    session.flush()
    _audit(session, actor, now, "action.update", record, previous_status=before)
    return record


def get_action(session: Session, action_id: int) -> Action:
    record = session.get(Action, action_id)
    if record is None:
        raise NotFound(_l("No such action."))
    return record


def list_actions(session: Session) -> list[Action]:
    """Every action, open ones first, then by due date."""
    records = session.scalars(select(Action).options(selectinload(Action.shelters), selectinload(Action.alerts),
                                                     selectinload(Action.owner)))
    return sorted(records, key=lambda a: (a.status not in OPEN_STATUSES, a.due_on, a.id))


def resolve_alert_with_action(session: Session, actor: User, now: datetime, alert: Alert, note: object,
                              action_id: int | None = None, values: dict[str, Any] | None = None) -> Action:
    """Resolve an empty-shelter alert (`EMPTY_SHELTER_ALERTS`) and link it to an existing action (`action_id`)
    or to a new one (`values`, as `create_action`). Raises Invalid for another kind of alert; the alert's own
    rules (alerts.services.resolve) for the note."""
    if alert.kind not in EMPTY_SHELTER_ALERTS:
        raise Invalid(_l("Only an alert about an empty shelter is resolved with an action."),
                      fields={"alert": alert.kind})
    if action_id is not None:
        record = get_action(session, action_id)
        links = {"alerts": [*(a.id for a in record.alerts), alert.id]}
        if alert.shelter is not None:
            links["shelters"] = [*(s.code for s in record.shelters), alert.shelter.code]
        update_action(session, actor, now, record, links)
    else:
        record = create_action(session, actor, now, {**(values or {}), "alerts": [alert.id]})
    alert_services.resolve(session, actor, now, alert, note)
    return record


# --- before and after -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    period: evidence.Period
    utilisation: float | None  # bed-nights used / available over the window
    requests: int  # requests whose ranking named the shelter
    eligible: int
    chosen: int
    admitted: int


@dataclass(frozen=True)
class BeforeAfter:
    shelter: Shelter
    before: Window
    after: Window | None  # None while the action is not a day old


def _window(session: Session, shelter: Shelter, period: evidence.Period, now: datetime) -> Window:
    used = figures.utilisation(session, period.end_at, period.days, [shelter.id]).get(shelter.id)
    funnel = evidence.funnel(session, shelter, period, now)
    return Window(period, used.ratio if used is not None else None, funnel.made, funnel.eligible, funnel.chosen,
                  funnel.admitted)


def before_after(session: Session, record: Action, now: datetime, days: int = BEFORE_AFTER_DAYS
                 ) -> list[BeforeAfter]:
    """Each linked shelter's utilisation and funnel counts in the `days` before the action was recorded and in
    the `days` from then (up to today)."""
    day = record.created_at.date()
    today = now.date()
    out = []
    for shelter in record.shelters:
        before = _window(session, shelter, evidence.Period(day - timedelta(days=days), day), now)
        end = min(day + timedelta(days=days), today)
        after = _window(session, shelter, evidence.Period(day, end), now) if end > day else None
        out.append(BeforeAfter(shelter, before, after))
    return out

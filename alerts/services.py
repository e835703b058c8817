"""The alert lifecycle: upsert from rule decisions, acknowledge, resolve, comment.

Plain functions: they take the session, the actor and `now`, flush, and raise
the exceptions of `errors`; the caller commits once. Every state change is
written to the audit log in the same transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from accounts import audit
from accounts.models import Role, User
from alerts.models import SEVERITY_RANK, Alert, AlertComment, AlertStatus, Severity
from alerts.rules import Decision
from errors import AlreadyDone, Invalid, NotFound
from i18n import lazy_gettext as _l
from shelters import figures
from shelters import services as shelter_services
from shelters.models import Shelter, shelter_managers

AUTO_RESOLVE_NOTE = "condition cleared on re-evaluation"
NOTE_MAX = 2000
LIVE = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)


@dataclass
class Summary:
    """What one evaluation did, per kind."""

    opened: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    resolved: Counter[str] = field(default_factory=Counter)

    @property
    def changed(self) -> bool:
        return bool(self.opened or self.updated or self.resolved)

    def lines(self) -> list[str]:
        kinds = sorted(set(self.opened) | set(self.updated) | set(self.unchanged) | set(self.resolved))
        total = (f"opened {sum(self.opened.values())}, updated {sum(self.updated.values())}, "
                 f"unchanged {sum(self.unchanged.values())}, resolved {sum(self.resolved.values())}")
        return [total] + [
            f"  {kind}: opened {self.opened[kind]}, updated {self.updated[kind]}, "
            f"unchanged {self.unchanged[kind]}, resolved {self.resolved[kind]}"
            for kind in kinds
        ]


def _entry(action: str, alert: Alert, **detail: object) -> audit.Entry:
    return audit.Entry(action, "alert", alert.id,
                       {"kind": alert.kind, "subject": f"{alert.subject_type}:{alert.subject}", **detail})


def _audit(session: Session, actor: User | None, now: datetime, action: str, alert: Alert, **detail: object) -> None:
    audit.record_many(session, [_entry(action, alert, **detail)], actor=actor, now=now)


def upsert(session: Session, now: datetime, decisions: Iterable[Decision],
           evaluated_kinds: Collection[str]) -> Summary:
    """Make the live alerts of `evaluated_kinds` match `decisions`.

    One live (open or acknowledged) alert per kind and subject: an existing one
    gets the new figures, message, severity and last_seen; a new one is opened;
    a live alert of an evaluated kind with no decision any more is resolved with
    AUTO_RESOLVE_NOTE and no resolver. Alerts of kinds not evaluated are left alone.
    """
    summary = Summary()
    wanted: dict[tuple[str, str, str], Decision] = {}
    for decision in decisions:
        if decision.kind not in evaluated_kinds:
            raise ValueError(f"decision of kind {decision.kind} outside the evaluated kinds")
        wanted[decision.key] = decision
    kinds = list(evaluated_kinds)
    live = {
        (a.kind, a.subject_type, a.subject): a
        for a in session.scalars(select(Alert).where(Alert.kind.in_(kinds), Alert.status.in_(LIVE)))
    }
    codes = {d.shelter for d in wanted.values() if d.shelter}
    shelter_ids = (dict(session.execute(select(Shelter.code, Shelter.id).where(Shelter.code.in_(codes))).all())
                   if codes else {})

    opened: list[Alert] = []
    events: list[audit.Entry] = []
    for key, decision in wanted.items():
        alert = live.get(key)
        if alert is None:
            opened.append(Alert(kind=decision.kind, subject_type=decision.subject_type, subject=decision.subject,
                                shelter_id=shelter_ids.get(decision.shelter) if decision.shelter else None,
                                severity=decision.severity, status=AlertStatus.OPEN, figures=dict(decision.figures),
                                message=decision.message, first_seen=now, last_seen=now))
            summary.opened[decision.kind] += 1
            continue
        changed = (alert.figures != decision.figures or alert.message != decision.message
                   or alert.severity != decision.severity)
        if alert.severity != decision.severity or alert.message != decision.message:
            # Figures refresh every run; only what a reader sees in the queue is worth an audit entry.
            events.append(_entry("alert.updated", alert, severity=decision.severity, message=decision.message))
        alert.figures = dict(decision.figures)
        alert.message = decision.message
        alert.severity = decision.severity
        if now > alert.last_seen:
            alert.last_seen = now
        (summary.updated if changed else summary.unchanged)[decision.kind] += 1

    for key, alert in live.items():
        if key not in wanted:
            alert.status = AlertStatus.RESOLVED
            alert.resolved_at = now
            alert.resolved_by_id = None
            alert.resolution_note = AUTO_RESOLVE_NOTE
            events.append(_entry("alert.resolved", alert, note=AUTO_RESOLVE_NOTE))
            summary.resolved[alert.kind] += 1
    # One flush for every new alert (their ids), then every audit event of the run appended in one batch:
    # a first run after an outage opens thousands of alerts (bench/alerts.py, docs/performance.md).
    session.add_all(opened)
    session.flush()
    events[:0] = [_entry("alert.opened", alert, severity=alert.severity, message=alert.message) for alert in opened]
    audit.record_many(session, events, actor=None, now=now)
    return summary


def raise_system_alert(session: Session, now: datetime, decision: Decision) -> Alert:
    """Open (or refresh) one system alert without touching any other alert."""
    # Not `upsert`: that would resolve the system alerts of other jobs, which may still be failing.
    alert = session.scalar(select(Alert).where(
        Alert.kind == decision.kind, Alert.subject_type == decision.subject_type, Alert.subject == decision.subject,
        Alert.status.in_(LIVE)))
    if alert is None:
        alert = Alert(kind=decision.kind, subject_type=decision.subject_type, subject=decision.subject,
                      severity=decision.severity, status=AlertStatus.OPEN,
                      figures=dict(decision.figures) | {"failures": 1},
                      message=decision.message, first_seen=now, last_seen=now)
        session.add(alert)
        session.flush()
        _audit(session, None, now, "alert.opened", alert, severity=alert.severity, message=alert.message)
    else:
        alert.figures = dict(decision.figures) | {"failures": int(alert.figures.get("failures", 1)) + 1}
        alert.message = decision.message
        alert.last_seen = max(now, alert.last_seen)
    session.flush()
    return alert


def clear_system_alert(session: Session, now: datetime, job: str, note: str = "the job ran cleanly") -> bool:
    """Resolve the live system alert of `job` (or of a service), if any, after it ran cleanly (answered) again."""
    alert = session.scalar(select(Alert).where(
        Alert.kind == "system", Alert.subject_type == "system", Alert.subject == job, Alert.status.in_(LIVE)))
    if alert is None:
        return False
    alert.status, alert.resolved_at, alert.resolved_by_id = AlertStatus.RESOLVED, now, None
    alert.resolution_note = f"{AUTO_RESOLVE_NOTE}: {note}"
    _audit(session, None, now, "alert.resolved", alert, note=alert.resolution_note)
    session.flush()
    return True


# --- reading -----------------------------------------------------------------------------------------------

_SEVERITY_ORDER = case(
    (Alert.severity == Severity.CRITICAL, 0), (Alert.severity == Severity.WARNING, 1), else_=2)


def list_alerts(session: Session, status: str = "open", shelter_ids: Sequence[int] | None = None, *,
                after: tuple[int, datetime, int] | None = None, limit: int | None = None) -> list[Alert]:
    """Alerts by status ('all' for every one), most severe first, then oldest first.

    `shelter_ids` limits the list to alerts about those shelters (a manager's view); `after` (an
    `alert_sort_key`) and `limit` give the API's pages.
    """
    query = select(Alert)
    if status != "all":
        query = query.where(Alert.status == status)
    if shelter_ids is not None:
        query = query.where(Alert.shelter_id.in_(list(shelter_ids)))
    if after is not None:
        rank, first_seen, alert_id = after
        query = query.where(or_(_SEVERITY_ORDER > rank,
                                and_(_SEVERITY_ORDER == rank, or_(Alert.first_seen > first_seen,
                                                                  and_(Alert.first_seen == first_seen,
                                                                       Alert.id > alert_id)))))
    return list(session.scalars(query.order_by(_SEVERITY_ORDER, Alert.first_seen, Alert.id).limit(limit)))


def alert_sort_key(alert: Alert) -> tuple[int, datetime, int]:
    """Where an alert stands in `list_alerts`' order."""
    return SEVERITY_RANK[Severity(alert.severity)], alert.first_seen, alert.id


def get_alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(_l("No alert %(id)s.", id=alert_id), fields={"alert": "unknown"})
    return alert


def managed_shelter_ids(session: Session, user: User) -> list[int]:
    if user.role != Role.SHELTER_MANAGER:
        return []
    return list(session.scalars(
        select(shelter_managers.c.shelter_id).where(shelter_managers.c.user_id == user.id)))


def open_counts(session: Session, shelter_ids: Sequence[int] | None = None) -> int:
    """How many alerts are open (not yet acknowledged): the count shown on every page."""
    query = select(func.count()).select_from(Alert).where(Alert.status == AlertStatus.OPEN)
    if shelter_ids is not None:
        query = query.where(Alert.shelter_id.in_(list(shelter_ids)))
    return int(session.scalar(query) or 0)


# --- acting ------------------------------------------------------------------------------------------------


def _clean_note(note: object) -> str:
    if not isinstance(note, str) or not note.strip():
        raise Invalid(_l("A note is required."), fields={"note": "required"})
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise Invalid(_l("The note must be at most %(max)s characters.", max=NOTE_MAX),
                      fields={"note": f"<= {NOTE_MAX}"})
    return note


def acknowledge(session: Session, actor: User, now: datetime, alert: Alert) -> Alert:
    """Mark an open alert as seen and being handled. Raises AlreadyDone unless it is open."""
    if alert.status != AlertStatus.OPEN:
        raise AlreadyDone(_l("The alert is already %(status)s.", status=alert.status), fields={"status": alert.status})
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_at = now
    alert.acknowledged_by_id = actor.id
    _audit(session, actor, now, "alert.acknowledged", alert)
    session.flush()
    return alert


def resolve(session: Session, actor: User, now: datetime, alert: Alert, note: object) -> Alert:
    """Close an alert with what was done about it. Invalid without a note (1..2000 characters);
    AlreadyDone when it is resolved already."""
    note = _clean_note(note)
    if alert.status == AlertStatus.RESOLVED:
        raise AlreadyDone(_l("The alert is already resolved."), fields={"status": alert.status})
    alert.status = AlertStatus.RESOLVED
    alert.resolved_at = now
    alert.resolved_by_id = actor.id
    alert.resolution_note = note
    _audit(session, actor, now, "alert.resolved", alert, note=note)
    session.flush()
    return alert


def comment(session: Session, actor: User, now: datetime, alert: Alert, note: object) -> AlertComment:
    """Add an action note to an alert, whatever its status. Invalid without a note (1..2000 characters)."""
    note = _clean_note(note)
    entry = AlertComment(alert_id=alert.id, at=now, user_id=actor.id, note=note)
    session.add(entry)
    session.flush()
    _audit(session, actor, now, "alert.commented", alert, comment=entry.id)
    return entry


# --- utilisation statistics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class UtilisationRow:
    code: str
    region: str
    bed_nights_occupied: int
    bed_nights_available: int

    @property
    def utilisation(self) -> float | None:
        return self.bed_nights_occupied / self.bed_nights_available if self.bed_nights_available > 0 else None


def utilisation_rows(session: Session, now: datetime, days: int,
                     shelter_ids: Sequence[int] | None = None) -> list[UtilisationRow]:
    """Bed-nights per shelter over the last `days` nights (shelters.figures' definition), by shelter code."""
    util = figures.utilisation(session, now, days, shelter_ids)
    query = select(Shelter.id, Shelter.code, Shelter.region).order_by(Shelter.code)
    if shelter_ids is not None:
        query = query.where(Shelter.id.in_(list(shelter_ids)))
    rows = []
    for sid, code, region in session.execute(query):
        u = util.get(sid, figures.Utilisation(0, 0))
        rows.append(UtilisationRow(code, region, u.bed_nights_occupied, u.bed_nights_available))
    return rows


def utilisation_by_region(rows: Sequence[UtilisationRow]) -> list[dict[str, object]]:
    """The same figures summed per region group (shelters.services.by_region_group: no group describes fewer than
    3 shelters; smaller ones are left out), without shelter codes: what partners see. A shelter without a
    bed-night in the window adds nothing to its group, so it does not count toward the 3."""
    counted = [row for row in rows if row.bed_nights_available or row.bed_nights_occupied]
    totals = []
    for group, members in shelter_services.by_region_group(counted, lambda row: row.region):
        occupied = sum(row.bed_nights_occupied for row in members)
        available = sum(row.bed_nights_available for row in members)
        totals.append({"region": group, "shelters": len(members), "bed_nights_occupied": occupied,
                       "bed_nights_available": available,
                       "utilisation": occupied / available if available > 0 else None})
    return totals


@dataclass(frozen=True)
class PartnerUtilisation:
    as_of: datetime  # a midnight UTC
    regions: list[dict[str, object]]


def partner_utilisation(session: Session, now: datetime, days: int) -> PartnerUtilisation:
    """What partners see of utilisation: bed-nights by region group (utilisation_by_region) over the `days` nights
    ending at the midnight UTC that began today, so nothing done today shows before the next midnight."""
    as_of = figures.midnight(now)
    return PartnerUtilisation(as_of, utilisation_by_region(utilisation_rows(session, as_of, days)))

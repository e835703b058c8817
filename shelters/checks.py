"""Invariants of shelters, cases, stays and bed holds, for `flask check`.

Each function takes the session (and `now` where time matters) and returns a list of
problems, one line each, starting with a stable code (`two_open_stays: ...`); an empty
list means the invariant holds. They only read. Most of these the services and the
schema already guarantee; the checks are what proves it after a crash, a restore or a
load test, and what finds a hand edit.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import AuditEvent
from shelters import figures
from shelters.models import (
    CapacityChange,
    Case,
    CaseStatus,
    Headcount,
    Reservation,
    Shelter,
    Stay,
)


def one_open_stay_per_case(session: Session) -> list[str]:
    """No case is in two shelters at once."""
    rows = session.execute(
        select(Case.code, func.count()).join(Stay, Stay.case_id == Case.id)
        .where(Stay.discharged_at.is_(None)).group_by(Case.code).having(func.count() > 1).order_by(Case.code)
    )
    return [f"two_open_stays: case {code} has {n} open stays" for code, n in rows]


def stays_are_whole(session: Session) -> list[str]:
    """A stay begins once its case was identified and its shelter opened, is discharged after its admission,
    with a reason, or open with no discharge at all; it takes 1 + the case's accompanying children beds."""
    problems = []
    rows = session.execute(
        select(Stay.id, Stay.admitted_at, Stay.discharged_at, Stay.discharge_reason, Stay.beds, Case.children,
               Case.identified_on, Shelter.opened_on)
        .join(Case, Case.id == Stay.case_id).join(Shelter, Shelter.id == Stay.shelter_id).order_by(Stay.id)
    )
    for stay_id, admitted_at, discharged_at, reason, beds, children, identified_on, opened_on in rows:
        admitted_on = admitted_at.astimezone(UTC).date()
        if admitted_on < identified_on:
            problems.append(f"admission_before_identification: stay {stay_id} began on {admitted_on.isoformat()}, "
                            f"its case was identified on {identified_on.isoformat()}")
        if admitted_on < opened_on:
            problems.append(f"admission_before_opening: stay {stay_id} began on {admitted_on.isoformat()}, its "
                            f"shelter opened on {opened_on.isoformat()}")
        if discharged_at is not None and discharged_at < admitted_at:
            problems.append(f"discharge_before_admission: stay {stay_id} was discharged at "
                            f"{discharged_at.isoformat()}, before its admission at {admitted_at.isoformat()}")
        if (discharged_at is None) != (reason is None):
            missing = "a discharge time but no reason" if reason is None else "a discharge reason but no time"
            problems.append(f"half_discharged: stay {stay_id} has {missing}")
        if beds != 1 + children:
            problems.append(f"stay_beds: stay {stay_id} takes {beds} beds, its case needs {1 + children}")
    return problems


def case_status_follows_stays(session: Session) -> list[str]:
    """A case with an open stay is `placed`, and a `placed` case has an open stay."""
    open_cases = select(Stay.case_id).where(Stay.discharged_at.is_(None))
    rows = session.execute(
        select(Case.code, Case.status, Case.id.in_(open_cases))
        .where((Case.status == CaseStatus.PLACED) | Case.id.in_(open_cases)).order_by(Case.code)
    )
    problems = []
    for code, status, staying in rows:
        if staying and status != CaseStatus.PLACED:
            problems.append(f"case_status: case {code} has an open stay but is {status}")
        elif not staying:
            problems.append(f"case_status: case {code} is placed but has no open stay")
    return problems


def _audited(session: Session, action: str, key: str) -> dict[int, datetime]:
    """`detail[key]` -> time of the audit events of `action` (e.g. stay id -> when its admission was written)."""
    found: dict[int, datetime] = {}
    for at, detail in session.execute(select(AuditEvent.at, AuditEvent.detail).where(AuditEvent.action == action)):
        value = (detail or {}).get(key)
        if isinstance(value, int):
            found.setdefault(value, at)
    return found


def writes_are_audited(session: Session) -> list[str]:
    """Every case, admission, discharge and hold has its audit event, and every such event its record:
    both are written in one transaction, so a crash leaves both or neither."""
    problems = []
    admitted = _audited(session, "stay.admit", "stay")
    discharged = _audited(session, "stay.discharge", "stay")
    held = _audited(session, "shelter.hold", "reservation")
    stays = session.execute(select(Stay.id, Stay.discharged_at).order_by(Stay.id)).all()
    for stay_id, discharged_at in stays:
        if stay_id not in admitted:
            problems.append(f"unaudited: stay {stay_id} has no stay.admit audit event")
        if discharged_at is not None and stay_id not in discharged:
            problems.append(f"unaudited: stay {stay_id} is discharged but has no stay.discharge audit event")
    stay_ids = {stay_id for stay_id, _ in stays}
    open_ids = {stay_id for stay_id, discharged_at in stays if discharged_at is None}
    for stay_id in sorted(set(admitted) - stay_ids):
        problems.append(f"unaudited: audit event stay.admit names stay {stay_id}, which does not exist")
    for stay_id in sorted(set(discharged) & open_ids):
        problems.append(f"unaudited: audit event stay.discharge names stay {stay_id}, which is open")
    cases = set(session.scalars(select(Case.code)))
    created = set(session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "case.create")))
    for code in sorted(cases - created):
        problems.append(f"unaudited: case {code} has no case.create audit event")
    for code in sorted(created - cases):
        problems.append(f"unaudited: audit event case.create names case {code}, which does not exist")
    holds = set(session.scalars(select(Reservation.id)))
    for hold_id in sorted(holds - set(held)):
        problems.append(f"unaudited: hold {hold_id} has no shelter.hold audit event")
    for hold_id in sorted(set(held) - holds):
        problems.append(f"unaudited: audit event shelter.hold names hold {hold_id}, which does not exist")
    return problems


def holds_are_whole(session: Session) -> list[str]:
    """A hold ends after it starts, and is released with a reason or not at all."""
    problems = []
    for hold_id, created_at, held_until, released_at, reason in session.execute(
        select(Reservation.id, Reservation.created_at, Reservation.held_until, Reservation.released_at,
               Reservation.release_reason).order_by(Reservation.id)
    ):
        if held_until <= created_at:
            problems.append(f"hold_times: hold {hold_id} ends at {held_until.isoformat()}, "
                            f"not after it was taken at {created_at.isoformat()}")
        if (released_at is None) != (reason is None):
            missing = "a release time but no reason" if reason is None else "a release reason but no time"
            problems.append(f"half_released: hold {hold_id} has {missing}")
    return problems


def no_overbooked_shelter(session: Session, now: datetime) -> list[str]:
    """Beds taken by open stays plus live holds fit the usable capacity.

    A shelter may hold more only when its capacity was lowered afterwards (the manager saw
    and accepted the overflow): every open stay and live hold then predates the latest
    capacity change, and beds taken by stays beyond the new capacity were reported as
    overflow in that change's audit event. A bed taken after the change in an overfull
    shelter is a double booking. When a stay was taken is read from its audit event,
    since `admitted_at` may be backdated.
    """
    occupancy = figures.occupancy(session, now)
    shelters = {s.id: s for s in session.scalars(select(Shelter).where(Shelter.id.in_(list(occupancy))))}
    problems = []
    admitted_when: dict[int, datetime] | None = None
    for shelter_id, occ in sorted(occupancy.items()):
        shelter = shelters[shelter_id]
        excess = occ.occupied + occ.reserved - shelter.usable
        if excess <= 0:
            continue
        changed_at = session.scalar(select(func.max(CapacityChange.effective_at))
                                    .where(CapacityChange.shelter_id == shelter_id))
        if admitted_when is None:
            admitted_when = _audited(session, "stay.admit", "stay")
        taken = [admitted_when.get(stay_id, admitted_at) for stay_id, admitted_at in session.execute(
            select(Stay.id, Stay.admitted_at).where(Stay.shelter_id == shelter_id, Stay.discharged_at.is_(None)))]
        taken += list(session.scalars(select(Reservation.created_at).where(
            Reservation.shelter_id == shelter_id, Reservation.released_at.is_(None), Reservation.held_until > now)))
        late = [at for at in taken if changed_at is None or at > changed_at]
        figures_text = f"{occ.occupied} beds occupied and {occ.reserved} held against {shelter.usable} usable"
        if late:
            problems.append(f"overbooked: shelter {shelter.code} has {figures_text}; "
                            f"{len(late)} taken after its capacity last changed")
            continue
        if occ.occupied > shelter.usable:
            overflows = [(detail or {}).get("overflow", 0) for detail in session.scalars(
                select(AuditEvent.detail).where(AuditEvent.action == "shelter.update",
                                                AuditEvent.object_id == shelter.code,
                                                AuditEvent.at >= changed_at))]
            if not any(isinstance(n, int) and n > 0 for n in overflows):
                problems.append(f"overbooked: shelter {shelter.code} has {figures_text}, "
                                "and no accepted overflow explains it")
    return problems


def capacity_history_is_current(session: Session) -> list[str]:
    """Each shelter's latest capacity change is its current capacity and beds out of service."""
    latest = (
        select(CapacityChange.shelter_id, CapacityChange.capacity, CapacityChange.out_of_service,
               func.row_number().over(partition_by=CapacityChange.shelter_id,
                                      order_by=(CapacityChange.effective_at.desc(), CapacityChange.id.desc()))
               .label("n"))
        .subquery()
    )
    rows = session.execute(
        select(Shelter.code, Shelter.capacity, Shelter.out_of_service, latest.c.capacity, latest.c.out_of_service)
        .outerjoin(latest, (latest.c.shelter_id == Shelter.id) & (latest.c.n == 1)).order_by(Shelter.code)
    )
    problems = []
    for code, capacity, out_of_service, recorded_capacity, recorded_oos in rows:
        if recorded_capacity is None:
            problems.append(f"capacity_history: shelter {code} has no capacity history")
        elif (capacity, out_of_service) != (recorded_capacity, recorded_oos):
            problems.append(f"capacity_history: shelter {code} has capacity {capacity} ({out_of_service} out of "
                            f"service), its history last says {recorded_capacity} ({recorded_oos})")
    return problems


def headcount_stamp_is_current(session: Session) -> list[str]:
    """`last_headcount_at` is the time of the shelter's latest headcount that matched the records."""
    confirmed = (select(Headcount.shelter_id, func.max(Headcount.at).label("at"))
                 .where(Headcount.reported == Headcount.recorded).group_by(Headcount.shelter_id).subquery())
    rows = session.execute(
        select(Shelter.code, Shelter.last_headcount_at, confirmed.c.at)
        .outerjoin(confirmed, confirmed.c.shelter_id == Shelter.id).order_by(Shelter.code)
    )
    problems = []
    for code, stamped, latest in rows:
        if stamped != latest:
            problems.append(f"headcount_stamp: shelter {code} says its headcount was last confirmed at "
                            f"{stamped.isoformat() if stamped else 'never'}, its headcounts say "
                            f"{latest.isoformat() if latest else 'never'}")
    return problems


def versions_are_counted(session: Session) -> list[str]:
    """Every shelter's edit counter started at 1 and only grew."""
    rows = session.execute(select(Shelter.code, Shelter.version).where(Shelter.version < 1).order_by(Shelter.code))
    return [f"shelter_version: shelter {code} has version {version}" for code, version in rows]


def shelter_problems(session: Session, now: datetime) -> list[str]:
    """Every shelters invariant, in a fixed order: an empty list when all hold."""
    return [
        *one_open_stay_per_case(session),
        *stays_are_whole(session),
        *case_status_follows_stays(session),
        *holds_are_whole(session),
        *no_overbooked_shelter(session, now),
        *capacity_history_is_current(session),
        *headcount_stamp_is_current(session),
        *versions_are_counted(session),
        *writes_are_audited(session),
    ]

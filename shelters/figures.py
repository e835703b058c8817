"""Occupancy and utilisation, computed in the database.

One definition for the whole code base (boards, API, alerts, reports):

- occupied: beds taken by open stays (a resident plus accompanying children);
- reserved: beds held by live reservations;
- available: usable beds (capacity - out of service) minus both, never below 0;
- utilisation over N days: bed-nights occupied / bed-nights available, where a
  night is counted at each midnight UTC. A stay occupies the nights from its
  admission date up to, not including, its discharge date; the usable capacity
  for a night is the one in force at that midnight (capacity history), so a
  mid-window capacity change and backdated stays count exactly.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from itertools import accumulate

from sqlalchemy import ColumnElement, case, func, literal, select, union_all
from sqlalchemy.orm import Session

from database import epoch_day
from shelters.models import CapacityChange, Reservation, Stay

EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Occupancy:
    occupied: int = 0
    residents: int = 0
    reserved: int = 0


@dataclass(frozen=True)
class Utilisation:
    bed_nights_occupied: int
    bed_nights_available: int

    @property
    def ratio(self) -> float | None:
        if self.bed_nights_available <= 0:
            return None
        return self.bed_nights_occupied / self.bed_nights_available


def available_beds(usable: int, occupancy: Occupancy) -> int:
    return max(0, usable - occupancy.occupied - occupancy.reserved)


def occupancy(session: Session, now: datetime, shelter_ids: Collection[int] | None = None) -> dict[int, Occupancy]:
    """Occupied beds, residents and held beds per shelter id, in two grouped queries."""
    stays = select(Stay.shelter_id, func.sum(Stay.beds), func.count()).where(Stay.discharged_at.is_(None))
    holds = select(Reservation.shelter_id, func.sum(Reservation.beds)).where(
        Reservation.released_at.is_(None), Reservation.held_until > now
    )
    if shelter_ids is not None:
        stays = stays.where(Stay.shelter_id.in_(shelter_ids))
        holds = holds.where(Reservation.shelter_id.in_(shelter_ids))
    result: dict[int, Occupancy] = {}
    for shelter_id, beds, residents in session.execute(stays.group_by(Stay.shelter_id)):
        result[shelter_id] = Occupancy(occupied=int(beds), residents=int(residents))
    for shelter_id, beds in session.execute(holds.group_by(Reservation.shelter_id)):
        current = result.get(shelter_id, Occupancy())
        result[shelter_id] = Occupancy(current.occupied, current.residents, int(beds))
    return result


def midnight(now: datetime) -> datetime:
    """The midnight UTC that began `now`'s day: the last night counted, and what partners' figures are as of."""
    return datetime.combine(now.astimezone(UTC).date(), time(), UTC)


def window(now: datetime, days: int) -> tuple[date, date]:
    """The nights counted in the last `days` days: [first, end), end being today (tonight is not over)."""
    end = now.astimezone(UTC).date()
    return end - timedelta(days=days), end


def _overlapping_stays(start_at: datetime, shelter_ids: Collection[int] | None) -> list[ColumnElement[bool]]:
    """Conditions that together select, once each, the stays that may hold a night from `start_at` on:
    those still open and those discharged since.

    For every shelter they are two range reads of the index on (discharged_at, shelter_id, beds,
    admitted_at), which covers them; one OR of both makes SQLite scan every stay ever made. For chosen
    shelters it is one condition, read shelter by shelter from the (shelter_id, discharged_at) index:
    given `discharged_at IS NULL` alone, PostgreSQL scans every open stay through the partial index of
    open stays and filters the ids.
    """
    still_open, left_since = Stay.discharged_at.is_(None), Stay.discharged_at >= start_at
    if shelter_ids is None:
        return [still_open, left_since]
    return [Stay.shelter_id.in_(shelter_ids) & (still_open | left_since)]


def utilisation(
    session: Session, now: datetime, days: int, shelter_ids: Collection[int] | None = None
) -> dict[int, Utilisation]:
    """Bed-nights occupied and available per shelter id over the `days` nights before today, in two or three
    grouped queries whatever the number of shelters.

    A stay counts the nights from max(admission day, first) up to min(discharge day, end): sums of
    clipped intervals over the stays that overlap the window, never one row per night. Most of those
    span the whole window; they are told apart by comparing the stored times with the window's
    midnights, so only stays that begin or end inside it have their days computed.
    """
    first, end = window(now, days)
    start_day, end_day = (first - EPOCH).days, (end - EPOCH).days
    start_at = datetime.combine(first, time(), UTC)
    end_at = datetime.combine(end, time(), UTC)

    # A stay's night is counted at midnight: admitted before `start_at` it holds the first night, still
    # open or discharged on or after `end_at` it holds the last. discharged_at >= admitted_at (a check
    # constraint), so `last >= first` for every stay read below (one admitted today counts 0) and no clamp
    # at 0 is needed.
    first_night = case((Stay.admitted_at < start_at, literal(start_day)), else_=epoch_day(Stay.admitted_at))
    last_night = case((Stay.discharged_at.is_(None) | (Stay.discharged_at >= end_at), literal(end_day)),
                      else_=epoch_day(Stay.discharged_at))
    stays_q = select(Stay.shelter_id, func.sum(Stay.beds * (last_night - first_night))).group_by(Stay.shelter_id)
    stay_queries = [stays_q.where(condition) for condition in _overlapping_stays(start_at, shelter_ids)]

    # Each capacity change holds from its day to the next change's (the last: to the end of the window);
    # as for stays, days are computed only for changes made inside the window.
    changes = select(
        CapacityChange.shelter_id.label("shelter_id"),
        (CapacityChange.capacity - CapacityChange.out_of_service).label("usable"),
        CapacityChange.effective_at.label("begins"),
        func.lead(CapacityChange.effective_at)
        .over(partition_by=CapacityChange.shelter_id, order_by=(CapacityChange.effective_at, CapacityChange.id))
        .label("ends"),
    )
    if shelter_ids is not None:
        changes = changes.where(CapacityChange.shelter_id.in_(shelter_ids))
    periods = changes.subquery()
    lo = case((periods.c.begins < start_at, literal(start_day)), else_=epoch_day(periods.c.begins))
    hi = case((periods.c.ends.is_(None) | (periods.c.ends >= end_at), literal(end_day)),
              else_=epoch_day(periods.c.ends))
    available_q = select(
        periods.c.shelter_id, func.sum(case((hi > lo, periods.c.usable * (hi - lo)), else_=literal(0)))
    ).group_by(periods.c.shelter_id)

    occupied: dict[int, int] = {}
    for query in stay_queries:
        for sid, n in session.execute(query):
            occupied[sid] = occupied.get(sid, 0) + int(n or 0)
    available = {sid: int(n or 0) for sid, n in session.execute(available_q)}
    return {
        sid: Utilisation(occupied.get(sid, 0), available.get(sid, 0))
        for sid in occupied.keys() | available.keys()
    }


@dataclass(frozen=True)
class Nights:
    """One shelter's nights from `first`, night by night: beds occupied (counted as utilisation counts them)
    and the capacity and beds out of service in force at that midnight (None: not in service yet)."""

    first: date
    occupied: list[int]
    capacity: list[int | None]
    out_of_service: list[int]

    @cached_property
    def usable(self) -> list[int | None]:
        return [None if c is None else c - o for c, o in zip(self.capacity, self.out_of_service, strict=True)]


def nightly(session: Session, now: datetime, days: int, shelter_ids: Collection[int] | None = None) -> dict[int, Nights]:
    """Every shelter's last `days` nights before today, in two queries whatever the number of shelters:
    one grouped sum of beds admitted (+) and discharged (-) per shelter and day, earlier days folded into
    the first night, and the capacity history. Summed, the nights give `utilisation` exactly."""
    first, end = window(now, days)
    start_day, end_day = (first - EPOCH).days, (end - EPOCH).days
    start_at = datetime.combine(first, time(), UTC)

    def day_in_window(moment):  # SQL expression: a day before the window counts on its first night
        # (compared as stored times, so the day is computed only for moments inside the window)
        return case((moment < start_at, literal(start_day)), else_=epoch_day(moment))

    left_since = Stay.discharged_at >= start_at
    if shelter_ids is not None:
        left_since = left_since & Stay.shelter_id.in_(shelter_ids)
    admissions = [select(Stay.shelter_id.label("shelter_id"), day_in_window(Stay.admitted_at).label("day"),
                         Stay.beds.label("beds")).where(condition)
                  for condition in _overlapping_stays(start_at, shelter_ids)]
    moves = union_all(
        *admissions, select(Stay.shelter_id, day_in_window(Stay.discharged_at), -Stay.beds).where(left_since),
    ).subquery()
    delta: dict[int, dict[int, int]] = {}
    for sid, day, beds in session.execute(
        select(moves.c.shelter_id, moves.c.day, func.sum(moves.c.beds)).where(moves.c.day < end_day)
        .group_by(moves.c.shelter_id, moves.c.day)
    ):
        delta.setdefault(sid, {})[int(day) - start_day] = int(beds or 0)

    changes_q = select(CapacityChange.shelter_id, epoch_day(CapacityChange.effective_at), CapacityChange.capacity,
                       CapacityChange.out_of_service).where(epoch_day(CapacityChange.effective_at) < end_day)
    if shelter_ids is not None:
        changes_q = changes_q.where(CapacityChange.shelter_id.in_(shelter_ids))
    changes: dict[int, list[tuple[int, int, int]]] = {}
    for sid, day, capacity, out in session.execute(
        changes_q.order_by(CapacityChange.shelter_id, CapacityChange.effective_at, CapacityChange.id)
    ):
        changes.setdefault(sid, []).append((max(0, int(day) - start_day), capacity, out))

    result = {}
    for sid in set(delta) | set(changes):
        capacity_of: list[int | None] = [None] * days
        out_of_service = [0] * days
        steps = [0] * days
        for i, beds in delta.get(sid, {}).items():
            steps[i] = beds
        occupied = list(accumulate(steps))
        if min(occupied) < 0:  # only where the stays contradict each other: never show fewer than none
            occupied = [max(0, beds) for beds in occupied]
        # The change in force at a midnight is the last one made on or before that day.
        history = changes.get(sid, [])
        for n, (day, cap, out) in enumerate(history):
            until = history[n + 1][0] if n + 1 < len(history) else days
            capacity_of[day:until] = [cap] * (until - day)
            out_of_service[day:until] = [out] * (until - day)
        result[sid] = Nights(first, occupied, capacity_of, out_of_service)
    return result

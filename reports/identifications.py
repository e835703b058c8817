"""Where a change in identifications comes from: the last 12 months against the 12 before, by identifying unit,
by how victims were identified, by form of exploitation, by nationality and by quarter, naming the largest
contributors to the change ("airport border police: 11 -> 2").

`identified` gathers one plain row per case identified in the two years (one query); `shifts` and
`largest_contributors` are pure and tested on fixed rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Organisation
from shelters.models import Case

NOT_RECORDED = "not recorded"
DIMENSIONS = ("unit", "method", "exploitation", "nationality", "quarter")


@dataclass(frozen=True)
class Identified:
    """One identified case as the trends read it: no code, no profile beyond what is counted."""

    identified_on: date
    unit: str  # the identifying unit, else its organisation's name, else NOT_RECORDED
    method: str
    exploitation: tuple[str, ...]
    nationality: str


@dataclass(frozen=True)
class Shift:
    """One category's identifications in the 12 months before and the last 12 months."""

    key: str
    before: int
    after: int

    @property
    def change(self) -> int:
        return self.after - self.before


@dataclass(frozen=True)
class Shifts:
    before: int
    after: int
    by: Mapping[str, list[Shift]]  # dimension -> shifts, largest fall first
    contributors: list[tuple[str, Shift]]  # (dimension, shift): the units that moved most with the total

    @property
    def change(self) -> int:
        return self.after - self.before


def windows(today: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """([today-730, today-365), [today-365, today]) as the identifications alert counts them (inclusive ends
    given as (first, last))."""
    year_ago, two_years_ago = today - timedelta(days=365), today - timedelta(days=730)
    return (two_years_ago, year_ago - timedelta(days=1)), (year_ago, today)


def identified(session: Session, now: datetime) -> list[Identified]:
    """Every case identified in the two 12-month windows, as plain rows."""
    (first, _), (_, last) = windows(now.date())
    rows = session.execute(
        select(Case.identified_on, Case.identifying_unit, Organisation.name, Case.identification_method,
               Case.exploitation, Case.nationality)
        .outerjoin(Organisation, Case.identified_by_org_id == Organisation.id)
        .where(Case.identified_on >= first, Case.identified_on <= last))
    return [Identified(day, (unit or "").strip() or org or NOT_RECORDED, method or NOT_RECORDED,
                       tuple(forms or ()) or (NOT_RECORDED,), (nationality or NOT_RECORDED).upper())
            for day, unit, org, method, forms, nationality in rows]


def _keys(row: Identified, dimension: str) -> Iterable[str]:
    if dimension == "exploitation":
        return row.exploitation
    if dimension == "quarter":
        return (f"Q{(row.identified_on.month - 1) // 3 + 1}",)
    return (getattr(row, dimension),)


def compare(before: Mapping[str, int], after: Mapping[str, int]) -> list[Shift]:
    """Each category of either period with both counts, largest fall first, then largest rise, ties by key."""
    keys = set(before) | set(after)
    return sorted((Shift(k, before.get(k, 0), after.get(k, 0)) for k in keys), key=lambda s: (s.change, s.key))


def largest_contributors(shifts: Iterable[Shift], total_change: int, limit: int = 3) -> list[Shift]:
    """The categories that moved the way the total did, most first (at most `limit`): for a fall, the largest
    falls. Empty when the total did not change."""
    if total_change == 0:
        return []
    sign = 1 if total_change > 0 else -1
    moved = [s for s in shifts if s.change * sign > 0]
    return sorted(moved, key=lambda s: (-abs(s.change), s.key))[:limit]


def shifts(rows: Iterable[Identified], today: date) -> Shifts:
    """The two windows' counts, each dimension's shifts, and the largest contributors by identifying unit (the
    dimension the secretariat can act on) to the change in the total."""
    (b_first, b_last), (a_first, a_last) = windows(today)
    before_rows = [r for r in rows if b_first <= r.identified_on <= b_last]
    after_rows = [r for r in rows if a_first <= r.identified_on <= a_last]
    by = {}
    for dimension in DIMENSIONS:
        before = Counter(k for r in before_rows for k in _keys(r, dimension))
        after = Counter(k for r in after_rows for k in _keys(r, dimension))
        by[dimension] = compare(before, after)
    change = len(after_rows) - len(before_rows)
    contributors = [("unit", s) for s in largest_contributors(by["unit"], change)]
    return Shifts(len(before_rows), len(after_rows), by, contributors)


def contributor_text(shift: Shift, label: str | None = None) -> str:
    """'airport border police: 11 -> 2'."""
    return f"{label or shift.key}: {shift.before} -> {shift.after}"

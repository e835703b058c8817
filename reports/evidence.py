"""Gathering the evidence of why a shelter stands empty: the query layer under `reports.funnel`.

For one shelter and a period, each placement request made in it gives what its stored ranking said of the
shelter, what happened to it (its events), the victim's reason for declining and the stay it opened there. The
shelter's entry is picked out of each stored ranking's JSON text (`find_entry`), so a ranking of 1,000
shelters is never decoded whole to read one of them. A fixed number of queries, whatever the number of
requests.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Text, cast, select
from sqlalchemy.orm import Session

from placement import engine
from placement.geography import region_centres
from placement.models import PlacementEvent, PlacementRequest
from placement.services import Settings, candidates
from reports.funnel import (
    Change,
    Entry,
    Event,
    Funnel,
    Replay,
    RequestTrail,
    StayRecord,
    WhatIf,
    shelter_funnel,
    what_if,
)
from shelters import figures
from shelters.models import Case, Shelter, Stay

_CHUNK = 500
# The changes the page replays, each on its own and all together.
WHAT_IFS: dict[str, Change] = {
    "takes_men": Change(takes_sexes=frozenset({"male"})),
    "takes_all_ages": Change(ages="all"),
    "adds_interpretation": Change(adds_services=frozenset({"interpretation"})),
    "high_security": Change(high_security=True),
    "two_more_beds": Change(extra_beds=2),
    "all_of_these": Change(frozenset({"male"}), "all", frozenset({"interpretation"}), True, 2),
}


@dataclass(frozen=True)
class Period:
    """Requests made from `start` (inclusive) to `end` (exclusive) days, UTC."""

    start: date
    end: date

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time(), UTC)

    @property
    def end_at(self) -> datetime:
        return datetime.combine(self.end, time(), UTC)

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _entry(value: Any) -> Entry | None:
    value = _json(value)
    if not isinstance(value, dict):
        return None
    return Entry(value["shelter"], int(value["score"]), dict(value.get("terms", {})))


def _reasons(value: Any) -> tuple[tuple[str, Mapping[str, Any]], ...] | None:
    value = _json(value)
    if not isinstance(value, dict):
        return None
    codes, values = value.get("codes") or [], value.get("values") or []
    return tuple((code, values[i] if i < len(values) and isinstance(values[i], dict) else {})
                 for i, code in enumerate(codes))


@dataclass(frozen=True)
class _Row:
    request_id: int
    created_at: datetime
    reasons: tuple[tuple[str, Mapping[str, Any]], ...] | None
    rank: int | None
    entry: Entry | None
    top: tuple[Entry | None, ...]
    case_id: int
    region: str | None
    exclude: list[str]
    decline_reason: str | None


_DECODER = json.JSONDecoder()


def find_entry(stored: str, code: str) -> tuple[dict[str, Any] | None, int | None]:
    """(the object of shelter `code` in a stored ranking list as JSON text, its index in the list), or
    (None, None): found by its `"shelter"` member in the text and decoded alone, so a ranking of 1,000
    shelters is not decoded to read one. Any key order and spacing (SQLite keeps the text as written,
    PostgreSQL's jsonb writes its own order); a string value never holds the member's unescaped quotes."""
    value = json.dumps(code)
    first = stored.find('"shelter":')
    if first == -1:
        return None, None
    # One spacing per text (as written, or as jsonb writes it): search only for the one this text uses.
    spaced = stored[first + len('"shelter":'):first + len('"shelter":') + 1] == " "
    for needle in ((f'"shelter": {value}',) if spaced else (f'"shelter":{value}',)):
        at = stored.find(needle)
        while at != -1:
            if stored[at + len(needle):at + len(needle) + 1] in (",", "}"):
                start = stored.rfind("{", 0, at)
                while start != -1:
                    try:
                        found, stop = _DECODER.raw_decode(stored, start)
                    except ValueError:
                        found, stop = None, start
                    if isinstance(found, dict) and found.get("shelter") == code and stop > at:
                        return found, stored.count('"shelter"', 0, at)
                    start = stored.rfind("{", 0, start)
            at = stored.find(needle, at + 1)
    return None, None


def first_entries(stored: str, count: int) -> list[dict[str, Any]]:
    """The first `count` objects of a stored ranking list as JSON text, decoded alone."""
    out: list[dict[str, Any]] = []
    at = stored.find("{")
    while at != -1 and len(out) < count:
        found, stop = _DECODER.raw_decode(stored, at)
        out.append(found)
        at = stored.find("{", stop) if stored[stop:stop + 3].lstrip(", ").startswith("{") else -1
    return out


def _rows(session: Session, shelter: Shelter, period: Period) -> list[_Row]:
    """The period's requests with what their stored rankings say of `shelter`. Each ranking is read as its
    JSON text and only the shelter's own entry and the first three suggestions are decoded (`find_entry`):
    at 1,000 shelters, the database's JSON functions walking every element cost seconds per thousand
    requests (docs/performance.md)."""
    query = (select(PlacementRequest.id, PlacementRequest.created_at, cast(PlacementRequest.excluded, Text),
                    cast(PlacementRequest.suggestions, Text), PlacementRequest.case_id, PlacementRequest.region,
                    PlacementRequest.exclude, PlacementRequest.status, PlacementRequest.reason)
             .where(PlacementRequest.created_at >= period.start_at, PlacementRequest.created_at < period.end_at)
             .order_by(PlacementRequest.id))
    rows = []
    for chunk in session.execute(query).partitions(_CHUNK):
        for rid, created, excluded, suggestions, case_id, region, exclude, status, reason in chunk:
            mine, _ = find_entry(excluded or "", shelter.code)
            entry, rank = find_entry(suggestions or "", shelter.code)
            rows.append(_Row(rid, created, _reasons(mine), rank, _entry(entry),
                             tuple(_entry(f) for f in first_entries(suggestions or "", 3)), case_id, region,
                             list(_json(exclude) or []), reason if status == "declined" else None))
    return rows


def request_trails(session: Session, shelter: Shelter, period: Period) -> list[RequestTrail]:
    """The period's requests as `reports.funnel` reads them for `shelter`."""
    rows = _rows(session, shelter, period)
    events: dict[int, list[Event]] = defaultdict(list)
    in_period = (PlacementRequest.created_at >= period.start_at, PlacementRequest.created_at < period.end_at)
    for rid, to, frm, code, reason in session.execute(
            select(PlacementEvent.request_id, PlacementEvent.to_status, PlacementEvent.from_status,
                   PlacementEvent.shelter_code, PlacementEvent.reason)
            .join(PlacementRequest, PlacementRequest.id == PlacementEvent.request_id)
            .where(*in_period).order_by(PlacementEvent.id)):
        events[rid].append(Event(to, frm, code, reason if to == "rejected" else None))
    stays = {rid: StayRecord(admitted, discharged, reason) for rid, admitted, discharged, reason in session.execute(
        select(PlacementRequest.id, Stay.admitted_at, Stay.discharged_at, Stay.discharge_reason)
        .join(Stay, Stay.id == PlacementRequest.stay_id)
        .where(*in_period, Stay.shelter_id == shelter.id))}
    # The stored entries of the shelters chosen instead, read only for the requests that chose another.
    wanted: dict[int, str] = {}
    for row in rows:
        if row.rank is None:
            continue
        reserved = [e.shelter for e in events[row.request_id] if e.to_status == "reserved" and e.shelter]
        if reserved and shelter.code not in reserved:
            wanted[row.request_id] = reserved[0]
    others: dict[int, dict[str, Entry]] = defaultdict(dict)
    ids = sorted(wanted)
    for i in range(0, len(ids), _CHUNK):
        for rid, suggestions in session.execute(select(PlacementRequest.id, PlacementRequest.suggestions)
                                                .where(PlacementRequest.id.in_(ids[i:i + _CHUNK]))):
            for s in _json(suggestions) or []:
                if s.get("shelter") == wanted[rid]:
                    others[rid][wanted[rid]] = Entry(s["shelter"], int(s["score"]), dict(s.get("terms", {})))
                    break
    return [RequestTrail(request_id=row.request_id, created_at=row.created_at, rank=row.rank, entry=row.entry,
                         reasons=row.reasons, third=row.top[2] if len(row.top) > 2 else None,
                         others=others.get(row.request_id, {}), events=tuple(events[row.request_id]),
                         decline_reason=row.decline_reason, stay=stays.get(row.request_id))
            for row in rows]


def funnel(session: Session, shelter: Shelter, period: Period, now: datetime) -> Funnel:
    """`shelter`'s placement funnel over the requests made in `period`, from their stored rankings."""
    return shelter_funnel(shelter.code, request_trails(session, shelter, period), now)


def replays(session: Session, shelter: Shelter, period: Period) -> list[Replay]:
    """The period's requests that named `shelter`, each with the victim as the engine saw them when it was made
    (the case's profile, its age on the request's day, the request's location and exclusions)."""
    rows = [row for row in _rows(session, shelter, period) if row.reasons is not None or row.rank is not None]
    centres = region_centres(session.execute(select(Shelter.region, Shelter.lat, Shelter.lon)))
    cases = {case.id: case for case in session.scalars(select(Case).where(
        Case.id.in_(sorted({row.case_id for row in rows}))))} if rows else {}
    out = []
    for row in rows:
        case = cases[row.case_id]
        where = row.region or case.region
        profile = engine.Profile(
            sex=case.sex, minor=case.is_minor_on(row.created_at.date()), children=case.children,
            needs=frozenset(case.needs), languages=frozenset(case.languages), risk=case.risk,
            trafficker_regions=frozenset(case.trafficker_regions),
            location=centres.get(where) if where else None, exclude=frozenset(row.exclude))
        best = next((e for e in row.top if e is not None and e.shelter != shelter.code), None)
        out.append(Replay(profile, row.reasons, row.rank, best, row.entry))
    return out


def what_ifs(session: Session, shelter: Shelter, period: Period, settings: Settings,
             changes: Mapping[str, Change] = WHAT_IFS) -> dict[str, WhatIf]:
    """Each change replayed over the period's stored requests (`reports.funnel.what_if`). The shelter is
    scored with its bed-night utilisation over the period; nothing is written."""
    stored = replays(session, shelter, period)
    (candidate,) = candidates(session, period.end_at, [shelter])
    used = figures.utilisation(session, period.end_at, max(1, period.days), [shelter.id]).get(shelter.id)
    ratio = used.ratio if used is not None and used.ratio is not None else 0.0
    candidate = dataclasses.replace(candidate, utilisation=ratio)
    centres = region_centres(session.execute(select(Shelter.region, Shelter.lat, Shelter.lon)))
    return {name: what_if(candidate, change, stored, settings.weights, centres) for name, change in changes.items()}


def default_period(today: date, days: int = 365) -> Period:
    """The last `days` days up to and including today."""
    return Period(today - timedelta(days=days - 1), today + timedelta(days=1))


def parse_period(start: str | None, end: str | None, today: date) -> Period:
    """A period from ISO days (`end` inclusive); ValueError naming the field for a bad or reversed one."""
    period = default_period(today)
    try:
        first = date.fromisoformat(start) if start else period.start
    except ValueError as exc:
        raise ValueError("from") from exc
    try:
        last = date.fromisoformat(end) if end else period.end - timedelta(days=1)
    except ValueError as exc:
        raise ValueError("to") from exc
    if last < first or (last - first).days > 3660:
        raise ValueError("to")
    return Period(first, last + timedelta(days=1))


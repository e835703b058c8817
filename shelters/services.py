"""The shelter registry, cases, admissions, discharges and headcounts.

Plain functions: they take the session, the acting user and `now`, flush, and
raise the exceptions of `errors`; the caller commits once. Permission checks
on the record are the caller's (see shelters.permissions); these functions
enforce the rules that keep the data whole, whoever calls them.
"""

from __future__ import annotations

import json
import re
import secrets
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar

from sqlalchemy import Text, and_, cast, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts import audit
from accounts.models import Organisation, User
from errors import (
    AlreadyDone,
    Conflict,
    Invalid,
    NotFound,
    ShelterFull,
    ShelterNotOpen,
    StaleVersion,
)
from i18n import lazy_gettext as _l
from shelters import figures
from shelters.models import (
    SERVICES,
    Ages,
    CapacityChange,
    Case,
    CaseStatus,
    DischargeReason,
    IdentificationMethod,
    Headcount,
    Reservation,
    Risk,
    Security,
    Sex,
    Shelter,
    ShelterStatus,
    Stay,
)

SHELTER_CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,15}$")
CASE_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O or 1/I to misread over a phone
LANGUAGE_CODE = re.compile(r"^[a-z]{2}$")
TELEPHONE = re.compile(r"^\+?[0-9 ()-]{3,40}$")
COUNTRY_CODE = re.compile(r"^[A-Z]{2}$")
MAX_BEDS = 10_000
MAX_CHILDREN = 20
MAX_IDENTIFYING_DETAILS = 2000


# The fields a refusal names, as pages say them; in English the API's own field names.
# Translators: each of these is a field's name inside a sentence ("note is required").
FIELD_NAMES = {
    "name": _l("name"), "kind": _l("kind"), "region": _l("region"), "municipality": _l("municipality"),
    "lat": _l("lat"), "lon": _l("lon"), "address": _l("address"), "capacity": _l("capacity"),
    "out_of_service": _l("out_of_service"), "sexes": _l("sexes"), "ages": _l("ages"),
    "children_capacity": _l("children_capacity"), "services": _l("services"), "languages": _l("languages"),
    "security": _l("security"), "status": _l("status"), "operator": _l("operator"), "note": _l("note"),
    "sex": _l("sex"), "age": _l("age"), "birth_year": _l("birth_year"), "exploitation": _l("exploitation"),
    "needs": _l("needs"), "children": _l("children"), "risk": _l("risk"),
    "trafficker_regions": _l("trafficker_regions"), "identifying_details": _l("identifying_details"),
    "occupied": _l("occupied"), "telephone": _l("telephone"), "opened_on": _l("opened_on"),
    "admitted_at": _l("admitted_at"), "identifying_unit": _l("identifying_unit"),
    "identification_method": _l("identification_method"),
}


def _field(name: str) -> Any:
    return FIELD_NAMES.get(name, name)


SHELTER_FIELDS = (
    "name", "kind", "region", "municipality", "lat", "lon", "address", "telephone", "capacity", "out_of_service",
    "sexes", "ages", "children_capacity", "services", "languages", "security", "status", "operator", "opened_on",
)
CAPACITY_FIELDS = frozenset({"capacity", "out_of_service"})


# --- reading -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShelterView:
    """A shelter with its live figures, as lists and boards show it."""

    shelter: Shelter
    occupancy: figures.Occupancy
    utilisation_30d: float | None

    @property
    def usable(self) -> int:
        return self.shelter.usable

    @property
    def available(self) -> int:
        return figures.available_beds(self.shelter.usable, self.occupancy)


# What the shelter list shows of each shelter, read as plain columns: no ORM object, identity map or
# change tracking per shelter, and the operator's code joined rather than loaded shelter by shelter.
# The JSON lists come as text, so that each distinct list is decoded once (a few dozen among hundreds).
# No location among them: no list shows where a shelter is (shelters.permissions).
LIST_COLUMNS = (
    Shelter.id, Shelter.code, Shelter.name, Shelter.kind, Shelter.region, Shelter.capacity, Shelter.out_of_service,
    cast(Shelter.sexes, Text).label("sexes"), Shelter.ages, Shelter.children_capacity,
    cast(Shelter.services, Text).label("services"), cast(Shelter.languages, Text).label("languages"),
    Shelter.security, Shelter.status, Organisation.code.label("operator"), Shelter.opened_on, Shelter.version,
    Shelter.last_headcount_at,
)


@dataclass(frozen=True, slots=True)
class ShelterLine:
    """A shelter of the list (`row` holds LIST_COLUMNS by name, its lists still JSON text) with its lists
    decoded (shared between shelters with the same list: read-only) and its live figures."""

    row: Any
    sexes: tuple[str, ...] | None
    services: tuple[str, ...] | None
    languages: tuple[str, ...] | None
    occupancy: figures.Occupancy
    utilisation_30d: float | None

    @property
    def usable(self) -> int:
        return self.row.capacity - self.row.out_of_service

    @property
    def available(self) -> int:
        return figures.available_beds(self.usable, self.occupancy)


# Partners see no figure that describes fewer shelters than this (a region's, or the merged small regions').
MIN_SHELTERS_PER_GROUP = 3
OTHER_REGIONS = "other regions"
T = TypeVar("T")


def region_groups(shelters_per_region: Mapping[str, int], minimum: int = MIN_SHELTERS_PER_GROUP) -> dict[str, str]:
    """The group under which partners see each region's figures, so that no group describes fewer than `minimum`
    shelters: a region with at least `minimum` shelters is a group of its own; the smaller ones are merged into
    OTHER_REGIONS, which is shown only when it holds at least `minimum` in all. A region missing from the answer
    is suppressed; so is every region when the country has fewer than `minimum` shelters."""
    small = [region for region, n in shelters_per_region.items() if n < minimum]
    groups = {region: region for region, n in shelters_per_region.items() if n >= minimum}
    if sum(shelters_per_region[region] for region in small) >= minimum:
        groups.update(dict.fromkeys(small, OTHER_REGIONS))
    return groups


def by_region_group(items: Sequence[T], region: Callable[[T], str]) -> list[tuple[str, list[T]]]:
    """Items of one shelter each, gathered under their region group (region_groups), by group name with the
    merged small regions last; the items of suppressed groups are left out."""
    groups = region_groups(Counter(region(item) for item in items))
    gathered: dict[str, list[T]] = {}
    for item in items:
        group = groups.get(region(item))
        if group is not None:
            gathered.setdefault(group, []).append(item)
    return [(group, gathered[group]) for group in sorted(gathered, key=lambda g: (g == OTHER_REGIONS, g))]


@dataclass(frozen=True)
class RegionTotals:
    """What partners see of beds: a region group's totals, never a single shelter."""

    region: str  # a region, or OTHER_REGIONS
    shelters: int
    capacity: int  # usable beds
    occupied: int
    available: int


@dataclass(frozen=True)
class ShelterBeds:
    """One shelter's beds at a midnight, without its name or code."""

    region: str
    usable: int
    occupied: int


def region_totals(beds: Sequence[ShelterBeds]) -> list[RegionTotals]:
    """Beds summed per region group (by_region_group); suppressed groups are left out."""
    return [RegionTotals(group, len(members), sum(b.usable for b in members), sum(b.occupied for b in members),
                         sum(max(0, b.usable - b.occupied) for b in members))
            for group, members in by_region_group(beds, lambda b: b.region)]


@dataclass(frozen=True)
class PartnerBeds:
    as_of: datetime  # a midnight UTC
    regions: list[RegionTotals]


def partner_beds(session: Session, now: datetime) -> PartnerBeds:
    """What partners see of beds: usable, occupied and free beds per region group as of the midnight UTC that
    began today, never live, from the stays and capacity in force that night (figures.nightly). Held beds are
    not counted: holds are live. A shelter counts toward its group when it adds a bed to it (in service then,
    with usable or occupied beds)."""
    region_of = dict(session.execute(select(Shelter.id, Shelter.region)).all())
    beds = []
    for shelter_id, nights in figures.nightly(session, now, 1).items():
        usable, occupied = nights.usable[-1], nights.occupied[-1]
        if usable is not None and (usable or occupied):
            beds.append(ShelterBeds(region_of[shelter_id], usable, occupied))
    return PartnerBeds(figures.midnight(now), region_totals(beds))


# The one refusal for a record that does not exist, given also for one the caller may not see
# (shelters.permissions): the two must read the same, word for word.
def unknown_shelter(code: str) -> NotFound:
    return NotFound(_l("No shelter %(code)s.", code=code), fields={"shelter": "unknown"})


def unknown_case(code: str) -> NotFound:
    return NotFound(_l("No case %(code)s.", code=code), fields={"case_code": "unknown"})


def unknown_stay(stay_id: int) -> NotFound:
    return NotFound(_l("No stay %(stay)s.", stay=stay_id), fields={"stay": "unknown"})


def get_shelter(session: Session, code: str) -> Shelter:
    shelter = session.scalar(select(Shelter).where(Shelter.code == code))
    if shelter is None:
        raise unknown_shelter(code)
    return shelter


def get_shelters(session: Session, codes: Sequence[str]) -> list[Shelter]:
    """The shelters with these codes, in the order given; Invalid naming any unknown code."""
    found = {s.code: s for s in session.scalars(select(Shelter).where(Shelter.code.in_(list(codes))))}
    missing = [c for c in codes if c not in found]
    if missing:
        raise Invalid(_l("Unknown shelter %(codes)s.", codes=", ".join(missing)), fields={"shelters": "unknown"})
    return [found[c] for c in codes]


def _live_figures(session: Session, now: datetime, ids: list[int] | None
                  ) -> tuple[dict[int, figures.Occupancy], dict[int, float | None]]:
    """Occupancy and 30-day utilisation ratios, computed once; `ids` None means every shelter (no id list
    sent to the database)."""
    occ = figures.occupancy(session, now, ids)
    util = {sid: u.ratio for sid, u in figures.utilisation(session, now, 30, ids).items()}
    return occ, util


def shelter_views(session: Session, now: datetime, shelters: Sequence[Shelter],
                  *, every_shelter: bool = False) -> list[ShelterView]:
    """Live figures for many shelters in a fixed number of queries (`every_shelter`: they are all of them)."""
    occ, util = _live_figures(session, now, None if every_shelter else [s.id for s in shelters])
    none = figures.Occupancy()
    return [ShelterView(s, occ.get(s.id, none), util.get(s.id)) for s in shelters]


def list_shelters(session: Session, now: datetime) -> list[ShelterView]:
    """Every shelter, by code, with its live figures."""
    shelters = list(session.scalars(select(Shelter).order_by(Shelter.code)))
    return shelter_views(session, now, shelters, every_shelter=True)


def list_shelter_lines(session: Session, now: datetime, *, after: str | None = None, region: str | None = None,
                       status: str | None = None) -> list[ShelterLine]:
    """Every shelter, by code, as plain columns (LIST_COLUMNS) with its live figures: what the API's list
    shows, the same figures as `list_shelters` at a fraction of its cost. Only those with a code after `after`,
    in `region`, with `status`, when given (the API's paging and filters)."""
    query = select(*LIST_COLUMNS).outerjoin(Organisation, Organisation.id == Shelter.operator_id)
    if after is not None:
        query = query.where(Shelter.code > after)
    if region is not None:
        query = query.where(Shelter.region == region)
    if status is not None:
        query = query.where(Shelter.status == status)
    rows = session.execute(query.order_by(Shelter.code)).all()
    occ, util = _live_figures(session, now, None)
    none = figures.Occupancy()
    decoded: dict[str | None, tuple[str, ...] | None] = {None: None}

    def as_list(text: str | None) -> tuple[str, ...] | None:
        if text not in decoded:
            value = json.loads(text)
            decoded[text] = None if value is None else tuple(value)
        return decoded[text]

    return [ShelterLine(row, as_list(row.sexes), as_list(row.services), as_list(row.languages),
                        occ.get(row.id, none), util.get(row.id)) for row in rows]


def residents(session: Session, shelter: Shelter, *, after: tuple[datetime, int] | None = None,
              limit: int | None = None) -> list[Stay]:
    """Open stays of a shelter, oldest admission first; after (admitted_at, stay id) `after`, at most `limit`
    (the API's pages)."""
    query = select(Stay).where(Stay.shelter_id == shelter.id, Stay.discharged_at.is_(None))
    if after is not None:
        admitted_at, stay_id = after
        query = query.where(or_(Stay.admitted_at > admitted_at,
                                and_(Stay.admitted_at == admitted_at, Stay.id > stay_id)))
    return list(session.scalars(query.order_by(Stay.admitted_at, Stay.id).limit(limit)))


def get_case(session: Session, code: str) -> Case:
    case = session.scalar(select(Case).where(Case.code == code))
    if case is None:
        raise unknown_case(code)
    return case


def open_stay(session: Session, case: Case) -> Stay | None:
    return session.scalar(select(Stay).where(Stay.case_id == case.id, Stay.discharged_at.is_(None)))


def get_stay(session: Session, stay_id: int) -> Stay:
    stay = session.get(Stay, stay_id)
    if stay is None:
        raise unknown_stay(stay_id)
    return stay


# --- shelters ----------------------------------------------------------------------------------------------


def _check_list(name: str, values: Any, allowed: Sequence[str] | None = None,
                pattern: re.Pattern | None = None) -> list[str]:
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
        raise Invalid(_l("The field %(field)s must be a list of codes.", field=_field(name)),
                      fields={name: "list of strings"})
    out = list(dict.fromkeys(values))
    bad = [v for v in out if (allowed is not None and v not in allowed) or (pattern and not pattern.match(v))]
    if bad:
        raise Invalid(_l("Unknown %(field)s: %(values)s.", field=_field(name), values=", ".join(bad[:5])),
                      fields={name: "unknown value"})
    return out


def _check_choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise Invalid(_l("The field %(field)s must be one of %(values)s.",
                         field=_field(name), values=", ".join(allowed)),
                      fields={name: "unknown value"})
    return value


def _check_int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(_l("The field %(field)s must be a whole number from %(low)s to %(high)s.",
                         field=_field(name), low=low,
                         high=high), fields={name: f"{low}..{high}"})
    return value


def _check_text(name: str, value: Any, max_length: int, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise Invalid(_l("The field %(field)s is required.", field=_field(name)), fields={name: "required"})
        return None
    if not isinstance(value, str) or len(value) > max_length:
        raise Invalid(_l("The field %(field)s must be text of at most %(max)s characters.",
                         field=_field(name), max=max_length),
                      fields={name: f"<= {max_length}"})
    # NUL bytes and lone surrogates never get this far: app.py refuses them in any request (odd_input.py).
    return value.strip()


def _clean_shelter_values(session: Session, values: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(SHELTER_FIELDS)
    if unknown:
        raise Invalid(_l("Unknown field %(fields)s.", fields=", ".join(sorted(unknown))),
                      fields={f: "unknown field" for f in unknown})
    clean: dict[str, Any] = {}
    for key, value in values.items():
        match key:
            case "name":
                clean[key] = _check_text(key, value, 200)
            case "kind":
                clean[key] = _check_choice(key, value, ("state", "ngo", "interim"))
            case "region":
                clean[key] = _check_text(key, value, 64)
            case "municipality":
                clean[key] = _check_text(key, value, 64, required=False)
            case "address":
                clean[key] = _check_text(key, value, 500, required=False)
            case "telephone":
                clean[key] = _check_text(key, value, 40, required=False)
                if clean[key] is not None and not TELEPHONE.match(clean[key]):
                    raise Invalid(_l("Telephone may hold digits, spaces and + ( ) - only."),
                                  fields={key: "invalid"})
            case "opened_on":
                if not isinstance(value, date) or isinstance(value, datetime):
                    raise Invalid(_l("The field %(field)s must be a date.", field=_field(key)), fields={key: "date"})
                clean[key] = value
            case "lat" | "lon":
                limit = 90 if key == "lat" else 180
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                         or not -limit <= value <= limit):
                    raise Invalid(_l("The field %(field)s must be a number from -%(limit)s to %(limit)s.",
                                     field=_field(key),
                                     limit=limit), fields={key: "out of range"})
                clean[key] = None if value is None else float(value)
            case "capacity" | "out_of_service":
                clean[key] = _check_int(key, value, 0, MAX_BEDS)
            case "children_capacity":
                clean[key] = _check_int(key, value, 0, MAX_BEDS)
            case "sexes":
                clean[key] = _check_list(key, value, tuple(Sex))
                if not clean[key]:
                    raise Invalid(_l("A shelter takes at least one sex."), fields={key: "empty"})
            case "ages":
                clean[key] = _check_choice(key, value, tuple(Ages))
            case "services":
                clean[key] = _check_list(key, value, SERVICES)
            case "languages":
                clean[key] = _check_list(key, value, pattern=LANGUAGE_CODE)
            case "security":
                clean[key] = _check_choice(key, value, tuple(Security))
            case "status":
                clean[key] = _check_choice(key, value, tuple(ShelterStatus))
            case "operator":
                if value is None:
                    clean["operator"] = None
                else:
                    org = session.scalar(select(Organisation).where(Organisation.code == value))
                    if org is None:
                        raise Invalid(_l("Unknown organisation %(code)s.", code=value), fields={"operator": "unknown"})
                    clean["operator"] = org
    return clean


def create_shelter(session: Session, actor: User | None, now: datetime, code: str,
                   values: Mapping[str, Any]) -> Shelter:
    """Register a shelter. Raises Invalid for bad values, Conflict when the code is taken."""
    if not isinstance(code, str) or not SHELTER_CODE.match(code):
        raise Invalid(_l("Code must be 1-16 capitals, digits or dashes."), fields={"code": "invalid"})
    for required in ("name", "region", "capacity"):
        if required not in values:
            raise Invalid(_l("The field %(field)s is required.", field=_field(required)), fields={required: "required"})
    clean = _clean_shelter_values(session, values)
    if clean.get("out_of_service", 0) > clean["capacity"]:
        raise Invalid(_l("The field out_of_service cannot exceed capacity."),
                      fields={"out_of_service": "above capacity"})
    clean["opened_on"] = _check_opened_on(clean.get("opened_on") or now.date(), now)
    if session.scalar(select(Shelter.id).where(Shelter.code == code)):
        raise Conflict(_l("Shelter %(code)s exists already.", code=code), code="duplicate", fields={"code": "taken"})
    shelter = Shelter(code=code, **clean)
    session.add(shelter)
    session.flush()
    session.add(CapacityChange(shelter_id=shelter.id, effective_at=_opening(shelter.opened_on, now),
                               capacity=shelter.capacity, out_of_service=shelter.out_of_service,
                               changed_by_id=actor.id if actor else None))
    audit.record(session, actor=actor, action="shelter.create", object_type="shelter", object_id=code, now=now)
    return shelter


def _check_opened_on(opened_on: date, now: datetime) -> date:
    if opened_on > now.date():
        raise Invalid(_l("The field opened_on cannot be in the future."), fields={"opened_on": "in the future"})
    if opened_on.year < 1990:
        raise Invalid(_l("The field opened_on is too far in the past."), fields={"opened_on": "before 1990"})
    return opened_on


def _opening(opened_on: date, now: datetime) -> datetime:
    """When a shelter's capacity history starts: the midnight (UTC) of the day it opened, or the moment it is
    registered when that is today (its first night is tonight's)."""
    return now if opened_on == now.date() else datetime.combine(opened_on, time(), UTC)


def _move_opening(session: Session, shelter: Shelter, opened_on: date, now: datetime) -> None:
    """A corrected opening day: refused when a stay began before it; the capacity history starts on it."""
    first_admission = session.scalar(select(func.min(Stay.admitted_at)).where(Stay.shelter_id == shelter.id))
    if first_admission is not None and first_admission.date() < opened_on:
        raise Invalid(_l("A stay began on %(day)s, before opened_on.", day=first_admission.date().isoformat()),
                      fields={"opened_on": "after a stay began"})
    first = session.scalar(select(CapacityChange).where(CapacityChange.shelter_id == shelter.id)
                           .order_by(CapacityChange.effective_at, CapacityChange.id).limit(1))
    if first is not None:
        later = session.scalar(select(func.min(CapacityChange.effective_at)).where(
            CapacityChange.shelter_id == shelter.id, CapacityChange.id != first.id))
        start = _opening(opened_on, now)
        if later is not None and start >= later:
            raise Invalid(_l("The field opened_on is after a recorded capacity change."),
                          fields={"opened_on": "after a capacity change"})
        first.effective_at = start


@dataclass(frozen=True)
class ShelterUpdate:
    shelter: Shelter
    changed: tuple[str, ...]
    overflow: int  # beds occupied beyond the new usable capacity, reported, never hidden


def update_shelter(
    session: Session,
    actor: User | None,
    now: datetime,
    shelter: Shelter,
    expected_version: int,
    changes: Mapping[str, Any],
    *,
    accept_overflow: bool = False,
) -> ShelterUpdate:
    """Change a shelter's fields, refusing a stale edit.

    Raises StaleVersion when `expected_version` is not the stored one (someone
    saved in between), Invalid for bad values, and Conflict
    (`capacity_below_occupancy`) when usable beds would fall below the beds
    taken, unless `accept_overflow` says the caller has seen the overflow.
    """
    locked = _lock_shelter(session, shelter)
    if expected_version != locked.version:
        raise StaleVersion(
            _l("Shelter %(code)s was changed by someone else (version %(current)s, yours %(yours)s); "
               "reload and try again.", code=locked.code, current=locked.version, yours=expected_version),
            fields={"version": "stale"},
            details={"current_version": locked.version},
        )
    clean = _clean_shelter_values(session, changes)
    if "opened_on" in clean and clean["opened_on"] != locked.opened_on:
        _move_opening(session, locked, _check_opened_on(clean["opened_on"], now), now)
    capacity = clean.get("capacity", locked.capacity)
    out_of_service = clean.get("out_of_service", locked.out_of_service)
    if out_of_service > capacity:
        raise Invalid(_l("The field out_of_service cannot exceed capacity."),
                      fields={"out_of_service": "above capacity"})
    occ = figures.occupancy(session, now, [locked.id]).get(locked.id, figures.Occupancy())
    overflow = max(0, occ.occupied - (capacity - out_of_service))
    capacity_changed = (capacity, out_of_service) != (locked.capacity, locked.out_of_service)
    if capacity_changed and overflow and not accept_overflow:
        raise Conflict(
            _l("%(occupied)s beds are taken but only %(usable)s would be usable; confirm the overflow to save.",
               occupied=occ.occupied, usable=capacity - out_of_service),
            code="capacity_below_occupancy",
            fields={"capacity": "below occupancy"},
            details={"occupied": occ.occupied, "usable": capacity - out_of_service, "overflow": overflow},
        )
    changed = tuple(k for k, v in clean.items() if getattr(locked, k) != v)
    for key in changed:
        setattr(locked, key, clean[key])
    if capacity_changed:
        session.add(CapacityChange(shelter_id=locked.id, effective_at=now, capacity=capacity,
                                   out_of_service=out_of_service, changed_by_id=actor.id if actor else None))
    session.flush()
    audit.record(session, actor=actor, action="shelter.update", object_type="shelter", object_id=locked.code,
                 now=now, detail={"fields": sorted(changed), "overflow": overflow})
    return ShelterUpdate(locked, changed, overflow if capacity_changed else 0)


def _full(shelter: Shelter, occ: figures.Occupancy, free: int, beds: int) -> ShelterFull:
    message = (_l("No free bed: %(taken)s of %(usable)s taken.", taken=occ.occupied + occ.reserved,
                  usable=shelter.usable) if free <= 0
               else _l("Not enough free beds: %(free)s free, %(needed)s needed.", free=free, needed=beds))
    return ShelterFull(message, fields={"shelter": "full"}, details={
        "usable": shelter.usable, "occupied": occ.occupied, "reserved": occ.reserved, "needed": beds})


def _not_open(shelter: Shelter) -> ShelterNotOpen:
    message = (_l("Shelter %(code)s is suspended.", code=shelter.code) if shelter.status == ShelterStatus.SUSPENDED
               else _l("Shelter %(code)s is closed.", code=shelter.code))
    return ShelterNotOpen(message, fields={"shelter": shelter.status})


def _lock_shelter(session: Session, shelter: Shelter) -> Shelter:
    """Re-read the shelter row under a write lock (FOR UPDATE on PostgreSQL; SQLite's
    BEGIN IMMEDIATE already holds the database lock), so its free beds cannot change under us."""
    return session.scalars(
        select(Shelter).where(Shelter.id == shelter.id).with_for_update().execution_options(populate_existing=True)
    ).one()


# --- cases -------------------------------------------------------------------------------------------------


def _new_case_code(session: Session, now: datetime) -> str:
    for _ in range(20):
        code = f"VOT-{now:%y}-" + "".join(secrets.choice(CASE_CODE_ALPHABET) for _ in range(6))
        if not session.scalar(select(Case.id).where(Case.code == code)):
            return code
    raise Conflict(_l("Could not allocate a case code; try again."), code="busy")


def create_case(session: Session, actor: User | None, now: datetime, values: Mapping[str, Any]) -> Case:
    """Record a newly identified victim by a pseudonymous profile; assigns the case code.

    Exactly one of `age` and `birth_year` must be given. Raises Invalid naming the field.
    """
    identified_on = values.get("identified_on") or now.date()
    if not isinstance(identified_on, date) or isinstance(identified_on, datetime):
        raise Invalid(_l("The field identified_on must be a date."), fields={"identified_on": "date"})
    if identified_on > now.date():
        raise Invalid(_l("The field identified_on cannot be in the future."), fields={"identified_on": "in the future"})
    if identified_on.year < 1990:
        raise Invalid(_l("The field identified_on is too far in the past."), fields={"identified_on": "before 1990"})
    age, birth_year = values.get("age"), values.get("birth_year")
    if (age is None) == (birth_year is None):
        raise Invalid(_l("Give either age or birth_year."),
                      fields={"age": "age or birth_year", "birth_year": "age or birth_year"})
    if age is not None:
        birth_year = identified_on.year - _check_int("age", age, 0, 120)
    else:
        _check_int("birth_year", birth_year, identified_on.year - 120, identified_on.year)
    nationality = values.get("nationality")
    if not isinstance(nationality, str) or not COUNTRY_CODE.match(nationality):
        raise Invalid(_l("Nationality must be an ISO 3166 alpha-2 code such as AL or MD."),
                      fields={"nationality": "invalid"})
    case = Case(
        code=_new_case_code(session, now),
        sex=_check_choice("sex", values.get("sex"), tuple(Sex)),
        birth_year=birth_year,
        nationality=nationality,
        languages=_check_list("languages", values.get("languages", []), pattern=LANGUAGE_CODE),
        exploitation=_check_list("exploitation", values.get("exploitation", []),
                                 ("sexual", "labour", "begging", "criminal_activity", "forced_marriage", "other")),
        needs=_check_list("needs", values.get("needs", []), SERVICES),
        children=_check_int("children", values.get("children", 0), 0, MAX_CHILDREN),
        risk=_check_choice("risk", values.get("risk", Risk.MEDIUM), tuple(Risk)),
        trafficker_regions=[r.strip() for r in _check_list("trafficker_regions", values.get("trafficker_regions", []))
                            if r.strip()],
        region=_check_text("region", values.get("region"), 64, required=False),
        identifying_details=_check_text("identifying_details", values.get("identifying_details"),
                                        MAX_IDENTIFYING_DETAILS, required=False),
        identified_on=identified_on,
        identified_by_org_id=actor.organisation_id if actor else None,
        identifying_unit=_check_text("identifying_unit", values.get("identifying_unit"), 80, required=False),
        identification_method=_check_choice("identification_method", values.get("identification_method"),
                                            tuple(IdentificationMethod)) if values.get("identification_method")
        else None,
        created_by_id=actor.id if actor else None,
        status=CaseStatus.IDENTIFIED,
    )
    session.add(case)
    session.flush()
    audit.record(session, actor=actor, action="case.create", object_type="case", object_id=case.code, now=now)
    return case


def record_case_read(session: Session, actor: User, now: datetime, case: Case) -> None:
    """Every read of a case's profile is audited."""
    audit.record(session, actor=actor, action="case.read", object_type="case", object_id=case.code, now=now)


def record_location_read(session: Session, actor: User, now: datetime, shelter: Shelter,
                         **detail: Any) -> None:
    """Every showing of where a shelter is (its LOCATION_FIELDS) is audited."""
    audit.record(session, actor=actor, action="shelter.location_read", object_type="shelter",
                 object_id=shelter.code, now=now, detail=detail or None)


def record_residents_read(session: Session, actor: User, now: datetime, shelter: Shelter,
                          stays: Sequence[Stay]) -> None:
    """Every showing of a shelter's residents is audited, with the case codes shown."""
    audit.record(session, actor=actor, action="shelter.residents_read", object_type="shelter",
                 object_id=shelter.code, now=now, detail={"cases": [stay.case.code for stay in stays]})


def record_identifying_read(session: Session, actor: User, now: datetime, case: Case) -> None:
    """Every showing of a case's identifying details is audited too (the details themselves never are)."""
    audit.record(session, actor=actor, action="case.identifying_read", object_type="case", object_id=case.code,
                 now=now)


# --- stays -------------------------------------------------------------------------------------------------


# Called after every admission with (session, actor, now, stay, reservation consumed or None): a package
# that holds beds for cases (placement) frees what a direct admission made pointless. shelters imports none.
ADMISSION_LISTENERS: list[Callable[[Session, User | None, datetime, Stay, Reservation | None], None]] = []


def admit_case(
    session: Session,
    actor: User | None,
    now: datetime,
    shelter: Shelter,
    case: Case,
    admitted_at: datetime | None = None,
    *,
    reservation: Reservation | None = None,
) -> Stay:
    """Open a stay for `case` in `shelter`, taking 1 + its accompanying children beds.

    A past `admitted_at` is allowed (the records catch up), a future one is not, nor one before the case was
    identified or the shelter opened. `reservation`, when given, is a live hold at this shelter that the
    admission consumes. Raises Invalid (those times), ShelterNotOpen, AlreadyDone (the case
    has an open stay) and ShelterFull, checked under the shelter's write lock so
    two admissions can never both take the last bed.
    """
    admitted_at = admitted_at or now
    if admitted_at > now:
        raise Invalid(_l("The field admitted_at cannot be in the future."), fields={"admitted_at": "in the future"})
    if admitted_at.astimezone(UTC).date() < case.identified_on:
        raise Invalid(_l("The field admitted_at is before the case was identified (%(day)s).",
                         day=case.identified_on.isoformat()), fields={"admitted_at": "before identification"})
    if admitted_at.astimezone(UTC).date() < shelter.opened_on:
        raise Invalid(_l("The field admitted_at is before the shelter opened (%(day)s).",
                         day=shelter.opened_on.isoformat()),
                      fields={"admitted_at": "before the shelter opened"})
    locked = _lock_shelter(session, shelter)
    if locked.status != ShelterStatus.OPEN:
        raise _not_open(locked)
    current = open_stay(session, case)
    if current is not None:
        raise AlreadyDone(_l("Case %(code)s is already staying in a shelter.", code=case.code),
                          code="case_already_placed",
                          fields={"case_code": "has an open stay"})
    beds = 1 + case.children
    occ = figures.occupancy(session, now, [locked.id]).get(locked.id, figures.Occupancy())
    held_for_us = 0
    if reservation is not None:
        if reservation.shelter_id != locked.id or reservation.released_at is not None or reservation.held_until <= now:
            raise Conflict(_l("The reservation is not live at this shelter."), code="reservation_not_live")
        held_for_us = reservation.beds
    free = locked.usable - occ.occupied - (occ.reserved - held_for_us)
    if free < beds:
        raise _full(locked, occ, free, beds)
    if reservation is not None:
        reservation.released_at = now
        reservation.release_reason = "admitted"
    stay = Stay(case_id=case.id, shelter_id=locked.id, beds=beds, admitted_at=admitted_at,
                admitted_by_id=actor.id if actor else None)
    session.add(stay)
    case.status = CaseStatus.PLACED
    try:
        session.flush()
    except IntegrityError as exc:  # the one-open-stay index caught a concurrent admission
        raise AlreadyDone(_l("Case %(code)s is already staying in a shelter.", code=case.code),
                          code="case_already_placed",
                          fields={"case_code": "has an open stay"}) from exc
    audit.record(session, actor=actor, action="stay.admit", object_type="case", object_id=case.code, now=now,
                 detail={"shelter": locked.code, "stay": stay.id, "beds": beds})
    for listener in ADMISSION_LISTENERS:
        listener(session, actor, now, stay, reservation)
    return stay


def discharge_stay(
    session: Session,
    actor: User | None,
    now: datetime,
    stay: Stay,
    reason: str,
    note: str | None = None,
    discharged_at: datetime | None = None,
) -> Stay:
    """Close a stay with a reason from DischargeReason ('other' needs a note).

    Raises Invalid (unknown reason, missing note, future or pre-admission time)
    and AlreadyDone when the stay is closed already.
    """
    if reason not in set(DischargeReason):
        raise Invalid(_l("Reason must be one of %(values)s.", values=", ".join(DischargeReason)),
                      fields={"reason": "unknown"})
    note = _check_text("note", note, 1000, required=reason == DischargeReason.OTHER)
    discharged_at = discharged_at or now
    if discharged_at > now:
        raise Invalid(_l("The field discharged_at cannot be in the future."), fields={"discharged_at": "in the future"})
    _lock_shelter(session, stay.shelter)
    session.refresh(stay)
    if stay.discharged_at is not None:
        raise AlreadyDone(_l("Stay %(stay)s was discharged already.", stay=stay.id), fields={"stay": "discharged"})
    if discharged_at < stay.admitted_at:
        raise Invalid(_l("The field discharged_at is before the admission."),
                      fields={"discharged_at": "before admission"})
    stay.discharged_at = discharged_at
    stay.discharge_reason = reason
    stay.discharge_note = note
    stay.discharged_by_id = actor.id if actor else None
    stay.case.status = CaseStatus.DISCHARGED
    if reason != DischargeReason.TRANSFERRED:
        stay.case.resolution = reason
    session.flush()
    audit.record(session, actor=actor, action="stay.discharge", object_type="case", object_id=stay.case.code,
                 now=now, detail={"shelter": stay.shelter.code, "stay": stay.id, "reason": reason})
    return stay


# --- headcounts --------------------------------------------------------------------------------------------


def confirm_headcount(session: Session, actor: User | None, now: datetime, shelter: Shelter,
                      reported: int) -> Headcount:
    """Record a manager's count of beds taken against the records.

    The headcount is always recorded; only a matching one counts as a
    confirmation (`last_headcount_at`). The caller answers a mismatch with 409
    and both figures.
    """
    _check_int("occupied", reported, 0, MAX_BEDS)
    locked = _lock_shelter(session, shelter)
    recorded = figures.occupancy(session, now, [locked.id]).get(locked.id, figures.Occupancy()).occupied
    headcount = Headcount(shelter_id=locked.id, at=now, reported=reported, recorded=recorded,
                          by_user_id=actor.id if actor else None)
    session.add(headcount)
    if headcount.matches:
        # A Core update: a confirmation is not an edit, so it must not make a
        # manager's open edit form stale by bumping the row version.
        session.execute(update(Shelter).where(Shelter.id == locked.id).values(last_headcount_at=now))
        session.expire(locked, ["last_headcount_at"])
    session.flush()
    audit.record(session, actor=actor, action="shelter.headcount", object_type="shelter", object_id=locked.code,
                 now=now, outcome="ok" if headcount.matches else "mismatch",
                 detail={"reported": reported, "recorded": recorded})
    return headcount


# --- bed holds ---------------------------------------------------------------------------------------------


def hold_beds(session: Session, actor: User | None, now: datetime, shelter: Shelter, beds: int,
              held_until: datetime, case: Case | None = None) -> Reservation:
    """Hold `beds` free beds at `shelter` until `held_until` (for `case`, when given), atomically.

    Checked under the shelter's write lock, like an admission, so N concurrent
    holds for the last bed give exactly one hold and N-1 ShelterFull.
    Raises ShelterNotOpen and ShelterFull.
    """
    locked = _lock_shelter(session, shelter)
    if locked.status != ShelterStatus.OPEN:
        raise _not_open(locked)
    occ = figures.occupancy(session, now, [locked.id]).get(locked.id, figures.Occupancy())
    free = figures.available_beds(locked.usable, occ)
    if free < beds:
        raise _full(locked, occ, free, beds)
    hold = Reservation(shelter_id=locked.id, case_id=case.id if case else None, beds=beds, created_at=now,
                       held_until=held_until)
    session.add(hold)
    session.flush()
    audit.record(session, actor=actor, action="shelter.hold", object_type="shelter", object_id=locked.code,
                 now=now, detail={"reservation": hold.id, "beds": beds, "until": held_until.isoformat()})
    return hold


def live_holds(session: Session, case: Case, now: datetime) -> list[Reservation]:
    """The bed holds for `case` that are live now (not released, not run out)."""
    return list(session.scalars(select(Reservation).where(
        Reservation.case_id == case.id, Reservation.released_at.is_(None), Reservation.held_until > now)))


def release_hold(session: Session, now: datetime, hold: Reservation, reason: str) -> None:
    """Free the beds of a hold (idempotent: a released hold stays as it was)."""
    if hold.released_at is None:
        hold.released_at = now
        hold.release_reason = reason
        session.flush()

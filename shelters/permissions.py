"""Who may see and do what with a shelter, a case or a stay: DESIGN.md's table, record by record.

Each predicate answers for one record. Loaders turn "may not see it" into the very NotFound a record that does
not exist gets, so a caller cannot even learn that the record exists.

Location (docs/security.md) is a shelter's municipality, coordinates, address and telephone, and which shelter
holds a case: the secretariat and the shelter's own managers learn it, nobody else here (an officer learns the
shelter of their own placement request through placement.permissions, while it holds a bed there).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Role, User
from shelters import services
from shelters.models import LOCATION_FIELDS, Case, Reservation, Shelter, Stay


def can_list_shelters(user: User) -> bool:
    """Everyone sees capacity and free beds; partners only in aggregate."""
    return user.role != Role.PARTNER


def can_view_location(user: User, shelter: Shelter) -> bool:
    """A shelter's municipality, coordinates, address and telephone: the secretariat and its own managers."""
    return user.role == Role.SECRETARIAT or user.manages(shelter.id)


def can_view_residents(user: User, shelter: Shelter) -> bool:
    return user.role == Role.SECRETARIAT or user.manages(shelter.id)


def can_create_shelter(user: User) -> bool:
    return user.role in (Role.ADMIN, Role.SECRETARIAT)


def can_import(user: User) -> bool:
    """Bulk import of shelters and residents (locations and profiles of every shelter): the secretariat."""
    return user.role == Role.SECRETARIAT


def can_edit_register(user: User) -> bool:
    """The register's edit page (every field but those `editable_fields` withholds): the staff."""
    return user.role in (Role.ADMIN, Role.SECRETARIAT)


def creatable_fields(user: User) -> frozenset[str]:
    """The fields this user may give a new shelter. An administrator registering one may type its location once
    (they know what they type) but never reads it back nor changes it afterwards."""
    return frozenset(services.SHELTER_FIELDS) if can_create_shelter(user) else frozenset()


def editable_fields(user: User, shelter: Shelter) -> frozenset[str]:
    """The fields this user may change on this shelter (empty: none)."""
    if user.role == Role.SECRETARIAT:
        return frozenset(services.SHELTER_FIELDS)
    if user.role == Role.ADMIN:
        return frozenset(services.SHELTER_FIELDS) - frozenset(LOCATION_FIELDS)
    if user.manages(shelter.id):
        return services.CAPACITY_FIELDS
    return frozenset()


def can_admit(user: User, shelter: Shelter) -> bool:
    """Whether the user may admit anyone here at all (which case: `load_case_to_admit`)."""
    return user.role == Role.SECRETARIAT or user.manages(shelter.id)


def can_confirm_headcount(user: User, shelter: Shelter) -> bool:
    return user.manages(shelter.id)


def can_discharge(user: User, stay: Stay) -> bool:
    return user.role == Role.SECRETARIAT or user.manages(stay.shelter_id)


def can_create_case(user: User) -> bool:
    return user.role in (Role.POLICE, Role.SECRETARIAT)


@dataclass(frozen=True)
class Whereabouts:
    """Where a case is now: the shelter of its open stay, and the shelters holding a bed for it."""

    stay: Stay | None
    holds: tuple[Reservation, ...]

    @property
    def holding_shelter_ids(self) -> frozenset[int]:
        return frozenset(hold.shelter_id for hold in self.holds)


def whereabouts(session: Session, case: Case, now: datetime) -> Whereabouts:
    return Whereabouts(services.open_stay(session, case), tuple(services.live_holds(session, case, now)))


def can_view_case(user: User, case: Case, where: Whereabouts) -> bool:
    """The secretariat; the officer who identified the victim; the manager of the shelter the case stays in now,
    or of a shelter holding a bed for it. A manager whose shelter the case left, or whose hold was rejected,
    cancelled or ran out, reads it no more."""
    if user.role == Role.SECRETARIAT:
        return True
    if user.role == Role.POLICE:
        return case.created_by_id == user.id
    if user.role != Role.SHELTER_MANAGER:
        return False
    return (where.stay is not None and user.manages(where.stay.shelter_id)) or any(
        user.manages(shelter_id) for shelter_id in where.holding_shelter_ids)


def listed_cases(session: Session, user: User, *, after: str | None = None, status: str | None = None,
                 limit: int = 50) -> list[Case]:
    """The cases `user` may list, by code: every case (secretariat), the cases they identified (police); nobody
    else lists cases (a manager reads their shelters' residents). Never where a case stays."""
    if user.role not in (Role.SECRETARIAT, Role.POLICE):
        return []
    query = select(Case).order_by(Case.code).limit(limit)
    if user.role == Role.POLICE:
        query = query.where(Case.created_by_id == user.id)
    if after is not None:
        query = query.where(Case.code > after)
    if status is not None:
        query = query.where(Case.status == status)
    return list(session.scalars(query))


def can_see_stay(user: User, stay: Stay) -> bool:
    """Whether the user may learn that the case stays at the stay's shelter (its code, name, stay id, dates):
    the secretariat and that shelter's managers. An officer reads "in protective accommodation"."""
    return user.role == Role.SECRETARIAT or user.manages(stay.shelter_id)


def can_view_identifying_details(user: User, case: Case) -> bool:
    """Only the secretariat, on the case's own page or API answer; the officer who entered them does not."""
    return user.role == Role.SECRETARIAT


def load_case(session: Session, user: User, code: str, now: datetime) -> tuple[Case, Whereabouts]:
    """The case and where it is, or the NotFound of an unknown code when `user` may not see it."""
    case = services.get_case(session, code)
    where = whereabouts(session, case, now)
    if not can_view_case(user, case, where):
        raise services.unknown_case(code)
    return case, where


def load_case_to_admit(session: Session, user: User, shelter: Shelter, code: str, now: datetime
                       ) -> tuple[Case, Reservation | None]:
    """The case `user` may admit straight into `shelter`, with the live hold there the admission consumes.

    The secretariat may admit any case. A manager only a case with a live bed hold at this shelter (a placement
    request it accepted or that holds a bed there): anything else, an existing case included, is the NotFound of
    an unknown code, so a manager can neither take a case over nor learn that a code exists.
    """
    case = services.get_case(session, code)
    hold = next((h for h in services.live_holds(session, case, now) if h.shelter_id == shelter.id), None)
    if user.role == Role.SECRETARIAT:
        return case, hold
    if hold is None or not user.manages(shelter.id):
        raise services.unknown_case(code)
    return case, hold


def load_residents_shelter(session: Session, user: User, code: str) -> Shelter:
    """The shelter whose residents `user` asks for, or NotFound when they may not see them."""
    shelter = services.get_shelter(session, code)
    if not can_view_residents(user, shelter):
        raise services.unknown_shelter(code)
    return shelter


def load_stay(session: Session, user: User, stay_id: int) -> Stay:
    stay = services.get_stay(session, stay_id)
    if not can_discharge(user, stay):
        raise services.unknown_stay(stay_id)
    return stay

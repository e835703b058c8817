"""Who may see and do what with a shelter, a case or a stay: DESIGN.md's table, record by record.

Each predicate answers for one record. Loaders turn "may not see it" into
NotFound, so a caller cannot even learn that the record exists.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from accounts.models import Role, User
from errors import NotFound
from shelters import services
from shelters.models import Case, Shelter, Stay


def can_list_shelters(user: User) -> bool:
    """Everyone sees capacity and free beds; partners only in aggregate."""
    return user.role != Role.PARTNER


def can_view_address(user: User, shelter: Shelter) -> bool:
    """Police learn an address only through a placement the shelter accepted (placement module)."""
    return user.role in (Role.ADMIN, Role.SECRETARIAT) or user.manages(shelter.id)


def can_view_residents(user: User, shelter: Shelter) -> bool:
    return user.role == Role.SECRETARIAT or user.manages(shelter.id)


def can_create_shelter(user: User) -> bool:
    return user.role in (Role.ADMIN, Role.SECRETARIAT)


def editable_fields(user: User, shelter: Shelter) -> frozenset[str]:
    """The fields this user may change on this shelter (empty: none)."""
    if user.role in (Role.ADMIN, Role.SECRETARIAT):
        return frozenset(services.SHELTER_FIELDS)
    if user.manages(shelter.id):
        return services.CAPACITY_FIELDS
    return frozenset()


def can_admit(user: User, shelter: Shelter) -> bool:
    return user.role == Role.SECRETARIAT or user.manages(shelter.id)


def can_confirm_headcount(user: User, shelter: Shelter) -> bool:
    return user.manages(shelter.id)


def can_discharge(user: User, stay: Stay) -> bool:
    return user.role == Role.SECRETARIAT or user.manages(stay.shelter_id)


def can_create_case(user: User) -> bool:
    return user.role in (Role.POLICE, Role.SECRETARIAT)


def can_view_case(user: User, case: Case, current_stay: Stay | None) -> bool:
    """Secretariat; the officer who identified the victim; the manager of the shelter the case is in now."""
    if user.role == Role.SECRETARIAT:
        return True
    if user.role == Role.POLICE:
        return case.created_by_id == user.id
    return current_stay is not None and user.manages(current_stay.shelter_id)


def can_view_identifying_details(user: User, case: Case) -> bool:
    """Only the secretariat, on the case's own page or API answer; the officer who entered them does not."""
    return user.role == Role.SECRETARIAT


def load_case(session: Session, user: User, code: str) -> Case:
    """The case, or NotFound when it does not exist or `user` may not see it."""
    case = services.get_case(session, code)
    if not can_view_case(user, case, services.open_stay(session, case)):
        raise NotFound(f"no case {code}", fields={"case_code": "unknown"})
    return case


def load_residents_shelter(session: Session, user: User, code: str) -> Shelter:
    """The shelter whose residents `user` asks for, or NotFound when they may not see them."""
    shelter = services.get_shelter(session, code)
    if not can_view_residents(user, shelter):
        raise NotFound(f"no shelter {code}", fields={"shelter": "unknown"})
    return shelter


def load_stay(session: Session, user: User, stay_id: int) -> Stay:
    stay = services.get_stay(session, stay_id)
    if not can_discharge(user, stay):
        raise NotFound(f"no stay {stay_id}", fields={"stay": "unknown"})
    return stay

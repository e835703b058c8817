"""Who sees which report: the secretariat sees everything; a shelter manager sees the statistics of the
shelters they run and nothing else; partners see suppressed aggregates only."""

from __future__ import annotations

from accounts.models import Role, User
from shelters import permissions as shelter_permissions
from shelters.models import Shelter

OVERVIEW_ROLES = (Role.SECRETARIAT,)
STATS_ROLES = (Role.SHELTER_MANAGER,)
FIGURES_ROLES = (Role.SECRETARIAT, Role.PARTNER)


def can_see_overview(user: User) -> bool:
    return user.role in OVERVIEW_ROLES


def can_see_stats(user: User) -> bool:
    return user.role in STATS_ROLES


def can_see_figures(user: User) -> bool:
    return user.role in FIGURES_ROLES


def stats_shelter_ids(user: User) -> list[int]:
    """The shelters whose statistics `user` may see on the statistics page and its export: their own."""
    return sorted(s.id for s in user.managed_shelters) if user.role == Role.SHELTER_MANAGER else []


def can_see_history(user: User, shelter: Shelter) -> bool:
    """A shelter's occupancy history and its stays: whoever may see its residents (the secretariat and the
    shelter's own manager); police see free beds only, never residents."""
    return shelter_permissions.can_view_residents(user, shelter)

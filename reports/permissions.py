"""Who sees which report: the secretariat sees everything; partners see suppressed aggregates only."""

from __future__ import annotations

from accounts.models import Role, User

OVERVIEW_ROLES = (Role.SECRETARIAT,)
FIGURES_ROLES = (Role.SECRETARIAT, Role.PARTNER)


def can_see_overview(user: User) -> bool:
    return user.role in OVERVIEW_ROLES


def can_see_figures(user: User) -> bool:
    return user.role in FIGURES_ROLES

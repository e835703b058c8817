"""Role gates: which roles may use a route at all.

Record-level questions ("may this manager see this shelter's residents?") are
answered by the predicates in each domain's permissions module; this module
answers only the first question, for pages and API alike.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, g
from flask_login import current_user

from accounts.models import Role, User
from errors import NotAllowed

F = TypeVar("F", bound=Callable[..., Any])

ALL_ROLES = frozenset(Role)
STAFF = frozenset({Role.ADMIN, Role.SECRETARIAT})


def current_actor() -> User | None:
    """The user behind this request: the API's bearer token, or the page session."""
    user = g.get("api_user")
    if user is not None:
        return user
    return current_user if current_user.is_authenticated else None


def roles_required(*roles: str) -> Callable[[F], F]:
    """Refuse with 403 anyone whose role is not one of `roles` (401 when nobody is signed in)."""
    allowed = frozenset(roles)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_actor()
            if user is None:
                abort(401)
            if user.role not in allowed:
                if g.get("api_user") is not None:  # an integrator reads which role would do
                    needed = sorted(str(role) for role in allowed)
                    raise NotAllowed(f"this needs the role {' or '.join(needed)}; your token's role is {user.role}",
                                     code="role_required", details={"roles": needed})
                abort(403)
            return view(*args, **kwargs)

        wrapper.required_roles = allowed  # type: ignore[attr-defined]  # the OpenAPI document reads it
        return wrapper  # type: ignore[return-value]

    return decorator


def can_manage_accounts(user: User) -> bool:
    return user.role == Role.ADMIN


def can_read_accounts(user: User) -> bool:
    return user.role in STAFF


def can_read_audit(user: User) -> bool:
    return user.role in STAFF


def can_read_case_events(user: User) -> bool:
    """Audit events about cases, shelters, placements, alerts and reports (who read or admitted which case)
    are for the secretariat; the admin reads account events only (accounts.audit.account_events)."""
    return user.role == Role.SECRETARIAT

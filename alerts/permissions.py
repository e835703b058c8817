"""Who may see and act on an alert, and whose utilisation figures: DESIGN.md's table, record by record.

Secretariat: every alert, acknowledge, resolve, comment. A shelter manager:
the alerts about their own shelters (read, comment). Nobody else. Loaders turn
"may not see it" into NotFound, so a caller cannot learn that it exists.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from accounts.models import Role, User
from alerts import services
from alerts.models import Alert
from errors import NotFound
from i18n import lazy_gettext as _l


def can_list_alerts(user: User) -> bool:
    return user.role in (Role.SECRETARIAT, Role.SHELTER_MANAGER)


def sees_all_alerts(user: User) -> bool:
    return user.role == Role.SECRETARIAT


def can_view_alert(user: User, alert: Alert) -> bool:
    if user.role == Role.SECRETARIAT:
        return True
    return alert.shelter_id is not None and user.manages(alert.shelter_id)


def can_review_alert(user: User, alert: Alert) -> bool:
    """Acknowledge and resolve: the secretariat's work."""
    return user.role == Role.SECRETARIAT


def can_comment_alert(user: User, alert: Alert) -> bool:
    return can_view_alert(user, alert)


def load_alert(session: Session, user: User, alert_id: int) -> Alert:
    """The alert, or NotFound when it does not exist or `user` may not see it."""
    alert = services.get_alert(session, alert_id)
    if not can_view_alert(user, alert):
        raise NotFound(_l("No alert %(id)s.", id=alert_id), fields={"alert": "unknown"})
    return alert


def utilisation_scope(user: User) -> str | None:
    """'all' (every shelter by code), 'own' (managed shelters), 'regions' (aggregates only) or None (refused)."""
    if user.role == Role.SECRETARIAT:
        return "all"
    if user.role == Role.SHELTER_MANAGER:
        return "own"
    if user.role == Role.PARTNER:
        return "regions"
    return None

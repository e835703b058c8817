"""The demo's evidence of why HAH and ISF stand empty (registered in shelters.demo.EXTENSIONS).

Each case that declined shelter gets the placement request it declined, ranked by the engine on the day after
its identification (so its stored ranking excludes HAH, minors only, and leaves ISF, far in Mitrovicë, low or
out for recorded reasons) and declined with a reason: fear of the traffickers, wanting to go home, the shelter
being too far. One open action answers the empty shelters. ILLUSTRATIVE, as the rest of the demo.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from accounts.models import User
from errors import Conflict, ShelterFull
from placement import services as placement
from placement.models import PlacementEvent, PlacementRequest
from reports import actions
from reports.models import Action, action_alerts, action_shelters
from shelters import demo
from shelters.models import Case, CaseStatus, Shelter

# The victims' reasons, in turn (ILLUSTRATIVE; the cable names fear, going home and distance).
DECLINE_REASONS = ["fear_of_traffickers", "wants_to_return_home", "shelter_too_far", "fear_of_traffickers",
                   "wants_to_return_home", "distrust_of_authorities", "shelter_too_far", "family_or_children"]


def add_evidence(session: Session, now: datetime, users: dict[str, User], shelters: dict[str, Shelter]) -> None:
    """The declined requests with their reasons, and one open action for HAH and ISF."""
    settings = placement.Settings.from_config(current_app.config)
    declined = session.scalars(select(Case).where(Case.status == CaseStatus.DECLINED_SHELTER)
                               .order_by(Case.identified_on, Case.id)).all()
    for n, case in enumerate(declined):
        asked = datetime.combine(case.identified_on + timedelta(days=1), time(10), now.tzinfo)
        asked = min(asked, now - timedelta(hours=2))
        request = placement.create_request(session, users["police"], asked, case, settings)
        reason = DECLINE_REASONS[n % len(DECLINE_REASONS)]
        # Too far: a bed was held at ISF, in Mitrovicë, before the victim said no; afraid: at PVPT.
        tried = {"shelter_too_far": "ISF", "fear_of_traffickers": "PVPT"}.get(reason)
        if tried in {s["shelter"] for s in request.suggestions}:
            try:
                with session.begin_nested():
                    placement.reserve(session, users["police"], asked, request, tried, settings)
            except (Conflict, ShelterFull):
                pass  # full or no longer fitting on that day: declined without a hold
        placement.decline(session, users["police"], asked + timedelta(hours=1), request, reason)
    actions.create_action(session, users["secretariat"], now - timedelta(days=20), {
        "title": "Brief the airport border police and the NGOs on HAH and ISF; review ISF's location",
        "owner": users["secretariat"].organisation.code, "due_on": (now + timedelta(days=60)).date(), "shelters": ["HAH", "ISF"],
        "status": "in_progress",
    })


def remove_evidence(session: Session) -> None:
    """Delete what `add_evidence` and any placement work on the demo wrote (demo resets only)."""
    session.execute(action_alerts.delete())
    session.execute(action_shelters.delete())
    session.execute(delete(Action))
    session.execute(delete(PlacementEvent))
    session.execute(delete(PlacementRequest))


if add_evidence not in demo.EXTENSIONS:
    demo.EXTENSIONS.append(add_evidence)
if remove_evidence not in demo.RESETTERS:
    demo.RESETTERS.append(remove_evidence)

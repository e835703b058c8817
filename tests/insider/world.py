"""The little country the insider tests attack: two shelters with a known location, each with its manager, two
officers, the secretariat and an administrator. Import the `world` fixture where it is used.

Shelter A is in Prishtinë, B in Prizren; both take women and have room for families. Their locations are
distinctive strings, so a test can search a whole answer for any trace of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest

from accounts.models import User
from shelters.models import Shelter
from tests.fixtures.factories import Factory

LOCATION_A = {"municipality": "Fushë Kosovë", "lat": 42.6361, "lon": 21.0937, "address": "Rruga Sekrete 7",
              "telephone": "+383 44 111 222"}
LOCATION_B = {"municipality": "Suharekë", "lat": 42.3597, "lon": 20.8256, "address": "Rruga e Fshehtë 3",
              "telephone": "+383 44 333 444"}


@dataclass
class World:
    a: Shelter
    b: Shelter
    manager_a: User
    manager_b: User
    officer: User
    other_officer: User
    secretariat: User
    admin: User
    opened_on: date

    def traces(self, shelter: Shelter) -> list[str]:
        """What would give away where `shelter` is, as it could appear in an answer."""
        location = LOCATION_A if shelter.code == self.a.code else LOCATION_B
        return [location["municipality"], location["address"], location["telephone"], str(location["lat"]),
                str(location["lon"])]


@pytest.fixture
def world(make: Factory, now: datetime) -> World:
    opened_on = (now - timedelta(days=60)).date()
    family = {"capacity": 6, "children_capacity": 3, "sexes": ["female"], "ages": "all",
              "services": ["medical", "psychological", "legal"], "languages": ["sq", "ro", "en"],
              "security": "high", "opened_on": opened_on}
    a = make.shelter("SHA", name="Shelter A", region="Prishtinë", **family, **LOCATION_A)
    b = make.shelter("SHB", name="Shelter B", region="Prizren", **family, **LOCATION_B)
    return World(a=a, b=b, manager_a=make.manager(a, username="manager-a"),
                 manager_b=make.manager(b, username="manager-b"), officer=make.user("police", username="officer"),
                 other_officer=make.user("police", username="other-officer"),
                 secretariat=make.user("secretariat", username="secretariat"),
                 admin=make.user("admin", username="admin"), opened_on=opened_on)

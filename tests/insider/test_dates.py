"""Dates that cannot be true are refused, 422 naming the field: an admission before the case was identified,
before the shelter opened, or in the future; a discharge before its admission; a shelter opened in the future
or after a stay began. A hurried or hostile entry must not write false history into what the secretariat
analyses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from extensions import db
from tests.insider.world import world  # noqa: F401 - a fixture


def refused(response, field: str) -> None:  # noqa: ANN001
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("when", ["before identification", "before opening", "in the future"])
def test_an_admission_that_cannot_be_true_is_422(api_as, make, world, now, when):  # noqa: F811
    case = make.case(created_by=world.officer, identified_on=(now - timedelta(days=10)).date())
    admitted_at = {"before identification": now - timedelta(days=11),
                   "before opening": now - timedelta(days=61),  # the shelters opened 60 days ago
                   "in the future": now + timedelta(hours=1)}[when]
    if when == "before opening":
        case = make.case(created_by=world.officer, identified_on=(now - timedelta(days=90)).date())
    api = api_as(world.secretariat)
    refused(api.post("/shelters/SHA/stays", json={"case_code": case.code, "admitted_at": admitted_at.isoformat()}),
            "admitted_at")
    assert api.get(f"/cases/{case.code}").get_json()["status"] == "identified"  # nothing half-written


def test_a_discharge_before_its_admission_is_422(api_as, make, world, now):  # noqa: F811
    stay = make.stay(world.a, admitted_at=now - timedelta(days=2))
    api = api_as(world.manager_a)
    refused(api.post(f"/stays/{stay.id}/discharge", json={
        "reason": "reintegrated", "discharged_at": (now - timedelta(days=3)).isoformat()}), "discharged_at")
    db.session.refresh(stay)
    assert stay.discharged_at is None


def test_a_shelter_cannot_open_in_the_future_nor_after_a_stay_began(api_as, make, world, now):  # noqa: F811
    api = api_as(world.secretariat)
    tomorrow = (now + timedelta(days=1)).date().isoformat()
    refused(api.post("/shelters", json={"code": "NEW", "name": "New", "region": "Pejë", "capacity": 3,
                                        "opened_on": tomorrow}), "opened_on")
    make.stay(world.a, admitted_at=now - timedelta(days=20))
    refused(api.patch("/shelters/SHA", json={"version": world.a.version,
                                             "opened_on": (now - timedelta(days=10)).date().isoformat()}),
            "opened_on")
    # Earlier is true history: the capacity history starts on the corrected day.
    earlier = (now - timedelta(days=90)).date()
    corrected = api.patch("/shelters/SHA", json={"version": world.a.version, "opened_on": earlier.isoformat()})
    assert corrected.status_code == 200 and corrected.get_json()["opened_on"] == earlier.isoformat()

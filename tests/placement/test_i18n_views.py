"""Placement in the officer's language: the pages follow the language chosen, the API stays in English."""

from __future__ import annotations

import re

import pytest
from flask_babel import refresh

from placement.engine import Candidate, Profile, hard_reasons
from placement.wording import reason_text
from tests.fixtures.pages import body
from tests.test_i18n import untranslated_on

PROFILE = {"sex": "female", "age": "22", "nationality": "md", "languages": "ro", "children": "0",
           "risk": "medium", "region": "Prishtinë", "urgency": "emergency"}


@pytest.fixture
def backend() -> str:
    """What is checked here is wording, the same on either database: SQLite only."""
    return "sqlite"


def test_a_police_officer_in_serbian_gets_serbian_pages_and_an_english_api(client, pages, api_as, make):
    make.shelter("PVPT", name="Qendra PVPT", capacity=5, languages=["sq", "ro"])
    make.shelter("MEN", name="Men only", sexes=["male"])
    officer = make.user("police")
    pages.login(officer.username)
    pages.post("/language", {"language": "sr"}, from_page="/placements/new")

    form = body(client.get("/placements/new"))
    assert '<html lang="sr">' in form
    assert "<h1>Zatraži smeštaj</h1>" in form and "Gde i koliko hitno" in form
    assert ">Hitnost</label>" in form and "Hitno (večeras)" in form
    assert "Pronađi skloništa" in form and "Find shelters" not in form

    response = pages.post("/placements/new", PROFILE, from_page="/placements/new")
    assert response.status_code == 302
    rid = int(re.search(r"/placements/(\d+)$", response.headers["Location"]).group(1))
    html = body(client.get(f"/placements/{rid}"))
    assert "je poslat: odgovara 1 sklonište." in html  # the flash, with Serbian plural
    assert "Otvoren: izaberite sklonište" in html and "Skloništa koja odgovaraju" in html
    for label in ("Udaljenost", "Zajednički jezik", "Dodatne usluge", "Niska iskorišćenost"):
        assert f"<dt>{label}</dt>" in html
    assert "<strong>5</strong> slobodnih kreveta" in html and "Rezerviši krevet ovde" in html
    # The shelter the engine left out, and why, in Serbian.
    assert "Izostavljeno: 1 sklonište, i zašto" in html
    assert '<span class="code">MEN</span>: ne prima žene' in html and "does not take women" not in html
    assert untranslated_on(html, "sr") == []

    # A refusal of the page reads in Serbian too.
    refused = pages.post(f"/placements/{rid}/reserve", {"shelter": "MEN"}, from_page=f"/placements/{rid}")
    assert refused.status_code == 409
    assert "MEN ne odgovara ovom slučaju: ne prima žene" in body(refused)

    # The API answers the same officer in English, whatever the browser asks.
    # (the same browser: its session holds Serbian as well)
    headers = {"Authorization": f"Bearer {api_as(officer).token}", "Accept-Language": "sr"}
    data = client.get(f"/api/v1/placements/{rid}", headers=headers).get_json()
    assert data["status"] == "open"
    assert {"shelter": "MEN", "reasons": ["does not take women"], "codes": ["sex"],
             "values": [{"sex": "female", "minor": False}]} in data["excluded"]
    error = client.post(f"/api/v1/placements/{rid}/reserve", json={"shelter": "MEN"}, headers=headers).get_json()["error"]
    assert error["code"] == "not_eligible"
    assert error["message"] == "MEN does not fit this case: does not take women."


def _candidate(**overrides) -> Candidate:
    values = {"code": "X", "name": "X", "status": "open", "region": "Prizren", "lat": None, "lon": None,
              "sexes": frozenset({"female"}), "ages": "adults", "children_capacity": 0, "services": frozenset(),
              "languages": frozenset(), "security": "standard", "usable": 4, "occupied": 0, "held": 0,
              "utilisation": 0.0}
    return Candidate(**{**values, **overrides})


def _profile(**overrides) -> Profile:
    values = {"sex": "female", "minor": False, "children": 0, "needs": frozenset(), "languages": frozenset(),
              "risk": "low", "trafficker_regions": frozenset(), "location": None}
    return Profile(**{**values, **overrides})


# Every kind of wording the engine gives a reason, each at least once.
REASON_CASES = [
    (_profile(), _candidate(status="suspended")),
    (_profile(), _candidate(status="closed", usable=0)),
    (_profile(children=2), _candidate(usable=2, children_capacity=1)),
    (_profile(), _candidate(usable=2, occupied=1, held=1)),
    (_profile(sex="male"), _candidate()),
    (_profile(sex="male", minor=True), _candidate(ages="minors")),
    (_profile(minor=True), _candidate()),
    (_profile(), _candidate(ages="minors")),
    (_profile(children=1), _candidate()),
    (_profile(needs=frozenset({"psychological", "medical", "legal", "interpretation", "vocational",
                               "disability_access", "childcare"})), _candidate()),
    (_profile(trafficker_regions=frozenset({"Prizren"}), exclude=frozenset({"X"}), risk="high"), _candidate()),
]


def test_every_reason_the_engine_gives_is_read_in_the_page_language(app):
    """The pages word the engine's reasons from their codes and values (placement.wording.reason_text), never
    from the English message: each reads as the engine's English in English and otherwise in Albanian and
    Serbian."""
    reasons = [r for profile, candidate in REASON_CASES for r in hard_reasons(profile, candidate)]
    assert {r.code for r in reasons} >= {"status", "no_free_beds", "sex", "age", "children", "service",
                                         "trafficker_region", "security", "excluded"}
    for language in ("en", "sq", "sr"):
        with app.test_request_context(headers={"Accept-Language": language}):
            refresh()  # the test's app context keeps the locale and catalogues it found first
            for reason in reasons:
                text = reason_text(reason.code, reason.values)
                if language == "en":
                    assert text == reason.message
                else:
                    assert text != reason.message, (language, reason.message)

"""The funnel and the what-if gathered from stored requests in the database, counted by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from flask import current_app

from extensions import db
from placement import services as placement
from reports import evidence
from reports.funnel import OFFICER_CHOICE
from shelters import services as shelter_services

T = datetime(2026, 5, 4, 10, tzinfo=UTC)


@pytest.fixture
def world(app, make):
    """Seven requests made on 4 May 2026 at S (women only, no interpretation) and A (everyone, interpretation)."""
    make._now = T
    s = make.shelter("S", capacity=5, created_at=T - timedelta(days=30))
    a = make.shelter("A", capacity=5, sexes=["female", "male"], services=["medical", "interpretation"],
                     created_at=T - timedelta(days=30))
    officer, manager = make.user("police"), make.manager(s)
    settings = placement.Settings.from_config(current_app.config)

    def request(**case):
        values = {"sex": "female", "identified_on": T.date()} | case
        return placement.create_request(db.session, officer, T, make.case(created_by=officer, **values), settings)

    request(sex="male")  # 1: S excluded, men only
    request(sex="male", needs=["interpretation"])  # 2: S excluded, men and interpretation
    third = request()  # 3: reserved at S, rejected by S
    placement.reserve(db.session, officer, T, third, "S", settings)
    placement.reject(db.session, manager, T, third, "cannot_meet_needs", "no bed for the child")
    fourth = request()  # 4: reserved at S, declined by the victim
    placement.reserve(db.session, officer, T, fourth, "S", settings)
    placement.decline(db.session, officer, T, fourth, "fear_of_traffickers")
    stays = []
    for _ in range(2):  # 5, 6: admitted at S
        req = request()
        placement.reserve(db.session, officer, T, req, "S", settings)
        placement.accept(db.session, manager, T, req, settings)
        stays.append(placement.admit(db.session, manager, T, req))
    shelter_services.discharge_stay(db.session, manager, T + timedelta(days=3), stays[0], "left_voluntarily",
                                    discharged_at=T + timedelta(days=3))
    seventh = request()  # 7: passed over for A
    placement.reserve(db.session, officer, T, seventh, "A", settings)
    db.session.commit()
    return s, settings


def test_the_funnel_from_the_stored_rankings_and_events(world):
    s, _ = world
    period = evidence.Period(date(2026, 5, 1), date(2026, 6, 1))
    funnel = evidence.funnel(db.session, s, period, T + timedelta(days=10))
    assert funnel.steps() == [("made", 7), ("eligible", 5), ("top3", 5), ("chosen", 4), ("accepted", 2),
                              ("admitted", 2), ("stayed", 1)]
    assert [(t.code, dict(t.values), t.requests, t.only_reason) for t in funnel.exclusions] == [
        ("sex", {"sex": "male", "minor": False}, 2, 1),
        ("service", {"service": "interpretation"}, 1, 0),
    ]
    assert dict(funnel.rejected) == {"cannot_meet_needs": 1}  # by code: the note's free text stays out
    assert dict(funnel.declined) == {"fear_of_traffickers": 1}
    assert dict(funnel.left_early) == {"left_voluntarily": 1}
    assert sum(funnel.passed_over.values()) == 1 and funnel.never_placed == 0
    # A period without requests, and one that ends before them.
    assert evidence.funnel(db.session, s, evidence.Period(date(2026, 4, 1), date(2026, 5, 4)), T).made == 0


def test_the_what_if_replays_the_stored_reasons(world):
    s, settings = world
    period = evidence.Period(date(2026, 5, 1), date(2026, 6, 1))
    results = evidence.what_ifs(db.session, s, period, settings)
    assert results["takes_men"].eligible_before == 5
    assert results["takes_men"].more_eligible == 1  # request 1; request 2 also needs interpretation
    assert results["adds_interpretation"].more_eligible == 0
    assert results["all_of_these"].more_eligible == 2
    assert results["all_of_these"].requests == 7


def test_a_period_is_parsed_or_refused_naming_the_field():
    today = date(2026, 6, 30)
    assert evidence.parse_period("2026-01-01", "2026-01-31", today) == evidence.Period(date(2026, 1, 1),
                                                                                       date(2026, 2, 1))
    assert evidence.parse_period(None, None, today).end == date(2026, 7, 1)
    for start, end, name in [("x", None, "from"), (None, "2026-13-01", "to"), ("2026-02-01", "2026-01-01", "to")]:
        with pytest.raises(ValueError, match=name):
            evidence.parse_period(start, end, today)


def test_officer_choice_is_named_when_the_chosen_shelter_scored_no_more():
    assert OFFICER_CHOICE == "officer_choice"


def test_the_page_shows_every_number_in_the_readers_language(world, client, pages, make):
    make.user("secretariat", username="sec-funnel")
    pages.login("sec-funnel")
    page = client.get("/overview/shelters/S/funnel?from=2026-05-01&to=2026-05-31")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "does not take men" in text and "2 of 7 requests" in text
    assert "Fear of the traffickers" in text
    # Rejections tallied by their code, worded in the reader's language; a note's free text stays out.
    assert "Cannot meet the victim&#39;s needs" in text and "no bed for the child" not in text
    pages.post("/language", {"language": "sq"}, from_page="/overview/shelters/S/funnel")
    text = client.get("/overview/shelters/S/funnel?from=2026-05-01&to=2026-05-31").get_data(as_text=True)
    assert "Cannot meet the victim" not in text and "Fear of the traffickers" not in text
    assert client.get("/overview/shelters/S/funnel?from=2026-05-31&to=2026-05-01").status_code == 400
    assert client.get("/overview/shelters/NOPE/funnel").status_code == 404


def test_an_entry_is_found_in_any_key_order_and_spacing():
    import json

    exclusions = [{"codes": ["sex"], "reasons": ["does not take men"], "shelter": "A", "values": [{"sex": "male"}]},
                  {"shelter": "AB", "codes": [], "reasons": [], "values": []},
                  {"codes": ["service"], "values": [{"service": "legal"}], "reasons": ["no legal aid"],
                   "shelter": "B"}]
    for text in (json.dumps(exclusions, separators=(",", ":"), sort_keys=True), json.dumps(exclusions)):
        assert evidence.find_entry(text, "B") == (exclusions[2], 2)
        assert evidence.find_entry(text, "A") == (exclusions[0], 0)
        assert evidence.find_entry(text, "C") == (None, None)
        assert evidence.first_entries(text, 2) == exclusions[:2]
    assert evidence.find_entry("[]", "A") == (None, None) and evidence.first_entries("[]", 3) == []


def test_the_api_answers_the_same_funnel(world, api_as, make):
    make._now = None  # tokens are checked against the real clock
    api = api_as(make.user("secretariat"))
    body = api.get("/reports/shelters/S/funnel?from=2026-05-01&to=2026-05-31").get_json()
    assert body["steps"] == {"made": 7, "eligible": 5, "top3": 5, "chosen": 4, "accepted": 2, "admitted": 2,
                             "stayed": 1}
    assert body["exclusions"][0] == {"code": "sex", "values": {"sex": "male", "minor": False}, "requests": 2,
                                     "only_reason": 1}
    assert body["leaks"]["declined"] == {"fear_of_traffickers": 1}
    assert body["leaks"]["rejected"] == {"cannot_meet_needs": 1}
    assert body["period"] == {"from": "2026-05-01", "to": "2026-05-31"}
    refused = api.get("/reports/shelters/S/funnel?from=yesterday")
    assert refused.status_code == 422 and "from" in refused.get_json()["error"]["fields"]
    assert api.get("/reports/shelters/NOPE/funnel").status_code == 404
    police = api_as(make.user("police"))
    assert police.get("/reports/shelters/S/funnel").status_code == 403

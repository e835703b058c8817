"""The alerts and statistics API: who sees what, the review actions, every refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts import services
from alerts.rules import Decision
from extensions import db


@pytest.fixture
def pvpt(make):
    return make.shelter("PVPT", capacity=5)


@pytest.fixture
def hah(make):
    return make.shelter("HAH", capacity=8, region="Prizren")


@pytest.fixture
def alerts(app, pvpt, hah, now):
    """One alert about each shelter and one about the country, HAH's critical and oldest."""
    services.upsert(db.session, now - timedelta(days=2), [
        Decision("over_capacity", "shelter", "HAH", "critical", "HAH over capacity: 9 beds taken, 8 usable",
                 {"occupied": 9}, shelter="HAH")], ["over_capacity"])
    services.upsert(db.session, now - timedelta(days=1), [
        Decision("unused_facility", "shelter", "PVPT", "warning", "PVPT unused for 20 days", {"days_unused": 20},
                 shelter="PVPT"),
        Decision("identification_drop", "country", "national", "warning",
                 "Identifications down 25% year over year (24 vs 32)", {"last_12_months": 24})],
        ["unused_facility", "identification_drop"])
    db.session.commit()
    return {a.subject: a for a in services.list_alerts(db.session, "all")}


def error(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"}, body
    return body["error"]


def test_secretariat_sees_every_alert_most_severe_then_oldest(api_as, make, alerts):
    body = api_as(make.user("secretariat")).get("/alerts").get_json()
    assert [a["shelter"] for a in body["alerts"]] == ["HAH", "PVPT", None]
    first = body["alerts"][0]
    assert {"id", "kind", "shelter", "severity", "status", "figures", "first_seen", "last_seen", "message"} <= set(first)
    assert (first["kind"], first["severity"], first["figures"]) == ("over_capacity", "critical", {"occupied": 9})
    assert first["first_seen"].endswith("+00:00")


def test_manager_sees_own_shelters_alerts_only(api_as, make, pvpt, alerts):
    api = api_as(make.manager(pvpt))
    assert [a["subject"] for a in api.get("/alerts").get_json()["alerts"]] == ["PVPT"]
    assert api.get(f"/alerts/{alerts['PVPT'].id}").status_code == 200
    assert api.get(f"/alerts/{alerts['HAH'].id}").status_code == 404
    assert api.get(f"/alerts/{alerts['national'].id}").status_code == 404


@pytest.mark.parametrize("role", ["police", "partner", "admin"])
def test_other_roles_are_refused(api_as, make, alerts, role):
    api = api_as(make.user(role))
    assert api.get("/alerts").status_code == 403
    assert api.get(f"/alerts/{alerts['HAH'].id}").status_code == 403
    assert api.post(f"/alerts/{alerts['HAH'].id}/acknowledge").status_code == 403


def test_acknowledge_then_resolve_with_a_note(api_as, make, alerts):
    user = make.user("secretariat")
    api = api_as(user)
    alert_id = alerts["HAH"].id
    acked = api.post(f"/alerts/{alert_id}/acknowledge")
    assert acked.status_code == 200, acked.get_json()
    assert (acked.get_json()["status"], acked.get_json()["acknowledged_by"]) == ("acknowledged", user.username)
    assert error(api.post(f"/alerts/{alert_id}/acknowledge"))["code"] == "already_done"
    assert [a["id"] for a in api.get("/alerts?status=acknowledged").get_json()["alerts"]] == [alert_id]
    done = api.post(f"/alerts/{alert_id}/resolve", json={"note": "Moved two residents to PVPT."})
    assert done.status_code == 200
    body = done.get_json()
    assert (body["status"], body["resolution_note"], body["resolved_by"]) == (
        "resolved", "Moved two residents to PVPT.", user.username)
    again = api.post(f"/alerts/{alert_id}/resolve", json={"note": "again"})
    assert again.status_code == 409 and error(again)["code"] == "already_done"
    assert alert_id not in [a["id"] for a in api.get("/alerts").get_json()["alerts"]]
    assert alert_id in [a["id"] for a in api.get("/alerts?status=all").get_json()["alerts"]]


@pytest.mark.parametrize("payload", [{}, {"note": ""}, {"note": "   "}, {"note": "x" * 2001}, {"note": 5}])
def test_resolve_needs_a_note(api_as, make, alerts, payload):
    response = api_as(make.user("secretariat")).post(f"/alerts/{alerts['HAH'].id}/resolve", json=payload)
    assert response.status_code == 422
    assert "note" in error(response)["fields"]


def test_manager_may_not_acknowledge_or_resolve(api_as, make, pvpt, alerts):
    api = api_as(make.manager(pvpt))
    assert api.post(f"/alerts/{alerts['PVPT'].id}/acknowledge").status_code == 403
    assert api.post(f"/alerts/{alerts['PVPT'].id}/resolve", json={"note": "fine"}).status_code == 403
    assert api.post(f"/alerts/{alerts['HAH'].id}/acknowledge").status_code == 404
    assert api.post(f"/alerts/{alerts['HAH'].id}/resolve", json={"note": "fine"}).status_code == 404


def test_unknown_alert_and_bad_status(api_as, make, alerts):
    api = api_as(make.user("secretariat"))
    assert error(api.get("/alerts/999999"))["code"] == "not_found"
    assert api.post("/alerts/999999/acknowledge").status_code == 404
    assert api.get("/alerts?status=maybe").status_code == 422


def test_action_notes(api_as, make, pvpt, alerts):
    manager = make.manager(pvpt)
    response = api_as(manager).post(f"/alerts/{alerts['PVPT'].id}/comments", json={"note": "Beds being repaired."})
    assert response.status_code == 201
    assert [(c["user"], c["note"]) for c in response.get_json()["comments"]] == [
        (manager.username, "Beds being repaired.")]
    assert api_as(manager).post(f"/alerts/{alerts['HAH'].id}/comments", json={"note": "x"}).status_code == 404


def test_no_token_is_401(client, alerts):
    assert client.get("/api/v1/alerts").status_code == 401


# --- utilisation ------------------------------------------------------------------------------------------


def test_utilisation_for_the_secretariat_lists_every_shelter(api_as, make, pvpt, hah):
    body = api_as(make.user("secretariat")).get("/stats/utilisation?days=10").get_json()
    assert body["days"] == 10
    assert [r["code"] for r in body["shelters"]] == ["HAH", "PVPT"]
    for row in body["shelters"]:
        assert set(row) == {"code", "utilisation", "bed_nights_occupied", "bed_nights_available"}


def test_utilisation_is_exact_to_the_bed_night(api_as, make, now):
    old = make.shelter("OLD", capacity=4, created_at=now - timedelta(days=40))
    make.stay(old, make.case(identified_on=(now - timedelta(days=30)).date()), now - timedelta(days=5))
    body = api_as(make.user("secretariat")).get("/stats/utilisation?days=10").get_json()
    (row,) = body["shelters"]
    assert (row["bed_nights_occupied"], row["bed_nights_available"]) == (5, 40)
    assert row["utilisation"] == pytest.approx(5 / 40)
    assert api_as(make.user("secretariat")).get("/stats/utilisation").get_json()["days"] == 30


def test_utilisation_scope_by_role(api_as, make, pvpt, hah, now):
    assert [r["code"] for r in api_as(make.manager(pvpt)).get("/stats/utilisation").get_json()["shelters"]] == ["PVPT"]
    for code in ("P2", "P3", "P4"):
        make.shelter(code, capacity=5, created_at=now - timedelta(days=2))
    partner = api_as(make.user("partner")).get("/stats/utilisation").get_json()
    assert partner["shelters"] == []
    # PVPT and HAH, opened today, have no night yet; Prizren alone would be one shelter anyway.
    assert [(r["region"], r["shelters"], r["bed_nights_available"]) for r in partner["regions"]] == [
        ("Prishtinë", 3, 30)]
    assert partner["as_of"].startswith(now.date().isoformat())
    assert "PVPT" not in str(partner) and "HAH" not in str(partner)
    assert api_as(make.user("police")).get("/stats/utilisation").status_code == 403


@pytest.mark.parametrize("days", ["0", "3651", "ten"])
def test_utilisation_days_out_of_range(api_as, make, days):
    response = api_as(make.user("secretariat")).get(f"/stats/utilisation?days={days}")
    assert response.status_code == 422 and "days" in error(response)["fields"]

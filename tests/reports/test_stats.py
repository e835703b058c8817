"""A shelter manager's statistics: their own shelters' figures and placements, on the page and in the export,
and never another shelter's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from accounts.models import AuditEvent
from extensions import db
from placement.models import PlacementEvent, PlacementRequest
from reports import services
from tests.reports.test_history import at, build
from tests.reports.test_views import cells, read_csv


@pytest.fixture
def clock() -> datetime:
    return datetime(2026, 8, 15, 12, tzinfo=UTC)


def decided(shelter, case, requester, when: datetime, status: str, reason: str | None = None) -> None:
    """A request that reached `status` at `shelter` at `when`, written as placement.services leaves it."""
    request = PlacementRequest(case_id=case.id, requested_by_id=requester.id, status=status, shelter_id=shelter.id,
                               reason=reason, created_at=when - timedelta(hours=1), updated_at=when)
    db.session.add(request)
    db.session.flush()
    db.session.add(PlacementEvent(request_id=request.id, at=when, from_status="reserved", to_status=status,
                                  shelter_code=shelter.code))
    db.session.commit()


def test_placement_stats_count_decisions_reasons_and_days_to_admission(app, make, clock):
    hist, other, *_ = build(make, clock.date())
    police = make.user("police")
    recent = clock - timedelta(days=20)

    def case():
        return make.case(identified_on=clock.date() - timedelta(days=30))
    decided(hist, case(), police, recent, "accepted")
    decided(hist, case(), police, recent, "rejected", "rejected_by_shelter")
    decided(hist, case(), police, recent, "declined", "fear_of_traffickers")
    decided(hist, case(), police, recent, "declined", "fear_of_traffickers")
    decided(hist, case(), police, recent, "declined", "shelter_too_far")
    decided(hist, case(), police, clock - timedelta(days=400), "accepted")  # over a year ago
    decided(other, case(), police, recent, "accepted")

    stats = services.placement_stats(db.session, clock, [hist.id])
    assert set(stats) == {hist.id}
    s = stats[hist.id]
    assert (s.accepted, s.rejected, s.declined) == (1, 1, 3)
    assert s.decline_reasons == (("fear_of_traffickers", 2), ("shelter_too_far", 1))
    # Admissions in the last year: the family (10 days after identification) and the victim alone (3 days).
    assert s.admissions == 2 and s.median_days_to_placement == 6.5
    assert services.placement_stats(db.session, clock, [other.id])[other.id].accepted == 1


def test_overview_rows_scoped_to_a_managers_shelters(app, make, clock):
    hist, other, *_ = build(make, clock.date())
    assert [r.code for r in services.overview_rows(db.session, clock, [hist.id])] == ["HIST"]
    assert [r.code for r in services.overview_rows(db.session, clock)] == ["HIST", "OTHER"]
    nights = services.sparkline_nights(db.session, clock, services.overview_rows(db.session, clock, [other.id]), True)
    assert list(nights) == [other.id]
    # Scoped in SQL, each row reads exactly as on the whole country's overview.
    every = {r.code: r for r in services.overview_rows(db.session, clock)}
    assert services.overview_rows(db.session, clock, [hist.id]) == [every["HIST"]]
    assert services.overview_rows(db.session, clock, [other.id]) == [every["OTHER"]]
    assert services.overview_rows(db.session, clock, []) == []


def test_shelter_figures_filtered_by_shelter_id_in_sql(app, make, clock):
    from alerts import jobs
    from alerts.rules import Thresholds

    hist, other, *_ = build(make, clock.date())
    every = jobs.shelter_figures(db.session, clock, Thresholds())
    assert [f.code for f in every] == ["HIST", "OTHER"]
    assert jobs.shelter_figures(db.session, clock, Thresholds(), [other.id]) == [every[1]]
    assert jobs.shelter_figures(db.session, clock, Thresholds(), {hist.id, other.id}) == every
    assert jobs.shelter_figures(db.session, clock, Thresholds(), []) == []


def test_a_manager_sees_their_own_shelters_statistics_only(app, make, client, pages, now):
    hist, other, *_ = build(make, now.date())
    decided(other, make.case(), make.user("police"), at(now.date() - timedelta(days=3)), "declined", "shelter_rules")
    manager = make.manager(hist)
    pages.login(manager.username)
    response = client.get("/stats")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "OTHER" not in html and "shelter_rules" not in html and "The shelter's rules" not in html
    row = cells(html, "HIST")
    assert row["30 days"] == "52%"  # 2 beds of 4 usable every night, 3 for three of them: 63 of 120 bed-nights
    assert 'class="sparkline"' in html and 'aria-labelledby="spark-HIST"' in html
    assert 'id="placements-HIST"' in html and " style=" not in html

    with client.session_transaction() as session:
        session["reauth_at"] = 0
    response = client.get("/stats.csv")
    assert response.status_code == 302 and "/account/reauth" in response.headers["Location"]
    pages.post("/logout")
    pages.login(manager.username)  # a fresh sign-in counts as entering the password
    rows = read_csv(client.get("/stats.csv"))
    assert [r["shelter"] for r in rows] == ["HIST"]
    assert rows[0]["utilisation_30d_pct"] == "52"
    assert rows[0]["admissions_365d"] == "2" and rows[0]["median_days_identification_to_admission"] == "6.5"
    (export,) = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "report.export")).all()
    assert (export.actor, export.object_id, export.detail["shelters"]) == (manager.username, "stats", ["HIST"])


def test_a_manager_of_two_shelters_sees_both_and_one_without_any_sees_none(app, make, client, pages, now):
    hist, other, *_ = build(make, now.date())
    pages.login(make.manager(hist, other).username)
    html = client.get("/stats").get_data(as_text=True)
    assert 'id="shelter-HIST"' in html and 'id="shelter-OTHER"' in html
    assert [r["shelter"] for r in read_csv(client.get("/stats.csv"))] == ["HIST", "OTHER"]
    pages.post("/logout")
    pages.login(make.manager().username)
    html = client.get("/stats").get_data(as_text=True)
    assert "HIST" not in html and "OTHER" not in html and "Download CSV" not in html
    assert read_csv(client.get("/stats.csv")) == []


@pytest.mark.parametrize("role", ["admin", "secretariat", "police", "partner"])
@pytest.mark.parametrize("path", ["/stats", "/stats.csv"])
def test_other_roles_are_refused_the_statistics(client, pages, make, role, path):
    pages.login(make.user(role).username)
    assert client.get(path).status_code == 403
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "report.export")) is None


@pytest.mark.parametrize("code", ["sq", "sr"])
def test_the_statistics_and_the_history_read_in_each_language(app, make, client, pages, now, code):
    from tests.test_i18n import untranslated_on

    hist, *_ = build(make, now.date())
    manager = make.manager(hist)
    pages.login(manager.username)
    pages.post("/language", {"language": code}, from_page="/stats")
    for path in ("/stats", "/shelters/HIST", "/shelters/HIST?history=365"):
        html = client.get(path).get_data(as_text=True)
        assert f'<html lang="{code}">' in html
        assert untranslated_on(html, code) == [], path

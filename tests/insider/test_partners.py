"""A partner probes the aggregates for a single shelter: a region with one or two shelters, or the figures just
before and after an admission made today. No figure a partner gets may describe fewer than 3 shelters, and
every figure is as of the last midnight UTC, never live."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts import services as alert_services
from extensions import db
from reports import services as report_services
from shelters import services
from shelters.models import Reservation
from shelters.services import OTHER_REGIONS, region_groups

CLOCK = datetime(2026, 8, 15, 12, tzinfo=UTC)


def test_small_regions_are_merged_or_suppressed():
    assert region_groups({"Big": 3, "Lone": 1, "Pair": 2}) == {"Big": "Big", "Lone": OTHER_REGIONS,
                                                               "Pair": OTHER_REGIONS}
    assert region_groups({"Big": 5, "Lone": 1, "Other": 1}) == {"Big": "Big"}  # 2 together: still too few
    assert region_groups({"A": 1, "B": 1, "C": 1}) == dict.fromkeys("ABC", OTHER_REGIONS)
    assert region_groups({"Lone": 1, "Pair": 1}) == {}  # the whole country has fewer than 3
    assert region_groups({"Pair": 2}) == {} and region_groups({}) == {}


@given(st.dictionaries(st.text(min_size=1, max_size=3), st.integers(1, 6), max_size=8))
def test_no_group_describes_fewer_than_three_shelters(shelters_per_region):
    groups = region_groups(shelters_per_region)
    for group in set(groups.values()):
        assert sum(n for region, n in shelters_per_region.items() if groups.get(region) == group) >= 3
    # A region big enough always stands alone; none is merged into another real region.
    for region, n in shelters_per_region.items():
        assert groups.get(region) in ({region} if n >= 3 else {OTHER_REGIONS, None})


def shelters(make, region: str, count: int, since: datetime) -> list:
    return [make.shelter(f"{region[:4].upper()}{i}", region=region, capacity=4, created_at=since)
            for i in range(count)]


def admit(make, shelter, at: datetime):
    """A resident identified long before (outside the figures' 12 months), admitted at `at`."""
    return make.stay(shelter, make.case(identified_on=(at - timedelta(days=400)).date()), at)


@pytest.fixture
def partner(make, api_as, pages):
    """What a partner reads, when asked: both API answers and both pages."""
    user = make.user("partner")
    api = api_as(user)
    assert pages.login(user.username).status_code == 302

    def views() -> tuple[dict, dict, str, str]:
        return (api.get("/shelters").get_json(), api.get("/stats/utilisation").get_json(),
                pages.client.get("/shelters").get_data(as_text=True),
                pages.client.get("/figures").get_data(as_text=True))

    return views


def test_a_region_with_one_or_two_shelters_is_never_shown_alone(make, partner, now):
    since = now - timedelta(days=10)
    shelters(make, "Big", 3, since)
    (lone,) = shelters(make, "Lone", 1, since)
    admit(make, lone, now - timedelta(days=5))

    beds, utilisation, regions_page, figures_page = partner()
    assert [(r["region"], r["shelters"]) for r in beds["regions"]] == [("Big", 3)]
    assert [(r["region"], r["shelters"]) for r in utilisation["regions"]] == [("Big", 3)]
    for answer in (beds, utilisation, regions_page, figures_page):
        assert "Lone" not in str(answer)

    pair = shelters(make, "Pair", 2, since)
    admit(make, pair[0], now - timedelta(days=3))
    beds, utilisation, regions_page, figures_page = partner()
    # Lone's one and Pair's two, together: three shelters, under one name that is neither.
    assert [(r["region"], r["shelters"]) for r in beds["regions"]] == [("Big", 3), (OTHER_REGIONS, 3)]
    assert [(r["region"], r["occupied"]) for r in beds["regions"]] == [("Big", 0), (OTHER_REGIONS, 2)]
    assert [(r["region"], r["shelters"]) for r in utilisation["regions"]] == [("Big", 3), (OTHER_REGIONS, 3)]
    for answer in (beds, utilisation, regions_page, figures_page):
        assert "Lone" not in str(answer) and "Pair" not in str(answer)
    assert "<th scope=\"row\">Other regions</th>" in regions_page and "Other regions" in figures_page


def test_a_country_with_fewer_than_three_shelters_shows_no_region_figures(make, partner, now):
    (lone,) = shelters(make, "Lone", 1, now - timedelta(days=10))
    shelters(make, "Pair", 1, now - timedelta(days=10))
    admit(make, lone, now - timedelta(days=5))
    beds, utilisation, regions_page, figures_page = partner()
    assert beds["regions"] == [] and utilisation["regions"] == []
    for page in (regions_page, figures_page):
        assert 'id="no-regions"' in page and "fewer than 3 shelters were in service" in page
        assert "Lone" not in page and "Pair" not in page


def test_an_admission_today_is_not_seen_by_partners_through_the_api(app, make, api_as, now):
    big = shelters(make, "Big", 3, now - timedelta(days=10))
    admit(make, big[0], now - timedelta(days=2))
    api = api_as(make.user("partner"))
    before = api.get("/shelters").get_json(), api.get("/stats/utilisation?days=7").get_json()
    midnight = datetime.combine(now.date(), datetime.min.time(), UTC)
    assert before[0]["as_of"] == before[1]["as_of"] == midnight.isoformat()

    admit(make, big[1], now)
    admit(make, big[2], max(midnight, now - timedelta(minutes=1)))
    assert (api.get("/shelters").get_json(), api.get("/stats/utilisation?days=7").get_json()) == before


def test_partner_figures_are_as_of_the_last_midnight(app, make):
    make._now = CLOCK
    big = shelters(make, "Big", 3, CLOCK - timedelta(days=10))
    admit(make, big[0], CLOCK - timedelta(days=2))
    yesterday = CLOCK.date() - timedelta(days=1)
    for _ in range(11):
        make.case(identified_on=yesterday)

    def seen(at: datetime) -> tuple:
        beds = services.partner_beds(db.session, at)
        utilisation = alert_services.partner_utilisation(db.session, at, 30)
        figures = report_services.partner_figures(db.session, at)
        return (beds.as_of, [(r.region, r.capacity, r.occupied, r.available) for r in beds.regions],
                utilisation.as_of, utilisation.regions, figures.as_of, figures.until, figures.total,
                figures.regions)

    morning = seen(CLOCK)
    midnight = datetime(2026, 8, 15, tzinfo=UTC)
    assert morning[0] == morning[2] == morning[4] == midnight
    assert morning[1] == [("Big", 12, 1, 11)]
    assert morning[5] == date(2026, 8, 14) and morning[6] == "11"

    # Today: an admission, a case identified, a bed held. None of it shows before the next midnight.
    admit(make, big[1], CLOCK)
    make.case(identified_on=CLOCK.date())
    db.session.add(Reservation(shelter_id=big[2].id, beds=2, created_at=CLOCK, held_until=CLOCK + timedelta(hours=13)))
    db.session.commit()
    assert seen(CLOCK + timedelta(hours=11, minutes=59)) == morning

    tomorrow = seen(datetime(2026, 8, 16, 0, 1, tzinfo=UTC))
    assert tomorrow[1] == [("Big", 12, 2, 10)]  # the hold, still live, is not counted
    assert tomorrow[5] == date(2026, 8, 15) and tomorrow[6] == "12"
    assert tomorrow[3][0]["bed_nights_occupied"] == morning[3][0]["bed_nights_occupied"] + 2

"""Where the fall in identifications comes from, on fixed rows counted by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

from extensions import db
from reports import identifications
from reports.identifications import Identified, Shift, contributor_text, largest_contributors, shifts

TODAY = date(2026, 6, 30)
BEFORE = date(2025, 3, 15)  # Q1, in the 12 months before
AFTER = date(2026, 2, 10)  # Q1, in the last 12 months


def _rows(unit: str, before: int, after: int, *, method: str = "referral", form: str = "sexual",
          nationality: str = "AL") -> list[Identified]:
    return ([Identified(BEFORE, unit, method, (form,), nationality)] * before
            + [Identified(AFTER, unit, method, (form,), nationality)] * after)


def test_the_largest_contributors_to_a_fall_are_named_with_both_counts():
    rows = (_rows("airport border police", 11, 2, method="proactive_operation")
            + _rows("trafficking section", 9, 8, form="labour", nationality="MD")
            + _rows("NGO referral", 7, 9)
            + _rows("immigration office", 5, 5, nationality="MD"))
    result = shifts(rows, TODAY)
    assert (result.before, result.after, result.change) == (32, 24, -8)
    assert [(d, contributor_text(s)) for d, s in result.contributors] == [
        ("unit", "airport border police: 11 -> 2"), ("unit", "trafficking section: 9 -> 8")]
    assert result.by["unit"][0] == Shift("airport border police", 11, 2)
    assert {s.key: (s.before, s.after) for s in result.by["method"]} == {
        "proactive_operation": (11, 2), "referral": (21, 22)}
    assert {s.key: (s.before, s.after) for s in result.by["exploitation"]} == {"sexual": (23, 16), "labour": (9, 8)}
    assert {s.key: (s.before, s.after) for s in result.by["nationality"]} == {"AL": (18, 11), "MD": (14, 13)}
    assert [(s.key, s.before, s.after) for s in result.by["quarter"]] == [("Q1", 32, 24)]


def test_no_change_names_no_contributor_and_a_rise_names_the_rises():
    assert largest_contributors([Shift("a", 3, 1), Shift("b", 1, 3)], 0) == []
    assert largest_contributors([Shift("a", 3, 1), Shift("b", 1, 5), Shift("c", 0, 1)], 2) == [
        Shift("b", 1, 5), Shift("c", 0, 1)]


def test_cases_record_their_unit_and_method_and_the_trends_read_them(app, make):
    make._now = datetime(2026, 6, 30, 12, tzinfo=UTC)
    org = make.org(name="Border Police")
    officer = make.user("police", org=org)
    make.case(created_by=officer, identified_on=AFTER, identifying_unit="airport",
              identification_method="proactive_operation")
    make.case(created_by=officer, identified_on=BEFORE)
    make.case(identified_on=BEFORE)
    rows = identifications.identified(db.session, make.now())
    assert sorted((r.unit, r.method) for r in rows) == [
        ("Border Police", "not recorded"), ("airport", "proactive_operation"), ("not recorded", "not recorded")]


def test_an_unknown_identification_method_is_refused_naming_the_field(app, make):
    import pytest

    from errors import Invalid

    with pytest.raises(Invalid) as refused:
        make.case(identification_method="rumour")
    assert "identification_method" in refused.value.fields


def test_the_trends_page_names_the_largest_contributor(app, make, client, pages):
    from datetime import timedelta

    today = date.today()
    for _ in range(3):
        make.case(identified_on=today - timedelta(days=400), identifying_unit="airport border police")
    make.case(identified_on=today - timedelta(days=30), identifying_unit="airport border police")
    make.case(identified_on=today - timedelta(days=30), identifying_unit="NGO referral")
    make.user("secretariat", username="sec-trends")
    pages.login("sec-trends")
    html = client.get("/overview/trends").get_data(as_text=True)
    contributors = html[html.index('id="largest-contributors"'):]
    assert "airport border police: 3 → 1" in contributors[:contributors.index("</ul>")]
    assert "NGO referral" not in contributors[:contributors.index("</ul>")]

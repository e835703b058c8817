"""The alert pages driven as a browser would, on the cable's demo: the queue, one alert with its figures and
chart, action notes, acknowledge and resolve, who may do what, and the open count in the nav."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from accounts.models import User
from alerts import charts, jobs, rules, services
from alerts.models import Alert, AlertComment
from alerts.rules import Thresholds
from extensions import db
from shelters import demo, figures
from shelters import services as shelter_services
from shelters.models import Shelter
from tests.fixtures.pages import assert_clean_html, body

HAH_MESSAGE = "HAH unused for 143 days"
ISF_MESSAGE = "ISF never used"
DROP_MESSAGE = "Identifications down 25% year over year (24 vs 32)"


@pytest.fixture
def cable(app, now):
    """The demo, evaluated once: {(kind, subject): alert}."""
    demo.load(db.session, now)
    db.session.commit()
    jobs.evaluate_alerts(db.session, now, Thresholds())
    db.session.commit()
    return {(a.kind, a.subject): a for a in services.list_alerts(db.session, "all")}


def shelter(code: str) -> Shelter:
    return db.session.scalar(select(Shelter).where(Shelter.code == code))


def sign_in(pages, username: str, password: str | None = None) -> None:
    response = pages.login(username, password or demo.DEMO_PASSWORD.format(username))
    assert response.status_code == 302, body(response)


def queue(html: str) -> list[str]:
    """The alert messages in the queue, in the order shown."""
    return re.findall(r'<a href="/alerts/\d+">([^<]+)</a>', html)


def reload(alert: Alert) -> Alert:
    db.session.expire_all()
    return db.session.get(Alert, alert.id)


def badge(html: str) -> str | None:
    match = re.search(r'href="/alerts"[^>]*>Alerts(?: <span class="badge">([^<]+)</span>)?</a>', html)
    assert match, "no Alerts link in the nav"
    return match.group(1)


# --- the queue ---------------------------------------------------------------------------------------------


def test_secretariat_sees_the_cables_alerts_most_severe_first(client, pages, cable, now):
    services.raise_system_alert(db.session, now, rules.job_failed("census", RuntimeError("disk full")))
    db.session.commit()
    sign_in(pages, "secretariat")
    response = client.get("/alerts")
    assert response.status_code == 200
    html = body(response)
    assert_clean_html(html)
    shown = queue(html)
    assert {HAH_MESSAGE, ISF_MESSAGE, DROP_MESSAGE} <= set(shown)
    assert shown[0].startswith("The scheduled job &#39;census&#39; failed")  # critical before warnings
    expected = [a.message for a in services.list_alerts(db.session, "open")]
    assert [m.replace("&#39;", "'") for m in shown] == expected
    assert "Critical" in html and "Warning" in html  # severity in words, not colour alone
    assert 'href="/shelters/HAH"' in html and "Country" in html


def test_the_queue_filters_by_status(client, pages, cable, now):
    hah = cable[("unused_facility", "HAH")]
    isf = cable[("unused_facility", "ISF")]
    secretariat = db.session.scalar(select(User).where(User.username == "secretariat"))
    services.acknowledge(db.session, secretariat, now, hah)
    services.resolve(db.session, secretariat, now, isf, "Closed pending review of its funding.")
    db.session.commit()
    sign_in(pages, "secretariat")

    open_ = queue(body(client.get("/alerts")))
    assert HAH_MESSAGE not in open_ and ISF_MESSAGE not in open_ and DROP_MESSAGE in open_
    assert queue(body(client.get("/alerts?status=acknowledged"))) == [HAH_MESSAGE]
    assert queue(body(client.get("/alerts?status=resolved"))) == [ISF_MESSAGE]
    every = queue(body(client.get("/alerts?status=all")))
    assert {HAH_MESSAGE, ISF_MESSAGE, DROP_MESSAGE} <= set(every) and len(every) == len(cable)
    html = body(client.get("/alerts?status=resolved"))
    assert '<a href="/alerts?status=resolved" aria-current="page">Resolved</a>' in html
    assert client.get("/alerts?status=bogus").status_code == 400


def alert_ids(html: str) -> list[int]:
    """The ids of the alerts in the queue, in the order shown."""
    return [int(i) for i in re.findall(r'<a href="/alerts/(\d+)">', html)]


def test_the_queue_pages_fifty_alerts_at_a_time_in_its_order(client, pages, cable, now):
    # 120 users read too much: with the cable's alerts, three pages of the open queue.
    decisions = [rules.unusual_access(f"reader{n:03d}", 1000 + n, Thresholds()) for n in range(120)]
    services.upsert(db.session, now, decisions, [rules.UNUSUAL_ACCESS])
    db.session.commit()
    expected = [a.id for a in services.list_alerts(db.session, "open")]
    assert 100 < len(expected) <= 150
    sign_in(pages, "secretariat")

    first, second, third = (body(client.get(f"/alerts?page={n}")) for n in (1, 2, 3))
    assert_clean_html(first)
    assert alert_ids(first) == expected[:50] and alert_ids(second) == expected[50:100]
    assert alert_ids(third) == expected[100:]
    assert f"Alerts 51 to 100 of {len(expected)}" in second
    assert f"Open alerts: {len(expected)}; page 2 of 3</caption>" in second
    assert '<a href="/alerts?status=open&amp;page=2" aria-label="Page 2" aria-current="page">2</a>' in second
    assert 'href="/alerts?status=open&amp;page=1" rel="prev">Previous page</a>' in second
    assert 'href="/alerts?status=open&amp;page=3" rel="next">Next page</a>' in second
    assert "Previous page" not in first and "Next page" not in third
    # Past the end (the queue shrank) or not a page number: the nearest page, never an error.
    assert alert_ids(body(client.get("/alerts?page=9"))) == expected[100:]
    assert alert_ids(body(client.get("/alerts?page=0"))) == expected[:50]
    assert alert_ids(body(client.get("/alerts?page=two"))) == expected[:50]
    # Each status pages on its own, and its page links keep the status.
    every = body(client.get("/alerts?status=all&page=2"))
    assert 'href="/alerts?status=all&amp;page=1" rel="prev"' in every

    # In the reader's language, the counts and the page links too.
    secretariat = db.session.scalar(select(User).where(User.username == "secretariat"))
    secretariat.locale = "sq"
    db.session.commit()
    albanian = body(client.get("/alerts?page=2"))
    assert f"Sinjalizimet 51 deri në 100 nga gjithsej {len(expected)}" in albanian
    assert "Faqja e mëparshme" in albanian and "Faqja tjetër" in albanian and 'aria-label="Faqja 3"' in albanian
    assert "Next page" not in albanian and "Pages of alerts" not in albanian


def test_a_queue_of_one_page_has_no_page_links(client, pages, cable):
    sign_in(pages, "secretariat")
    html = body(client.get("/alerts"))
    assert "Pages of alerts" not in html and "page 1 of" not in html
    assert f"Alerts 1 to {len(queue(html))} of {len(queue(html))}" in html


def test_page_numbers_keep_the_ends_and_the_neighbours():
    from paging import page_numbers

    assert page_numbers(1, 1) == [1]
    assert page_numbers(1, 3) == [1, 2, 3]
    assert page_numbers(1, 25) == [1, 2, 3, None, 25]
    assert page_numbers(10, 25) == [1, None, 8, 9, 10, 11, 12, None, 25]
    assert page_numbers(4, 25) == [1, 2, 3, 4, 5, 6, None, 25]


# --- one alert ---------------------------------------------------------------------------------------------


def test_an_alert_shows_its_figures_and_an_occupancy_chart(client, pages, cable):
    alert = cable[("unused_facility", "HAH")]
    sign_in(pages, "secretariat")
    response = client.get(f"/alerts/{alert.id}")
    assert response.status_code == 200
    html = body(response)
    assert_clean_html(html)
    assert f"<h1>{HAH_MESSAGE}</h1>" in html
    assert re.search(r'<th scope="row">Days without a resident</th><td class="num">143</td>', html)
    assert re.search(r'<th scope="row">Usable beds</th><td class="num">8</td>', html)
    svg = re.search(r"<svg .*?</svg>", html, re.DOTALL).group(0)
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert "Beds occupied" in svg and "Usable beds" in svg  # a legend in words
    assert "style=" not in svg and "<script" not in svg and "href" not in svg
    assert "HAH: no bed occupied on any of the 90 nights" in html  # the chart in words, too
    assert f'action="/alerts/{alert.id}/acknowledge"' in html
    assert f'action="/alerts/{alert.id}/resolve"' in html
    assert f'action="/alerts/{alert.id}/comments"' in html


def test_an_alert_about_the_country_has_no_shelter_chart(client, pages, cable):
    drop = cable[("identification_drop", "national")]
    sign_in(pages, "secretariat")
    html = body(client.get(f"/alerts/{drop.id}"))
    assert DROP_MESSAGE in html and "<svg" not in html
    assert re.search(r'Identified, last 12 months</th><td class="num">24</td>', html)
    assert re.search(r'Identified, the 12 months before</th><td class="num">32</td>', html)
    assert re.search(r'<th scope="row">Drop</th><td class="num">25%</td>', html)


def test_a_secretariat_reading_albanian_sees_the_alerts_in_albanian(client, pages, cable):
    secretariat = db.session.scalar(select(User).where(User.username == "secretariat"))
    secretariat.locale = "sq"
    db.session.commit()
    sign_in(pages, "secretariat")

    html = body(client.get("/alerts"))
    assert '<html lang="sq">' in html
    shown = queue(html)
    assert {"Strehimorja HAH e papërdorur prej 143 ditësh", "Strehimorja ISF nuk është përdorur kurrë",
            "Identifikimet ranë për 25% krahasuar me vitin e kaluar (24 kundrejt 32)"} <= set(shown)
    assert HAH_MESSAGE not in html and ISF_MESSAGE not in html and DROP_MESSAGE not in html
    assert "Paralajmërim" in html and "Strehimore e papërdorur" in html and "Hapur" in html
    assert "unused_facility" not in html and "Warning" not in html

    drop = body(client.get(f"/alerts/{cable[('identification_drop', 'national')].id}"))
    assert "<h1>Identifikimet ranë për 25% krahasuar me vitin e kaluar (24 kundrejt 32)</h1>" in drop
    assert re.search(r'Të identifikuar, 12 muajt e fundit</th><td class="num">24</td>', drop)
    assert re.search(r'<th scope="row">Rënia</th><td class="num">25%</td>', drop)
    hah = body(client.get(f"/alerts/{cable[('unused_facility', 'HAH')].id}"))
    assert re.search(r'<th scope="row">Ditë pa asnjë banor</th><td class="num">143</td>', hah)
    assert "HAH: asnjë shtrat i zënë në asnjë nga 90 netët" in hah  # the chart in words, too
    assert "Shtretër të zënë (shtylla)" in hah  # and its legend


def test_secretariat_acknowledges_then_resolves_with_an_action_note(client, pages, cable):
    alert = cable[("unused_facility", "HAH")]
    path = f"/alerts/{alert.id}"
    sign_in(pages, "secretariat")

    response = pages.post(f"{path}/acknowledge", from_page=path)
    assert (response.status_code, response.headers["Location"]) == (302, path)
    assert reload(alert).status == "acknowledged"
    html = body(client.get(path))
    assert "Alert acknowledged" in html and f'action="{path}/acknowledge"' not in html
    assert re.search(r"<dt>Acknowledged</dt><dd>[A-Z][a-z]{2} \d{1,2}, \d{4}, \d\d:\d\d UTC by secretariat</dd>", html)
    again = pages.post(f"{path}/acknowledge", from_page=path)
    assert again.status_code == 409 and "already acknowledged" in body(again)

    for note in ("", "   "):
        refused = pages.post(f"{path}/resolve", {"note": note}, from_page=path)
        assert refused.status_code == 422
        assert "resolving needs an action note" in body(refused).lower()
        assert reload(alert).status == "acknowledged"

    plan = "Agreed with HAH to take referrals from the Prizren region; review in 30 days."
    done = pages.post(f"{path}/resolve", {"note": plan}, from_page=path)
    assert (done.status_code, done.headers["Location"]) == (302, path)
    alert = reload(alert)
    assert (alert.status, alert.resolution_note, alert.resolved_by.username) == ("resolved", plan, "secretariat")
    html = body(client.get(path))
    assert plan in html and f'action="{path}/resolve"' not in html
    assert HAH_MESSAGE not in queue(body(client.get("/alerts")))
    assert HAH_MESSAGE in queue(body(client.get("/alerts?status=resolved")))

    late = pages.post(f"{path}/resolve", {"note": "once more"}, from_page="/alerts")
    assert late.status_code == 409 and "already resolved" in body(late)


def test_action_notes_are_kept_escaped_and_required(client, pages, cable):
    alert = cable[("unused_facility", "ISF")]
    path = f"/alerts/{alert.id}"
    sign_in(pages, "secretariat")
    assert pages.post(f"{path}/comments", {"note": " "}, from_page=path).status_code == 422
    note = "Called the ministry <b>today</b>: ISF to be offered for male victims."
    response = pages.post(f"{path}/comments", {"note": note}, from_page=path)
    assert (response.status_code, response.headers["Location"]) == (302, path)
    html = body(client.get(path))
    assert "Called the ministry &lt;b&gt;today&lt;/b&gt;" in html and "<b>today" not in html
    (entry,) = db.session.scalars(select(AlertComment).where(AlertComment.alert_id == alert.id))
    assert (entry.note, entry.user.username) == (note, "secretariat")
    assert reload(alert).status == "open"  # a note does not change the status


def test_a_post_without_the_csrf_token_is_refused(client, pages, cable):
    alert = cable[("unused_facility", "HAH")]
    sign_in(pages, "secretariat")
    response = client.post(f"/alerts/{alert.id}/acknowledge")
    assert response.status_code == 400
    assert reload(alert).status == "open"


def test_an_unknown_alert_is_404(client, pages, cable):
    sign_in(pages, "secretariat")
    assert client.get("/alerts/999999").status_code == 404
    assert pages.post("/alerts/999999/resolve", {"note": "x"}).status_code == 404


# --- who may do what ---------------------------------------------------------------------------------------


def test_a_manager_sees_their_shelters_alerts_comments_and_cannot_review(client, pages, make, cable):
    hah_manager = make.manager(shelter("HAH"))
    own = cable[("unused_facility", "HAH")]
    other = cable[("unused_facility", "ISF")]
    drop = cable[("identification_drop", "national")]
    sign_in(pages, hah_manager.username, make.PASSWORD)

    shown = queue(body(client.get("/alerts?status=all")))
    expected = [a.message for a in services.list_alerts(db.session, "all") if a.shelter and a.shelter.code == "HAH"]
    assert shown == expected and HAH_MESSAGE in shown
    assert ISF_MESSAGE not in shown and DROP_MESSAGE not in shown

    path = f"/alerts/{own.id}"
    html = body(client.get(path))
    assert HAH_MESSAGE in html and "<svg" in html
    assert f'action="{path}/comments"' in html
    assert "/acknowledge" not in html and "/resolve" not in html
    assert client.get(f"/alerts/{other.id}").status_code == 404
    assert client.get(f"/alerts/{drop.id}").status_code == 404

    assert pages.post(f"{path}/resolve", {"note": "Done."}, from_page=path).status_code == 403
    assert pages.post(f"{path}/acknowledge", from_page=path).status_code == 403
    assert reload(own).status == "open"
    assert pages.post(f"/alerts/{other.id}/comments", {"note": "x"}, from_page=path).status_code == 404

    response = pages.post(f"{path}/comments", {"note": "Two beds ready for minors from Prizren."}, from_page=path)
    assert response.status_code == 302
    assert "Two beds ready for minors from Prizren." in body(client.get(path))


def test_the_demo_manager_of_pvpt_has_no_alerts(client, pages, cable):
    sign_in(pages, "manager")
    html = body(client.get("/alerts"))
    assert queue(html) == [] and "No open alerts." in html
    assert badge(html) is None


@pytest.mark.parametrize("role", ["police", "partner", "admin"])
def test_other_roles_get_403_and_no_alerts_link(client, pages, cable, role):
    sign_in(pages, role)
    alert = cable[("unused_facility", "HAH")]
    assert client.get("/alerts").status_code == 403
    assert client.get(f"/alerts/{alert.id}").status_code == 403
    assert pages.post(f"/alerts/{alert.id}/comments", {"note": "x"}).status_code == 403
    assert 'href="/alerts"' not in body(client.get("/shelters"))


# --- the nav -----------------------------------------------------------------------------------------------


def test_the_nav_shows_the_open_count_to_the_roles_concerned(client, pages, make, cable, now):
    open_count = services.open_counts(db.session)
    assert open_count >= 3
    sign_in(pages, "secretariat")
    assert badge(body(client.get("/shelters"))) == f"{open_count} open"
    html = body(client.get("/alerts"))
    assert '<a href="/alerts" aria-current="page">Alerts' in html

    alert = cable[("unused_facility", "HAH")]
    pages.post(f"/alerts/{alert.id}/acknowledge", from_page=f"/alerts/{alert.id}")
    assert badge(body(client.get("/shelters"))) == f"{open_count - 1} open"

    pages.post("/logout")
    hah_manager = make.manager(shelter("HAH"))
    sign_in(pages, hah_manager.username, make.PASSWORD)
    hah_open = services.open_counts(db.session, [shelter("HAH").id])
    assert hah_open >= 1  # its stale headcount; the unused alert is acknowledged now
    assert badge(body(client.get(f"/alerts/{alert.id}"))) == f"{hah_open} open"


# --- the chart's figures -----------------------------------------------------------------------------------


def test_the_chart_counts_bed_nights_as_shelters_figures_does(app, make, now):
    def at(days_ago: int, hour: int) -> datetime:
        return datetime.combine((now - timedelta(days=days_ago)).date(), time(hour), UTC)

    s = make.shelter("CHT", capacity=4, created_at=at(200, 8))
    early = make.stay(s, make.case(identified_on=at(120, 0).date()), at(120, 15))
    shelter_services.discharge_stay(db.session, None, now, early, "reintegrated", discharged_at=at(60, 10))
    make.stay(s, make.case(identified_on=at(30, 0).date()), at(30, 15))
    shelter_services.update_shelter(db.session, None, at(45, 9), s, s.version, {"capacity": 6, "out_of_service": 1})
    db.session.commit()

    series = charts.occupancy_series(db.session, s.id, now)
    util = figures.utilisation(db.session, now, charts.DAYS)[s.id]
    assert len(series.nights) == charts.DAYS and series.last == now.date() - timedelta(days=1)
    assert (series.bed_nights_occupied, series.bed_nights_available) == (
        util.bed_nights_occupied, util.bed_nights_available)
    by_day = {n.day: n for n in series.nights}
    assert by_day[(now - timedelta(days=61)).date()].occupied == 1
    assert by_day[(now - timedelta(days=60)).date()].occupied == 0  # the discharge day is not a night stayed
    assert by_day[(now - timedelta(days=46)).date()].usable == 4
    assert by_day[(now - timedelta(days=45)).date()].usable == 5

    svg = str(charts.occupancy_svg(series, "CHT"))
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    assert "style=" not in svg and "<script" not in svg and "http" not in svg
    assert svg.count("<rect ") == series.nights_used + 1  # a bar per night used, and the legend's swatch


def test_one_note_box_serves_both_actions_and_a_refusal_keeps_what_was_typed(client, pages, cable):
    """Issue 16: the page has one "Action note" box; adding it and resolving with it are two buttons of one form,
    so nothing is typed in the wrong box, and a refused submit shows the text again."""
    alert = cable[("unused_facility", "HAH")]
    path = f"/alerts/{alert.id}"
    sign_in(pages, "secretariat")
    html = body(client.get(path))
    assert html.count("<textarea") == 1 and html.count(">Action note</label>") == 1
    assert f'formaction="{path}/resolve"' in html and f'action="{path}/comments"' in html
    typed = "Offered HAH to the ministry for male victims. " * 50  # past the limit: refused
    for action in ("comments", "resolve"):
        refused = pages.post(f"{path}/{action}", {"note": typed}, from_page=path)
        assert refused.status_code == 422
        assert typed.strip() in body(refused) and body(refused).count("<textarea") == 1
    assert reload(alert).status == "open" and not reload(alert).comments

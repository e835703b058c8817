"""Pages that update themselves: the live endpoint's stamp and count, the live containers, the countdown."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import func, select

from accounts.models import AuditEvent
from extensions import db
from placement import services
from placement.views import held_for
from tests.fixtures.pages import assert_clean_html, body


def audit_count(user) -> int:  # noqa: ANN001
    return int(db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.actor_id == user.id)))


def test_the_live_answer_counts_what_waits_and_changes_only_with_the_requests(client, pages, make, now):
    shelter = make.shelter("PVPT")
    manager = make.manager(shelter)
    officer = make.user("police")
    settings = services.Settings.from_config(current_app.config)
    pages.login(manager.username)
    before = client.get("/placements/live").json
    assert before["waiting"] == 0 and client.get("/placements/live").json == before
    events = audit_count(manager)
    request = services.create_request(db.session, officer, now, make.case(officer), settings)
    db.session.commit()
    assert client.get("/placements/live").json == before  # not the manager's to see yet
    services.reserve(db.session, officer, now, request, "PVPT", settings)
    db.session.commit()
    after = client.get("/placements/live").json
    assert after["waiting"] == 1 and after["stamp"] != before["stamp"]
    assert audit_count(manager) == events  # polling read no case and no address
    html = body(client.get("/shelters/PVPT"))
    assert_clean_html(html)
    assert '<meta name="live-url" content="/placements/live"' in html and 'data-live-badge>1</span>' in html
    # The incoming requests lead the board, above its beds, in the container the script refreshes.
    lead = html.index('id="live-board-lead" data-live')
    assert lead < html.index('id="incoming-heading"') < html.index('id="beds-heading"')
    assert re.search(r'data-countdown="[^"]+" data-hm="held for \{h\} h \{m\} min" data-m="held for \{m\} min"', html)


def test_the_officer_s_request_page_has_live_parts_and_a_countdown(client, pages, make, now):
    shelter = make.shelter("PVPT")
    officer = make.user("police")
    request = make.reserved(shelter, by=officer)
    pages.login(officer.username)
    html = body(client.get(f"/placements/{request.id}"))
    assert 'id="live-request-state" data-live' in html and 'id="live-request-timeline" data-live' in html
    assert re.search(r">held for 1 h 5\d min</span>", html)
    html = body(client.get("/placements?status=waiting"))
    assert f"#{request.id}<" in html and "1 of your requests is live." in html and 'id="live-requests"' in html


def test_held_for_reads_as_a_countdown_in_each_language(app, now):
    with app.test_request_context():
        assert held_for(now + timedelta(hours=1, minutes=58, seconds=30), now) == "held for 1 h 58 min"
        assert held_for(now + timedelta(minutes=7), now) == "held for 7 min"
        assert held_for(now - timedelta(minutes=1), now) == "the hold has run out"
        with force_locale("sq"):
            assert held_for(now + timedelta(minutes=7), now) == "mbahet edhe 7 min"
        with force_locale("sr_Latn"):
            assert held_for(now + timedelta(hours=2), now) == "drži se još 2 h 0 min"


def test_the_secretariat_sees_what_waits_and_the_open_alerts(client, pages, make, now):
    officer = make.user("police")
    settings = services.Settings.from_config(current_app.config)
    services.create_request(db.session, officer, now, make.case(officer), settings)
    db.session.commit()
    pages.login(make.user("secretariat").username)
    html = body(client.get("/placements?status=waiting"))
    assert "1 request has no accepted bed yet." in html
    assert client.get("/placements/live").json["waiting"] == 1


def test_an_open_page_polling_does_not_keep_its_session_alive(client, pages, make):
    import time

    pages.login(make.user("police").username)
    started = int(time.time()) - 10 * 60
    with client.session_transaction() as sess:
        sess["seen_at"] = started
    # Polls and refetches by the script (X-Live) are answered but are not activity ...
    assert client.get("/placements/live", headers={"X-Live": "1"}).status_code == 200
    assert client.get("/placements", headers={"X-Live": "1"}).status_code == 200
    with client.session_transaction() as sess:
        assert sess["seen_at"] == started
    # ... so the idle minutes run out as if nobody were there.
    with client.session_transaction() as sess:
        sess["seen_at"] = int(time.time()) - 16 * 60
    answer = client.get("/placements/live", headers={"X-Live": "1"})
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]

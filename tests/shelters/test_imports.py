"""Bulk import of shelters and residents (CSV and XLSX), from the page and `flask import`: dry runs report every
row and every error by row and column in the reader's language; applying is all or nothing, audited, and a second
upload of the same file changes nothing; formulas and oversize files are refused; the demo round-trips."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from accounts.models import AuditEvent
from extensions import db
from accounts import services as accounts
from shelters import demo, figures, imports
from shelters.models import Case, Shelter, Stay
from tests.fixtures.pages import body

SHELTERS_CSV = """code,name,region,capacity,opened_on,sexes,services,languages,telephone,lat,lon
OLD1,Old shelter,Pejë,6,{opened},female;male,medical;legal,sq;en,+383 44 000 001,42.66,-21.17
OLD2,Second,Prizren,4,,female,,sq,,,
"""


def _csv(rows: list[dict[str, str]], kind: str) -> bytes:
    return imports.write_csv(kind, rows).encode()


def _write(tmp_path, name: str, data: bytes):  # noqa: ANN001, ANN202
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def _events(action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def test_shelters_dry_run_then_apply_then_the_same_file_changes_nothing(runner, tmp_path, now):
    opened = (now - timedelta(days=400)).date().isoformat()
    path = _write(tmp_path, "shelters.csv", SHELTERS_CSV.format(opened=opened).encode())
    dry = runner.invoke(args=["import", "shelters", path])
    assert dry.exit_code == 0, dry.output
    assert "row 2: OLD1: new" in dry.output and "row 3: OLD2: new" in dry.output and "dry run" in dry.output
    assert db.session.scalar(select(func.count()).select_from(Shelter)) == 0

    applied = runner.invoke(args=["import", "shelters", path, "--apply"])
    assert applied.exit_code == 0 and "applied" in applied.output, applied.output
    old = db.session.scalar(select(Shelter).where(Shelter.code == "OLD1"))
    assert old.opened_on.isoformat() == opened and old.sexes == ["female", "male"] and old.lon == -21.17
    assert old.telephone == "+383 44 000 001"
    assert _events("import.shelters") == 1 and _events("shelter.create") == 2

    again = runner.invoke(args=["import", "shelters", path, "--apply"])
    assert again.exit_code == 0 and "2 unchanged" in again.output, again.output
    assert _events("shelter.update") == 0
    changed = SHELTERS_CSV.format(opened=opened).replace("Second,Prizren,4", "Second,Prizren,5")
    updated = runner.invoke(args=["import", "shelters", _write(tmp_path, "more.csv", changed.encode()), "--apply"])
    assert "row 3: OLD2: updated" in updated.output and _events("shelter.update") == 1


def test_every_error_is_reported_by_row_and_column_and_nothing_is_applied(runner, tmp_path, now):
    rows = (f"code,name,region,capacity,opened_on\n"
            f"GOOD,Fine,Pejë,3,\n"
            f"bad code,Wrong code,Pejë,3,\n"
            f"LATE,Future,Pejë,3,{(now + timedelta(days=5)).date().isoformat()}\n"
            f"MANY,Beds,Pejë,lots,\n"
            f"GOOD,Again,Pejë,2,\n"
            f"NONAME,,Pejë,2,\n")
    result = runner.invoke(args=["import", "shelters", _write(tmp_path, "s.csv", rows.encode()), "--apply"])
    assert result.exit_code == 1 and "nothing was changed" in result.output
    out = result.output
    assert "row 2: GOOD: new" in out
    assert "row 3, column code: Code must be 1-16 capitals" in out
    assert "row 4, column opened_on: The field opened_on cannot be in the future." in out
    assert "row 5, column capacity: not a whole number" in out
    assert "row 6, column code: the same as row 2" in out
    assert "row 7, column name: required" in out
    assert db.session.scalar(select(func.count()).select_from(Shelter)) == 0
    assert _events("import.shelters") == 0


def test_residents_come_with_their_admission_days_and_a_second_upload_adds_none(runner, make, tmp_path, now):
    make.shelter("PVPT", capacity=5, opened_on=(now - timedelta(days=90)).date())
    admitted = (now - timedelta(days=40)).date().isoformat()
    rows = [{"shelter": "PVPT", "reference": "P-2026/017", "admitted_on": admitted, "sex": "female", "age": "24",
             "nationality": "MD", "languages": "ro;ru", "children": "1"},
            {"shelter": "PVPT", "reference": "P-2026/018", "admitted_on": admitted, "sex": "female",
             "birth_year": "2001", "nationality": "AL", "identified_on": (now - timedelta(days=41)).date().isoformat()},
            {"shelter": "PVPT", "reference": "P-2025/001", "sex": "female", "age": "30", "nationality": "XK",
             "admitted_on": (now - timedelta(days=100)).date().isoformat()},
            {"shelter": "NOPE", "reference": "X1", "admitted_on": admitted, "sex": "female", "age": "30",
             "nationality": "XK"}]
    path = _write(tmp_path, "residents.csv", _csv(rows, "residents"))
    refused = runner.invoke(args=["import", "residents", path, "--apply"])
    assert "row 4, column admitted_on: The field admitted_at is before the shelter opened" in refused.output
    assert "row 5, column shelter: Unknown shelter NOPE." in refused.output
    assert db.session.scalar(select(func.count()).select_from(Case)) == 0

    path = _write(tmp_path, "residents.csv", _csv(rows[:2], "residents"))
    assert runner.invoke(args=["import", "residents", path, "--apply"]).exit_code == 0
    stays = list(db.session.scalars(select(Stay).order_by(Stay.id)))
    assert [s.admitted_at.date().isoformat() for s in stays] == [admitted, admitted]
    assert [s.beds for s in stays] == [2, 1]
    assert "0 new, 0 updated, 2 unchanged" in runner.invoke(args=["import", "residents", path, "--apply"]).output
    assert db.session.scalar(select(func.count()).select_from(Stay)) == 2
    util = figures.utilisation(db.session, now, 30, None)
    assert util[stays[0].shelter_id].ratio is not None  # backdated residents count against the opening


def _xlsx(header: list[str], *rows: list[object]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_is_read_and_formulas_are_refused(runner, tmp_path):
    header = ["code", "name", "region", "capacity"]
    good = _write(tmp_path, "s.xlsx", _xlsx(header, ["XL1", "From Excel", "Pejë", 4]))
    assert "row 2: XL1: new" in runner.invoke(args=["import", "shelters", good]).output
    formula = _write(tmp_path, "f.xlsx", _xlsx(header, ["XL1", "From Excel", "Pejë", "=2+2"]))
    result = runner.invoke(args=["import", "shelters", formula, "--apply"])
    assert result.exit_code == 1 and "Row 2, column capacity holds a formula" in result.output
    injected = _write(tmp_path, "f.csv", b'code,name,region,capacity\nCSV1,"=HYPERLINK(""x"")",Pej\xc3\xab,4\n')
    result = runner.invoke(args=["import", "shelters", injected])
    assert result.exit_code == 1 and "holds a formula" in result.output
    assert db.session.scalar(select(func.count()).select_from(Shelter)) == 0


# --- the page --------------------------------------------------------------------------------------------------


@pytest.fixture
def secretariat_page(pages, make):
    user = make.user("secretariat", username="sec-import")
    pages.login(user.username)
    return pages


def _upload(pages, kind: str, name: str, data: bytes, apply: bool = False, **headers):  # noqa: ANN001, ANN202
    form = {"kind": kind, "upload": (io.BytesIO(data), name)}
    if apply:
        form["apply"] = "y"
    return pages.post("/imports", form, from_page="/imports", content_type="multipart/form-data", headers=headers)


def test_the_page_reports_errors_in_the_readers_language_and_applies_all_or_nothing(client, secretariat_page, now):
    client.post("/language", data={"language": "sq", "csrf_token": secretariat_page.csrf("/imports")})
    rows = b"code,name,region,capacity\nWEB1,Web,Pej\xc3\xab,3\nWEB2,Web two,Pej\xc3\xab,many\n"
    response = _upload(secretariat_page, "shelters", "s.csv", rows, apply=True)
    html = body(response)
    assert response.status_code == 422
    assert "Rreshti 3, kolona capacity: nuk është numër i plotë" in html and "Asgjë nuk u ndryshua" in html
    assert db.session.scalar(select(func.count()).select_from(Shelter)) == 0
    good = b"code,name,region,capacity\nWEB1,Web,Pej\xc3\xab,3\n"
    assert _upload(secretariat_page, "shelters", "s.csv", good).status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Shelter)) == 0  # a dry run
    response = _upload(secretariat_page, "shelters", "s.csv", good, apply=True)
    assert response.status_code == 200 and "Importi u zbatua" in body(response)
    assert db.session.scalar(select(Shelter.name).where(Shelter.code == "WEB1")) == "Web"


def test_the_page_refuses_oversize_files_and_other_formats(secretariat_page):
    big = b"code,name,region,capacity\n" + b"X" * (imports.MAX_BYTES + 1)
    response = _upload(secretariat_page, "shelters", "big.csv", big)
    assert response.status_code == 422 and "The file is larger than 2 MB." in body(response)
    response = _upload(secretariat_page, "shelters", "s.ods", b"whatever")
    assert response.status_code == 422 and "Upload a .csv or .xlsx file." in body(response)


@pytest.mark.parametrize("language,word", [("sq", "E detyrueshme"), ("sr", "Obavezno"), ("en", "Required")])
def test_templates_explain_the_columns_in_the_readers_language(client, secretariat_page, language, word):
    client.post("/language", data={"language": language, "csrf_token": secretariat_page.csrf("/imports")})
    response = client.get("/imports/templates/residents.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    assert [c.value for c in book["data"][1]][:3] == ["shelter", "reference", "admitted_on"]
    codes = [[c.value for c in row] for row in book["codes"].iter_rows()]
    assert codes[0][1] == word and any(row[0] == "risk" and "high" in row[3] for row in codes)
    header = client.get("/imports/templates/shelters.csv").get_data(as_text=True).splitlines()[0]
    assert header.startswith("code,name,region,capacity")


def test_only_the_secretariat_imports(client, pages, make):
    pages.login(make.user("admin", username="admin-import").username)
    assert client.get("/imports").status_code == 403
    assert client.get("/imports/templates/shelters.csv").status_code == 403


# --- the demo round trip -----------------------------------------------------------------------------------------


def _shelter_figures(now) -> dict:  # noqa: ANN001
    from shelters import services

    return {line.row.code: (line.row.capacity, line.row.out_of_service, line.row.opened_on, line.occupancy.occupied,
                            line.occupancy.residents, line.utilisation_30d)
            for line in services.list_shelter_lines(db.session, now)}


def test_the_demo_round_trips_export_wipe_import(runner, tmp_path, now):
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    before = _shelter_figures(now)
    shelters_csv, residents_csv = str(tmp_path / "shelters.csv"), str(tmp_path / "residents.csv")
    assert runner.invoke(args=["export", "shelters", shelters_csv]).exit_code == 0
    assert runner.invoke(args=["export", "residents", residents_csv]).exit_code == 0
    residents = list(csv.DictReader(open(residents_csv, encoding="utf-8")))
    assert residents and all(row["reference"] for row in residents)

    # Wipe: what a new installation starts from, an empty database (the demo's reset empties the audit log too)
    # with its organisations registered, so that the shelters' operators are known.
    demo.reset(db.session)
    for code, name, kind, mou in demo.ORGANISATIONS:
        accounts.create_organisation(db.session, None, now, code=code, name=name, kind=kind, mou_in_force=mou,
                                     mou_since=now.date() if mou else None)
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Shelter)) == 0

    for kind, path in (("shelters", shelters_csv), ("residents", residents_csv)):
        result = runner.invoke(args=["import", kind, path, "--apply"])
        assert result.exit_code == 0 and "applied" in result.output, result.output
    check = runner.invoke(args=["check"])
    assert check.exit_code == 0, check.output
    assert _shelter_figures(now) == before


def test_anonymising_a_case_forgets_its_intake_reference(make):
    from shelters.retention import anonymise_case

    case = make.case()
    case.intake_reference = "PVPT/P-1"
    anonymise_case(case)
    assert case.intake_reference is None

"""Issue #7, done when: a shelter manager's whole day reads in Albanian. The demo's manager switches to
Albanian, admits a resident through the board's form, confirms the headcount and discharges a resident; every
label, message and date on the way is in Albanian, and no English string is left on any page of that day."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from flask import current_app
from flask_babel import force_locale, gettext, ngettext, pgettext
from sqlalchemy import select

from accounts.models import User
from extensions import db
from placement import services as placement
from shelters import services
from shelters.models import Case, Stay
from tests.test_i18n import demo_app, untranslated_on, visible_text  # noqa: F401 - demo_app is a fixture

ALBANIAN_MONTHS = "jan|shk|mar|pri|maj|qer|korr|gush|sht|tet|nën|dhj"
ALBANIAN_DAY = re.compile(rf"\b\d{{1,2}} ({ALBANIAN_MONTHS}) \d{{4}}\b")
ALBANIAN_MOMENT = re.compile(rf"\b\d{{1,2}} ({ALBANIAN_MONTHS}) \d{{4}}, \d{{2}}:\d{{2}} UTC\b")
ADMITTED_AT = datetime(2026, 11, 28, 14, 5, tzinfo=UTC)

# The board's labels, in English: each must read in Albanian. Some are shared with other pages (and other
# catalogues), so the test asks the catalogues for the Albanian rather than spelling each one out.
BOARD_LABELS = [
    "Beds", "Capacity", "Out of service", "Occupied", "Held for placements", "Free beds", "Utilisation, 30 days",
    "Last headcount confirmed:", "Address", "confidential", "Residents", "Case code", "Discharge",
    "Reason", "Note (required for other)", "Confirm discharge", "Repatriated", "Reintegrated",
    "Transferred to another shelter", "Left voluntarily", "Other (say why in the note)",
]
ADMIT_FORM_LABELS = ["Admit a case", "Case code", "Admitted at (local time, leave empty for now)", "Admit"]
HEADCOUNT_FORM_LABELS = [
    "Confirm the headcount", "Count the beds taken now, residents and their accompanying children.",
    "Beds taken right now (residents and their children)", "Confirm headcount",
]


@pytest.fixture
def backend() -> str:
    """Rendering is the same on either database: this runs on SQLite only."""
    return "sqlite"


def _page(response) -> str:
    assert response.status_code == 200, response.status_code
    html = response.get_data(as_text=True)
    assert '<html lang="sq">' in html
    assert untranslated_on(html, "sq") == []
    return html


def _shows(html: str, *labels: str) -> None:
    text = visible_text(html)
    missing = [label for label in labels if label not in text and not any(label in t for t in text)]
    assert not missing, missing


def _albanian(*english: str) -> list[str]:
    """The Albanian of these labels, as the catalogues give it; each must differ from the English."""
    with force_locale("sq"):
        albanian = [gettext(label) for label in english]
    assert not [e for e, a in zip(english, albanian, strict=True) if e == a]
    return albanian


def test_a_managers_day_reads_in_albanian(demo_app, client, pages, now) -> None:  # noqa: F811
    newcomer = services.create_case(db.session, None, now, {
        "sex": "female", "age": 24, "nationality": "MD", "languages": ["ro"], "exploitation": ["labour"],
        "needs": ["medical"], "risk": "medium", "identified_on": date(2026, 11, 27)})
    # The demo's officer reserved PVPT's free bed for the newcomer: a manager admits what is placed with them.
    officer = db.session.scalar(select(User).where(User.username == "police"))
    settings = placement.Settings.from_config(current_app.config)
    placement.reserve(db.session, officer, now, placement.create_request(db.session, officer, now, newcomer, settings),
                      "PVPT", settings)
    db.session.commit()
    assert pages.login("manager", "manager-demo-password").status_code == 302
    assert pages.post("/language", {"language": "sq"}, from_page="/shelters").status_code == 302

    # The board, in the morning: every label and form in Albanian, the dates in Albanian.
    board = _page(client.get("/home", follow_redirects=True))
    _shows(board, *_albanian(*BOARD_LABELS, *ADMIT_FORM_LABELS, *HEADCOUNT_FORM_LABELS))
    with force_locale("sq"):
        assert f"<th scope=\"col\">{pgettext('date of admission', 'Admitted')}</th>" in board
    _shows(board, "Prano një rast", "Pranuar më (ora vendore, lëreni bosh për tani)", "Konfirmoni numërimin e banorëve",
           "Shtretër të zënë tani (banorët dhe fëmijët e tyre)", "Konfirmo largimin")
    assert ALBANIAN_MOMENT.search(board)  # the last headcount
    assert len(ALBANIAN_DAY.findall(board)) >= 5  # the four residents' admissions and the headcount

    # A form sent half-filled is refused in Albanian, beside the field.
    refused = client.post("/shelters/PVPT/admit", data={"case_code": "", "csrf_token": pages.csrf("/shelters/PVPT")})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert untranslated_on(html, "sq") == []
    _shows(html, "Pranimi nuk u ruajt: kontrolloni fushat e theksuara.", "Kjo fushë është e detyrueshme.")

    # The admission, with the time it happened: the flash and the board's new row are in Albanian.
    admitted = pages.post("/shelters/PVPT/admit", {"case_code": newcomer.code,
                                                   "admitted_at": ADMITTED_AT.strftime("%Y-%m-%dT%H:%M")},
                          from_page="/shelters/PVPT", follow_redirects=True)
    board = _page(admitted)
    with force_locale("sq"):  # the same sentence as placement's admission: one translation, whichever says it
        flashed = ngettext("Case %(code)s admitted (%(num)d bed).", "Case %(code)s admitted (%(num)d beds).", 1,
                           code=newcomer.code)
    assert flashed.startswith(f"Rasti {newcomer.code} ")
    _shows(board, flashed)
    row = re.search(rf"{newcomer.code}</a></th>\s*<td[^>]*>([^<]+)</td>", board)
    assert row and row.group(1) == "28 nën 2026"
    assert "2026-11-28" not in board and "Nov" not in board

    # The new resident's case page.
    case_page = _page(client.get(f"/cases/{newcomer.code}"))
    assert re.search(rf"<h1>Rasti <span class=\"code\">{newcomer.code}</span>", case_page)
    _shows(case_page, "Statusi", "I vendosur", "Strehuar në", "PVPT", "që nga",
           "28 nën 2026", "Gjinia", "Femër", "Mosha", "Shtetësia", "Gjuhët", "Shfrytëzimi", "Punë e detyruar",
           "Nevojat", "Kujdes mjekësor", "Rreziku", "I mesëm", "Identifikuar më", "27 nën 2026")

    # The headcount: five beds taken now.
    counted = pages.post("/shelters/PVPT/headcount", {"occupied": 5}, from_page="/shelters/PVPT",
                         follow_redirects=True)
    board = _page(counted)
    _shows(board, "Numërimi u konfirmua: 5 shtretër të zënë.")
    confirmed = re.search(r'class="headcount-status">[^<]*<strong>([^<]+)</strong>', board)
    assert confirmed and ALBANIAN_MOMENT.fullmatch(confirmed.group(1))

    # The discharge of one of the residents.
    stay = db.session.scalar(select(Stay).join(Case).where(Case.code == newcomer.code))
    discharged = pages.post(f"/stays/{stay.id}/discharge", {"reason": "reintegrated"}, from_page="/shelters/PVPT",
                            follow_redirects=True)
    board = _page(discharged)
    _shows(board, f"Rasti {newcomer.code} u largua nga strehimorja: i riintegruar.")
    assert f"/stays/{stay.id}/discharge" not in board

"""Bulk import of shelters, and of a shelter's current residents, from CSV or XLSX: how a secretariat that adopts
Safe Haven brings in what already exists.

Reading (`read_table`) refuses what is not a table of text: an unknown format, a file over MAX_BYTES or MAX_ROWS,
a formula cell (XLSX formulas; CSV cells that a spreadsheet would run as one, "=...", "@...", "+A1"), an unknown
or repeated column. Then `run_import` takes each row through the same services a form would (create_shelter,
update_shelter, create_case, admit_case), each in a savepoint, and reports every row's outcome and every error
with its row, column and reason (a lazy string: in the reader's language on the page). The caller commits only an
applied import without errors, so applying is all or nothing, in one transaction, with one audit event of its own
beside the services' events. Uploading the same file again changes nothing: shelters are found by code (an
unchanged row is "unchanged"), residents by the shelter's own reference (`Case.intake_reference`).

Row numbers are the spreadsheet's: the header is row 1. Columns are named by the API's field names, in English
in every language; the templates (`template_workbook`) explain them and their codes in the reader's language.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import audit
from accounts.models import User
from errors import DomainError, Invalid
from i18n import lazy_gettext as _l
from shelters import services
from shelters.models import SERVICES, Ages, Case, Risk, Security, Sex, Shelter, ShelterStatus

KINDS = ("shelters", "residents")
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
MAX_COLUMNS = 64
LIST_SEPARATOR = re.compile(r"[;,]")
REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")
NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


class ImportRefused(Invalid):
    """The file as a whole cannot be read (format, size, formula, columns); nothing was looked at further."""

    code = "import_refused"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text, int, float, date, list
    required: bool
    explanation: Any  # a lazy string
    codes: Sequence[str] = ()


SHELTER_COLUMNS = (
    Column("code", "text", True, _l("The shelter's code: 1-16 capitals, digits or dashes; it finds the shelter "
                                    "again on a second upload.")),
    Column("name", "text", True, _l("The shelter's name.")),
    Column("region", "text", True, _l("The region the shelter is in.")),
    Column("capacity", "int", True, _l("Beds in all.")),
    Column("out_of_service", "int", False, _l("Beds out of service (default 0).")),
    Column("opened_on", "date", False, _l("The day the shelter opened, YYYY-MM-DD (default today); its "
                                          "bed-nights count from then.")),
    Column("kind", "text", False, _l("Kind of shelter (default ngo)."), ("state", "ngo", "interim")),
    Column("operator", "text", False, _l("The code of the organisation that runs it (optional).")),
    Column("sexes", "list", False, _l("Whom it takes, separated by semicolons (default female)."), tuple(Sex)),
    Column("ages", "text", False, _l("Ages it takes (default adults)."), tuple(Ages)),
    Column("children_capacity", "int", False, _l("Beds for accompanying children (default 0).")),
    Column("services", "list", False, _l("Services offered, separated by semicolons."), SERVICES),
    Column("languages", "list", False, _l("Languages spoken, ISO 639-1 codes separated by semicolons (sq;sr;en).")),
    Column("security", "text", False, _l("Security level (default standard)."), tuple(Security)),
    Column("status", "text", False, _l("Status (default open)."), tuple(ShelterStatus)),
    Column("municipality", "text", False, _l("Municipality (confidential).")),
    Column("address", "text", False, _l("Address (confidential).")),
    Column("telephone", "text", False, _l("Telephone (confidential).")),
    Column("lat", "float", False, _l("Latitude (confidential).")),
    Column("lon", "float", False, _l("Longitude (confidential).")),
)

RESIDENT_COLUMNS = (
    Column("shelter", "text", True, _l("The code of the shelter the resident lives in.")),
    Column("reference", "text", True, _l("The shelter's own file number for the resident: letters, digits, . _ / - "
                                         "(at most 40), never a name; it finds the resident again on a second "
                                         "upload.")),
    Column("admitted_on", "date", True, _l("The day of admission, YYYY-MM-DD: not before the shelter opened nor "
                                           "before the case was identified.")),
    Column("sex", "text", True, _l("Sex."), tuple(Sex)),
    Column("age", "int", False, _l("Age when identified (give age or birth_year).")),
    Column("birth_year", "int", False, _l("Year of birth (give age or birth_year).")),
    Column("nationality", "text", True, _l("Nationality, ISO 3166 alpha-2 (AL, MD, XK).")),
    Column("identified_on", "date", False, _l("The day the victim was identified, YYYY-MM-DD (default the day of "
                                              "admission).")),
    Column("languages", "list", False, _l("Languages spoken, ISO 639-1 codes separated by semicolons.")),
    Column("needs", "list", False, _l("Services needed, separated by semicolons."), SERVICES),
    Column("children", "int", False, _l("Accompanying children (default 0).")),
    Column("risk", "text", False, _l("Risk (default medium)."), tuple(Risk)),
    Column("region", "text", False, _l("The region the victim comes from (optional).")),
)

COLUMNS = {"shelters": SHELTER_COLUMNS, "residents": RESIDENT_COLUMNS}
# A service names the field it refuses; the import names the column that holds it.
FIELD_COLUMNS = {"admitted_at": "admitted_on", "case_code": "reference"}


# --- reading -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (row number, column -> text)


def _refuse(message: Any, row: int | None = None, column: str | None = None) -> ImportRefused:
    where = {"file": "refused"} if row is None else {f"row {row}" + (f", {column}" if column else ""): "refused"}
    return ImportRefused(message, fields=where)


def _is_formula(text: str) -> bool:
    """What a spreadsheet would run rather than show: "=...", "@...", or "+"/"-" before anything but a number
    or a telephone number."""
    text = text.lstrip()
    if text[:1] in ("=", "@"):
        return True
    return text[:1] in ("+", "-") and not NUMBER.match(text) and not services.TELEPHONE.match(text)


def read_table(kind: str, filename: str, data: bytes) -> Table:
    """The rows of an uploaded CSV or XLSX file as text by column name. Raises ImportRefused."""
    if len(data) > MAX_BYTES:
        raise _refuse(_l("The file is larger than %(size)s MB.", size=MAX_BYTES // (1024 * 1024)))
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix == "csv":
        raw_rows = _csv_rows(data)
    elif suffix == "xlsx":
        raw_rows = _xlsx_rows(data)
    else:
        raise _refuse(_l("Upload a .csv or .xlsx file."))
    header_row = next(raw_rows, None)
    if header_row is None:
        raise _refuse(_l("The file is empty."))
    header = [cell.strip().lower() for cell in header_row]
    known = {column.name for column in COLUMNS[kind]}
    for position, name in enumerate(header):
        if name and name not in known:
            raise _refuse(_l("Unknown column %(column)s.", column=name), 1, name)
        if name and header.index(name) != position:
            raise _refuse(_l("Column %(column)s appears twice.", column=name), 1, name)
    missing = [column.name for column in COLUMNS[kind] if column.required and column.name not in header]
    if missing:
        raise _refuse(_l("Missing columns: %(columns)s.", columns=", ".join(missing)), 1)
    rows = []
    for number, cells in enumerate(raw_rows, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(rows) >= MAX_ROWS:
            raise _refuse(_l("The file holds more than %(rows)s rows.", rows=MAX_ROWS))
        values = {}
        for name, cell in zip(header, cells, strict=False):
            if not name:
                continue
            if _is_formula(cell):
                raise _refuse(_l("Row %(row)s, column %(column)s holds a formula; formulas are refused.",
                                 row=number, column=name), number, name)
            values[name] = cell.strip()
        rows.append((number, values))
    return Table(header, rows)


def _csv_rows(data: bytes) -> Iterable[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _refuse(_l("The CSV file is not UTF-8 text.")) from error
    if "\x00" in text:
        raise _refuse(_l("The CSV file is not UTF-8 text."))
    return iter(list(csv.reader(io.StringIO(text, newline=""))))


def _xlsx_rows(data: bytes) -> Iterable[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as error:  # noqa: BLE001 - any unreadable upload is one refusal
        raise _refuse(_l("The XLSX file cannot be read.")) from error
    sheet = book.worksheets[0]
    rows = []
    # No template has more than MAX_COLUMNS columns: cells beyond them are not even parsed.
    for number, row in enumerate(sheet.iter_rows(max_col=MAX_COLUMNS), start=1):
        if number > MAX_ROWS + 1:
            raise _refuse(_l("The file holds more than %(rows)s rows.", rows=MAX_ROWS))
        cells = []
        for cell in row:
            if getattr(cell, "data_type", None) == "f":
                name = rows[0][len(cells)] if rows and len(cells) < len(rows[0]) else ""
                raise _refuse(_l("Row %(row)s, column %(column)s holds a formula; formulas are refused.",
                                 row=number, column=name or len(cells) + 1), number, name or None)
            cells.append(_cell_text(cell.value))
        rows.append(cells)
    book.close()
    return iter(rows)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- one row's values ----------------------------------------------------------------------------------------


@dataclass
class RowOutcome:
    row: int
    key: str
    outcome: str = ""  # create, update, unchanged, error
    errors: list[tuple[str, Any]] = field(default_factory=list)  # (column, reason)

    @property
    def label(self) -> str:
        return str(OUTCOME_LABELS.get(self.outcome, self.outcome))


OUTCOME_LABELS = {"create": _l("new"), "update": _l("updated"), "unchanged": _l("unchanged"), "error": _l("error")}


def _parse(column: Column, text: str) -> Any:
    """A cell's text as the service takes it; raises Invalid naming the column."""
    try:
        match column.kind:
            case "int":
                if not re.fullmatch(r"[+-]?\d+", text):
                    raise ValueError
                return int(text)
            case "float":
                return float(text.replace(",", "."))
            case "date":
                return date.fromisoformat(text)
            case "list":
                return [item.strip() for item in LIST_SEPARATOR.split(text) if item.strip()]
            case _:
                return text
    except ValueError as error:
        reason = {"int": _l("not a whole number"), "float": _l("not a number"),
                  "date": _l("not a date (YYYY-MM-DD)")}[column.kind]
        raise Invalid(reason, fields={column.name: "invalid"}) from error


def _values(kind: str, cells: Mapping[str, str], outcome: RowOutcome) -> dict[str, Any]:
    values = {}
    for column in COLUMNS[kind]:
        text = cells.get(column.name, "")
        if not text:
            if column.required:
                outcome.errors.append((column.name, _l("required")))
            continue
        try:
            values[column.name] = _parse(column, text)
        except Invalid as error:
            outcome.errors.append((column.name, error.message))
    return values


def _errors_of(error: DomainError, columns: Sequence[str]) -> list[tuple[str, Any]]:
    named = [FIELD_COLUMNS.get(name, name) for name in error.fields]
    named = [name for name in named if name in columns] or ["-"]
    return [(name, error.message) for name in named[:1]]


# --- running an import ---------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    kind: str
    applied: bool
    rows: list[RowOutcome]

    @property
    def errors(self) -> int:
        return sum(len(row.errors) for row in self.rows)

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)


def run_import(session: Session, actor: User | None, now: datetime, kind: str, table: Table,
               *, apply: bool) -> ImportReport:
    """Take every row through the services, each in a savepoint, and report each row's outcome and errors.

    Nothing is committed here: the caller commits when `apply` is set and the report has no errors, and rolls
    back otherwise (a dry run always). An applied import records one `import.<kind>` audit event."""
    handle: Callable[[Session, User | None, datetime, dict[str, Any], RowOutcome], None] = (
        _shelter_row if kind == "shelters" else _resident_row)
    names = [column.name for column in COLUMNS[kind]]
    outcomes = []
    seen: dict[str, int] = {}
    for number, cells in table.rows:
        key = cells.get("code" if kind == "shelters" else "reference", "")
        if kind == "residents":
            key = f"{cells.get('shelter', '')}/{key}"
        outcome = RowOutcome(number, key)
        outcomes.append(outcome)
        if key in seen:
            outcome.errors.append(("code" if kind == "shelters" else "reference",
                                   _l("the same as row %(row)s", row=seen[key])))
        seen.setdefault(key, number)
        values = _values(kind, cells, outcome)
        if outcome.errors:
            outcome.outcome = "error"
            continue
        savepoint = session.begin_nested()
        try:
            handle(session, actor, now, values, outcome)
            savepoint.commit()
        except DomainError as error:
            savepoint.rollback()
            outcome.errors.extend(_errors_of(error, names))
            outcome.outcome = "error"
    report = ImportReport(kind, apply and not any(o.errors for o in outcomes), outcomes)
    if report.applied:
        audit.record(session, actor=actor, action=f"import.{kind}", object_type="import", object_id=kind, now=now,
                     detail={"rows": len(outcomes), "created": report.count("create"),
                             "updated": report.count("update"), "unchanged": report.count("unchanged")})
    return report


def _shelter_row(session: Session, actor: User | None, now: datetime, values: dict[str, Any],
                 outcome: RowOutcome) -> None:
    code = values.pop("code")
    shelter = session.scalar(select(Shelter).where(Shelter.code == code))
    if shelter is None:
        services.create_shelter(session, actor, now, code, values)
        outcome.outcome = "create"
        return
    current = {name: getattr(shelter, name) for name in values if name != "operator"}
    if "operator" in values:
        current["operator"] = shelter.operator.code if shelter.operator else None
    changes = {name: value for name, value in values.items() if _differs(current.get(name), value)}
    if not changes:
        outcome.outcome = "unchanged"
        return
    services.update_shelter(session, actor, now, shelter, shelter.version, changes)
    outcome.outcome = "update"


def _differs(current: Any, new: Any) -> bool:
    if isinstance(current, list) and isinstance(new, list):
        return sorted(current) != sorted(new)
    if isinstance(current, float) or isinstance(new, float):
        return current is None or new is None or abs(float(current) - float(new)) > 1e-9
    return current != new


def _resident_row(session: Session, actor: User | None, now: datetime, values: dict[str, Any],
                  outcome: RowOutcome) -> None:
    shelter_code, reference, admitted_on = values.pop("shelter"), values.pop("reference"), values.pop("admitted_on")
    if not REFERENCE.match(reference):
        raise Invalid(_l("Reference may hold letters, digits and . _ / - only, at most 40."),
                      fields={"reference": "invalid"})
    shelter = session.scalar(select(Shelter).where(Shelter.code == shelter_code))
    if shelter is None:
        raise Invalid(_l("Unknown shelter %(code)s.", code=shelter_code), fields={"shelter": "unknown"})
    intake = f"{shelter.code}/{reference}"
    if session.scalar(select(Case.id).where(Case.intake_reference == intake)) is not None:
        outcome.outcome = "unchanged"
        return
    values.setdefault("identified_on", admitted_on)
    case = services.create_case(session, actor, now, values)
    case.intake_reference = intake
    admitted_at = min(now, datetime.combine(admitted_on, time(12), UTC))
    services.admit_case(session, actor, now, shelter, case, admitted_at)
    outcome.outcome = "create"


# --- export and templates ------------------------------------------------------------------------------------


def export_rows(session: Session, kind: str) -> list[dict[str, str]]:
    """Every shelter, or every current resident, as import rows (what a second system would upload): the
    round trip of an export through an empty database gives the same shelters, residents and figures."""
    if kind == "shelters":
        rows = []
        for shelter in session.scalars(select(Shelter).order_by(Shelter.code)):
            rows.append({
                "code": shelter.code, "name": shelter.name, "region": shelter.region,
                "capacity": str(shelter.capacity), "out_of_service": str(shelter.out_of_service),
                "opened_on": shelter.opened_on.isoformat(), "kind": shelter.kind,
                "operator": shelter.operator.code if shelter.operator else "", "sexes": ";".join(shelter.sexes),
                "ages": shelter.ages, "children_capacity": str(shelter.children_capacity),
                "services": ";".join(shelter.services), "languages": ";".join(shelter.languages),
                "security": shelter.security, "status": shelter.status, "municipality": shelter.municipality or "",
                "address": shelter.address or "", "telephone": shelter.telephone or "",
                "lat": "" if shelter.lat is None else repr(shelter.lat),
                "lon": "" if shelter.lon is None else repr(shelter.lon),
            })
        return rows
    from shelters.models import Stay

    rows = []
    stays = session.execute(select(Stay, Case, Shelter.code).join(Case, Stay.case_id == Case.id)
                            .join(Shelter, Stay.shelter_id == Shelter.id)
                            .where(Stay.discharged_at.is_(None)).order_by(Shelter.code, Stay.admitted_at, Case.code))
    for stay, case, shelter_code in stays:
        reference = (case.intake_reference or "").split("/", 1)[-1] or case.code
        rows.append({
            "shelter": shelter_code, "reference": reference,
            "admitted_on": stay.admitted_at.astimezone(UTC).date().isoformat(), "sex": case.sex,
            "birth_year": str(case.birth_year), "nationality": case.nationality,
            "identified_on": case.identified_on.isoformat(), "languages": ";".join(case.languages),
            "needs": ";".join(case.needs), "children": str(case.children), "risk": case.risk,
            "region": case.region or "",
        })
    return rows


def write_csv(kind: str, rows: Sequence[Mapping[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[column.name for column in COLUMNS[kind]], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def template_workbook(kind: str) -> bytes:
    """An XLSX template: the `data` sheet holds the header row to fill in; the `codes` sheet explains every
    column and its codes in the current language (its page's or the command's)."""
    from openpyxl import Workbook

    book = Workbook()
    data = book.active
    data.title = "data"
    data.append([column.name for column in COLUMNS[kind]])
    codes = book.create_sheet("codes")
    codes.append([_("Column"), _("Required"), _("Meaning"), _("Codes")])
    for column in COLUMNS[kind]:
        codes.append([column.name, _("yes") if column.required else _("no"), str(column.explanation),
                      "; ".join(column.codes)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()

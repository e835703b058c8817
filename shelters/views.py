"""Pages: the shelter list, a shelter's board (figures, residents, admit, discharge, capacity, headcount),
the shelter register and the case form. Each handler parses a form, checks permission, calls the same
services as shelters/api.py, commits once and redirects; a refusal is shown, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from babel import Locale
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from accounts.models import Organisation, Role, User
from accounts.permissions import ALL_ROLES, roles_required
from database import utcnow
from errors import DomainError, NotAllowed, StaleVersion
from extensions import db
from i18n import current_language
from i18n import lazy_gettext as _l
from shelters import permissions, services
from shelters.forms import (
    LABELS,
    RESOLUTIONS,
    AdmitForm,
    CapacityForm,
    CaseForm,
    DischargeForm,
    EditShelterForm,
    HeadcountForm,
    ImportForm,
    NewShelterForm,
    ShelterForm,
)
from shelters.models import Shelter, Stay

bp = Blueprint("shelters", __name__)

# Above this many beds the board draws one bar instead of a square per bed.
MAX_BED_SQUARES = 120

# Panels other packages add to a board (placement: incoming requests), since shelters imports none of them:
# each returns a template and its context for this user and shelter, or None to add nothing.
BOARD_PANELS: list[Callable[[User, Shelter], tuple[str, dict] | None]] = []


@bp.app_context_processor
def _navigation() -> dict[str, Any]:
    return {"can_create_case": permissions.can_create_case, "can_create_shelter": permissions.can_create_shelter,
            "can_import": permissions.can_import}


def _known_regions() -> list[str]:
    """The regions shelters are in, offered as suggestions where a region is typed."""
    return list(db.session.scalars(select(Shelter.region).distinct().order_by(Shelter.region)))


@bp.app_template_filter("shelter_label")
def shelter_label(value: str | None, kind: str) -> str:
    """What people read for a stored code: `{{ case.risk | shelter_label("risk") }}` (kinds: forms.LABELS)."""
    if not value:
        return ""
    return str(LABELS[kind].get(value, value.replace("_", " ")))


@bp.app_template_filter("language_name")
def language_name(code: str | None) -> str:
    """An ISO 639-1 code as the language's name in the page's language ("ro" -> "rumanisht"), else the code."""
    if not code:
        return ""
    locale = get_locale() or Locale("en")
    return locale.languages.get(code, code)


@bp.app_template_filter("country_name")
def country_name(code: str | None) -> str:
    """An ISO 3166 code as the country's name in the page's language ("MD" -> "Moldova"), else the code."""
    if not code:
        return ""
    locale = get_locale() or Locale("en")
    return locale.territories.get(code, code)


def _user() -> User:
    return current_user  # type: ignore[return-value]


def _to_board(shelter: Shelter) -> Response:
    return redirect(url_for("shelters.board", code=shelter.code))


# --- list --------------------------------------------------------------------------------------------------


@bp.get("/home")
def home() -> Response:
    """Each role lands on what waits for it: a manager on the board of their (first) shelter, incoming requests
    first; an officer on their live requests and the secretariat on the requests without an accepted bed (with
    the open alerts named above them); everyone else on the list."""
    user = _user()
    if user.role == Role.SHELTER_MANAGER and user.managed_shelters:
        return _to_board(user.managed_shelters[0])
    if user.role in (Role.POLICE, Role.SECRETARIAT):
        return redirect(url_for("placement.requests", status="waiting"))
    return redirect(url_for("shelters.index"))


@bp.get("/shelters")
@roles_required(*ALL_ROLES)
def index() -> str:
    if not permissions.can_list_shelters(_user()):
        return render_template("shelters/regions.html", beds=services.partner_beds(db.session, utcnow()),
                               other=services.OTHER_REGIONS, min_shelters=services.MIN_SHELTERS_PER_GROUP)
    return render_template("shelters/index.html", views=services.list_shelters(db.session, utcnow()))


# --- the board ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BedCell:
    state: str  # occupied, held, free, out (of service), over (occupied beyond usable capacity)
    label: str


def bed_cells(view: services.ShelterView) -> list[BedCell] | None:
    """One square per bed for the board's bar, or None when there are too many to draw."""
    s, occ = view.shelter, view.occupancy
    usable = max(0, s.usable)
    occupied_in = min(occ.occupied, usable)
    held_in = min(occ.reserved, usable - occupied_in)
    over = occ.occupied + occ.reserved - occupied_in - held_in
    if s.capacity + over > MAX_BED_SQUARES:
        return None
    return (
        [BedCell("occupied", _("occupied"))] * occupied_in
        + [BedCell("held", _("held for a placement"))] * held_in
        + [BedCell("free", _("free"))] * view.available
        + [BedCell("out", _("out of service"))] * s.out_of_service
        + [BedCell("over", _("taken beyond usable capacity"))] * over
    )


def _board(
    shelter: Shelter,
    *,
    status: int = 200,
    admit: AdmitForm | None = None,
    discharge: tuple[int, DischargeForm] | None = None,
    capacity: CapacityForm | None = None,
    headcount: HeadcountForm | None = None,
    overflow: dict[str, Any] | None = None,
) -> tuple[str, int]:
    """Render a board as `current_user` may see it; posted forms that failed are shown as posted.

    Reading the location or the residents is audited, as in the API.
    """
    user, now = _user(), utcnow()
    panels = [p for p in (panel(user, shelter) for panel in BOARD_PANELS) if p is not None]
    view = services.shelter_views(db.session, now, [shelter])[0]
    show_location = permissions.can_view_location(user, shelter)
    residents = services.residents(db.session, shelter) if permissions.can_view_residents(user, shelter) else None
    if show_location:
        services.record_location_read(db.session, user, now, shelter)
    if residents is not None:
        services.record_residents_read(db.session, user, now, shelter, residents)
    editable = permissions.editable_fields(user, shelter)
    html = render_template(
        "shelters/board.html",
        view=view,
        shelter=shelter,
        beds=bed_cells(view),
        show_location=show_location,
        residents=residents,
        dischargeable={s.id for s in residents or [] if permissions.can_discharge(user, s)},
        discharge_form=DischargeForm(formdata=None),
        failed_discharge=discharge,
        admit_form=(admit or AdmitForm(formdata=None)) if permissions.can_admit(user, shelter) else None,
        capacity_form=((capacity or CapacityForm(formdata=None, obj=shelter))
                       if services.CAPACITY_FIELDS <= editable else None),
        headcount_form=((headcount or HeadcountForm(formdata=None))
                        if permissions.can_confirm_headcount(user, shelter) else None),
        can_edit=permissions.can_edit_register(user),
        overflow=overflow,
        panels=panels,
    )
    db.session.commit()  # the audit entries of this read
    return html, status


def _refused(shelter: Shelter, error: DomainError, **forms: Any) -> tuple[str, int]:
    """A service said no: undo, say why (beside the field it names, when the form has it), show the board."""
    db.session.rollback()
    for form in forms.values():
        if isinstance(form, tuple):
            form = form[1]
        if hasattr(form, "refuse"):
            form.refuse(error)
    flash(str(error.message), "error")
    return _board(shelter, status=error.status, **forms)


# What was not saved, when a board form fails its checks.
NOT_SAVED = {
    "admission": _l("The admission was not saved: check the highlighted fields."),
    "discharge": _l("The discharge was not saved: check the highlighted fields."),
    "capacity": _l("The capacity was not saved: check the highlighted fields."),
    "headcount": _l("The headcount was not saved: check the highlighted fields."),
}


def _invalid(shelter: Shelter, what: str, **forms: Any) -> tuple[str, int]:
    flash(str(NOT_SAVED[what]), "error")
    return _board(shelter, status=422, **forms)


@bp.get("/shelters/<code>")
@roles_required(*ALL_ROLES)
def board(code: str) -> Any:
    if not permissions.can_list_shelters(_user()):
        raise NotAllowed(_l("Partners see figures by region only."))
    return _board(services.get_shelter(db.session, code))


@bp.post("/shelters/<code>/admit")
@roles_required(Role.SECRETARIAT, Role.SHELTER_MANAGER)
def admit(code: str) -> Any:
    user = _user()
    shelter = services.get_shelter(db.session, code)
    if not permissions.can_admit(user, shelter):
        raise services.unknown_shelter(code)
    form = AdmitForm()
    if not form.validate():
        return _invalid(shelter, "admission", admit=form)
    try:
        now = utcnow()
        case, hold = permissions.load_case_to_admit(db.session, user, shelter, form.case_code.data, now)
        stay = services.admit_case(db.session, user, now, shelter, case, form.admitted_at_utc(), reservation=hold)
        db.session.commit()
    except DomainError as error:
        return _refused(shelter, error, admit=form)
    flash(ngettext("Case %(code)s admitted (%(num)d bed).", "Case %(code)s admitted (%(num)d beds).", stay.beds,
                   code=stay.case.code), "success")
    return _to_board(shelter)


@bp.post("/stays/<int:stay_id>/discharge")
@roles_required(Role.SECRETARIAT, Role.SHELTER_MANAGER)
def discharge(stay_id: int) -> Any:
    user = _user()
    stay: Stay = permissions.load_stay(db.session, user, stay_id)
    shelter = stay.shelter
    form = DischargeForm()
    if not form.validate():
        return _invalid(shelter, "discharge", discharge=(stay.id, form))
    try:
        services.discharge_stay(db.session, user, utcnow(), stay, form.reason.data, form.note.data or None)
        db.session.commit()
    except DomainError as error:
        return _refused(shelter, error, discharge=(stay.id, form))
    flash(_("Case %(code)s discharged: %(outcome)s.", code=stay.case.code, outcome=RESOLUTIONS[form.reason.data]),
          "success")
    return _to_board(shelter)


@bp.post("/shelters/<code>/capacity")
@roles_required(Role.ADMIN, Role.SECRETARIAT, Role.SHELTER_MANAGER)
def capacity(code: str) -> Any:
    user = _user()
    shelter = services.get_shelter(db.session, code)
    if not services.CAPACITY_FIELDS <= permissions.editable_fields(user, shelter):
        raise services.unknown_shelter(code)  # only a manager of another shelter gets this far
    form = CapacityForm()
    if not form.validate():
        return _invalid(shelter, "capacity", capacity=form)
    try:
        result = services.update_shelter(
            db.session, user, utcnow(), shelter, form.version.data,
            {"capacity": form.capacity.data, "out_of_service": form.out_of_service.data},
            accept_overflow=form.accept_overflow.data,
        )
        db.session.commit()
    except StaleVersion as error:
        return _refused(shelter, error)  # a fresh form: the figures as they are now, the current version
    except DomainError as error:
        overflow = error.details if error.code == "capacity_below_occupancy" else None
        return _refused(shelter, error, capacity=form, overflow=overflow)
    if result.overflow:
        flash(ngettext("Capacity saved. %(num)d bed is taken beyond the usable capacity: the overflow is reported.",
                       "Capacity saved. %(num)d beds are taken beyond the usable capacity: the overflow is reported.",
                       result.overflow), "warning")
    elif result.changed:
        flash(_("Capacity saved."), "success")
    else:
        flash(_("Nothing changed."), "info")
    return _to_board(shelter)


@bp.post("/shelters/<code>/headcount")
@roles_required(Role.SHELTER_MANAGER)
def headcount(code: str) -> Any:
    user = _user()
    shelter = services.get_shelter(db.session, code)
    if not permissions.can_confirm_headcount(user, shelter):
        raise services.unknown_shelter(code)
    form = HeadcountForm()
    if not form.validate():
        return _invalid(shelter, "headcount", headcount=form)
    try:
        count = services.confirm_headcount(db.session, user, utcnow(), shelter, form.occupied.data)
        db.session.commit()  # a mismatch is recorded too
    except DomainError as error:
        return _refused(shelter, error, headcount=form)
    if not count.matches:
        message = ngettext(
            "You counted %(num)d bed taken, the records say %(recorded)d. The count is recorded but not confirmed: "
            "admit or discharge to correct the records, then confirm again.",
            "You counted %(num)d beds taken, the records say %(recorded)d. The count is recorded but not confirmed: "
            "admit or discharge to correct the records, then confirm again.",
            count.reported, recorded=count.recorded)
        form.occupied.errors = [_("disagrees with the records (%(recorded)d)", recorded=count.recorded)]
        flash(message, "error")
        return _board(shelter, status=409, headcount=form)
    flash(ngettext("Headcount confirmed: %(num)d bed taken.", "Headcount confirmed: %(num)d beds taken.",
                   count.reported), "success")
    return _to_board(shelter)


# --- the shelter register ----------------------------------------------------------------------------------


def _with_operators(form: ShelterForm) -> ShelterForm:
    organisations = db.session.scalars(select(Organisation).order_by(Organisation.code))
    form.set_operators((o.code, f"{o.code} · {o.name}") for o in organisations)
    return form


def _shelter_form_page(form: ShelterForm, shelter: Shelter | None, status: int = 200,
                       overflow: dict[str, Any] | None = None) -> tuple[str, int]:
    # Who may not read a shelter's location gets no location fields to edit (an administrator); a new shelter's
    # are the ones being typed.
    with_location = shelter is None or permissions.can_view_location(_user(), shelter)
    if shelter is not None and with_location:
        # The edit form shows the stored location: a read like any other.
        services.record_location_read(db.session, _user(), utcnow(), shelter)
    html = render_template("shelters/shelter_form.html", form=form, shelter=shelter, overflow=overflow,
                           regions=_known_regions(), with_location=with_location)
    db.session.commit()
    return html, status


@bp.route("/shelters/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN, Role.SECRETARIAT)
def new_shelter() -> Any:
    if not permissions.can_create_shelter(_user()):
        abort(403)
    form = _with_operators(NewShelterForm())
    if not form.validate_on_submit():
        return _shelter_form_page(form, None, 422 if form.is_submitted() else 200)
    try:
        shelter = services.create_shelter(db.session, _user(), utcnow(), form.code.data, form.values())
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        form.refuse(error)
        flash(str(error.message), "error")
        return _shelter_form_page(form, None, error.status)
    flash(_("Shelter %(code)s registered.", code=shelter.code), "success")
    return _to_board(shelter)


@bp.route("/shelters/<code>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN, Role.SECRETARIAT)
def edit_shelter(code: str) -> Any:
    user = _user()
    shelter = services.get_shelter(db.session, code)
    if not permissions.can_edit_register(user):
        abort(403)
    current = {"operator": shelter.operator.code if shelter.operator else ""}
    form = _with_operators(EditShelterForm(obj=shelter, data=current))
    if not permissions.can_view_location(user, shelter):
        form.without_location()
    if not form.validate_on_submit():
        return _shelter_form_page(form, shelter, 422 if form.is_submitted() else 200)
    try:
        result = services.update_shelter(db.session, user, utcnow(), shelter, form.version.data, form.values(),
                                         accept_overflow=form.accept_overflow.data)
        db.session.commit()
    except StaleVersion as error:
        db.session.rollback()
        flash(str(error.message), "error")
        fresh = _with_operators(EditShelterForm(formdata=None, obj=shelter,
                                                data={"operator": shelter.operator.code if shelter.operator else ""}))
        if not permissions.can_view_location(user, shelter):
            fresh.without_location()
        return _shelter_form_page(fresh, shelter, error.status)
    except DomainError as error:
        db.session.rollback()
        form.refuse(error)
        flash(str(error.message), "error")
        overflow = error.details if error.code == "capacity_below_occupancy" else None
        return _shelter_form_page(form, shelter, error.status, overflow)
    if result.overflow:
        flash(ngettext("Saved. %(num)d bed is taken beyond the usable capacity: the overflow is reported.",
                       "Saved. %(num)d beds are taken beyond the usable capacity: the overflow is reported.",
                       result.overflow), "warning")
    elif result.changed:
        flash(_("Saved."), "success")
    else:
        flash(_("Nothing changed."), "info")
    return _to_board(shelter)


# --- cases -------------------------------------------------------------------------------------------------


def _case_form_page(form: CaseForm, status: int = 200) -> tuple[str, int]:
    return render_template("shelters/case_form.html", form=form, regions=_known_regions()), status


@bp.route("/cases/new", methods=["GET", "POST"])
@roles_required(Role.POLICE, Role.SECRETARIAT)
def new_case() -> Any:
    if not permissions.can_create_case(_user()):
        abort(403)
    form = CaseForm()
    if not form.validate_on_submit():
        return _case_form_page(form, 422 if form.is_submitted() else 200)
    try:
        case = services.create_case(db.session, _user(), utcnow(), form.values())
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        form.refuse(error)
        flash(str(error.message), "error")
        return _case_form_page(form, error.status)
    flash(_("Case %(code)s recorded. Use this code, never a name, when you ask for a bed.", code=case.code), "success")
    return redirect(url_for("shelters.case", code=case.code))


@bp.get("/cases/<code>")
@roles_required(Role.SECRETARIAT, Role.POLICE, Role.SHELTER_MANAGER)
def case(code: str) -> Any:
    user, now = _user(), utcnow()
    record, where = permissions.load_case(db.session, user, code, now)
    services.record_case_read(db.session, user, now, record)
    show_identifying = permissions.can_view_identifying_details(user, record)
    if show_identifying:
        services.record_identifying_read(db.session, user, now, record)
    # An officer learns that the victim is in protective accommodation, never where.
    stay = where.stay if where.stay is not None and permissions.can_see_stay(user, where.stay) else None
    html = render_template("shelters/case.html", case=record, stay=stay, sheltered=where.stay is not None,
                           age=record.age_on(now.date()),
                           identifying_details=record.identifying_details if show_identifying else None,
                           show_identifying=show_identifying)
    db.session.commit()
    return html


# --- bulk import -------------------------------------------------------------------------------------------


def _import_page(form: ImportForm, report: Any = None, status: int = 200) -> tuple[str, int]:
    from shelters import imports

    return render_template("shelters/import.html", form=form, report=report, columns=imports.COLUMNS,
                           max_rows=imports.MAX_ROWS, max_megabytes=imports.MAX_BYTES // (1024 * 1024)), status


@bp.url_value_preprocessor
def _import_upload_limit(endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # Uploads to the import may be larger than any other request (MAX_CONTENT_LENGTH), a little above the
    # import's own limit so that a file just over it gets the import's clear refusal. Set here, before the
    # before_request hooks (CSRF, odd input) read the body.
    if endpoint == "shelters.imports_page":
        from flask import request

        from shelters import imports

        request.max_content_length = imports.MAX_BYTES + 64 * 1024


@bp.route("/imports", methods=["GET", "POST"])
@roles_required(Role.SECRETARIAT)
def imports_page() -> Any:
    """Upload shelters or residents: a dry run shows every row's outcome and error; applying is all or nothing."""
    from shelters import imports

    if not permissions.can_import(_user()):
        abort(403)
    form = ImportForm()
    if not form.validate_on_submit():
        return _import_page(form, status=422 if form.is_submitted() else 200)
    upload = form.upload.data
    try:
        table = imports.read_table(form.kind.data, upload.filename or "", upload.read(imports.MAX_BYTES + 1))
        report = imports.run_import(db.session, _user(), utcnow(), form.kind.data, table, apply=form.apply.data)
    except DomainError as error:
        db.session.rollback()
        form.upload.errors = [*form.upload.errors, error.message]
        flash(str(error.message), "error")
        return _import_page(form, status=error.status)
    if report.applied:
        db.session.commit()
        flash(_("The import was applied: %(new)s new, %(updated)s updated, %(unchanged)s unchanged.",
                new=report.count("create"), updated=report.count("update"), unchanged=report.count("unchanged")),
              "success")
        return _import_page(ImportForm(formdata=None), report)
    db.session.rollback()
    if report.errors:
        flash(_("Nothing was changed: correct the rows with errors and upload the file again."), "error")
        return _import_page(form, report, 422)
    flash(_("The file can be applied: nothing was changed yet. Upload it again with Apply ticked."), "info")
    return _import_page(form, report)


@bp.get("/imports/templates/<kind>.<fmt>")
@roles_required(Role.SECRETARIAT)
def import_template(kind: str, fmt: str) -> Response:
    """The empty table to fill in, as XLSX (with a sheet explaining the columns and codes in the page's
    language) or CSV (the header row)."""
    from shelters import imports

    if kind not in imports.KINDS or fmt not in ("xlsx", "csv") or not permissions.can_import(_user()):
        abort(404)
    language = current_language()
    if fmt == "csv":
        body, mimetype = imports.write_csv(kind, []), "text/csv"
    else:
        body, mimetype = imports.template_workbook(kind), \
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="safehaven-{kind}-{language}.{fmt}"'})

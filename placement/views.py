"""Pages: request a placement (profile -> suggestions -> reserve), a request's page with its timeline and
decisions, the list of requests with the batch assignment, and the incoming requests on a shelter's board.

Each handler parses a form, checks permission (placement.permissions), calls the same services as
placement/api.py, commits once and redirects; a service's refusal is flashed and the page shown again
with its status, never a 500. Nothing here names a victim: case codes only.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_percent, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response

from accounts.forms import Form
from accounts.models import Role, User
from accounts.permissions import roles_required
from database import utcnow
from errors import Conflict, DomainError, Invalid, NotAllowed
from extensions import db
from i18n import format_when, lazy_pgettext
from i18n import lazy_gettext as _l
from paging import page_numbers
from placement import permissions, services
from placement.engine import DISTANCE_BANDS, TERMS
from placement.forms import (
    BACK_TO_BOARD,
    DECLINE_LABELS,
    REJECT_LABELS,
    REQUEST_STATUS_NAMES,
    URGENCY_LABELS,
    CancelForm,
    CaseRequestForm,
    DecisionForm,
    DeclineForm,
    NewRequestForm,
    RejectForm,
    ReserveForm,
)
from placement.models import HOLDING, WAITING, PlacementRequest, RequestStatus, Urgency
from placement.serialisation import placement_json
from placement.wording import (
    TERM_LABELS,
    exclusion_rows,
    reason_label,
    reason_text,
    stored_reasons,
)
from shelters import permissions as shelter_permissions
from shelters import services as shelter_services
from shelters.models import Case, Shelter
from shelters.views import BOARD_PANELS

bp = Blueprint("placement", __name__)

LIST_LIMIT = 500  # the most requests the live stamp reads


STATUS_LABELS = {
    RequestStatus.OPEN: _l("Open: choose a shelter"),
    RequestStatus.RESERVED: _l("Reserved: waiting for the shelter"),
    RequestStatus.ACCEPTED: _l("Accepted: the shelter expects the victim"),
    RequestStatus.ADMITTED: lazy_pgettext("request status", "Admitted"),
    RequestStatus.REJECTED: _l("Rejected by the shelter: choose another"),
    RequestStatus.DECLINED: _l("Declined by the victim"),
    RequestStatus.EXPIRED: _l("The hold ran out: choose a shelter again"),
    RequestStatus.CANCELLED: lazy_pgettext("request status", "Cancelled"),
}

def refusal_text(error: DomainError, shelter: str | None = None) -> str:
    """A service's refusal for the page; a shelter (`shelter`) that no longer fits gives its reasons in the page's
    language."""
    codes = error.details.get("codes") if error.code == "not_eligible" else None
    if codes and shelter:
        reasons = stored_reasons({"codes": codes, "values": error.details.get("values")})
        return _("%(shelter)s does not fit this case: %(reasons)s", shelter=shelter,
                 reasons="; ".join(reason_text(code, values) for code, values in reasons))
    return str(error.message)


# Notes the system writes on a request's timeline, read in the page's language.
_SYSTEM_NOTES = {"the hold ran out": _l("the hold ran out"), "admitted directly": _l("admitted directly")}
# Who acted, where the name is not shown: a shelter's manager whose shelter the reader may not know, the system.
_ACTOR_ROLES = {Role.SHELTER_MANAGER.value: _l("the shelter"), Role.SECRETARIAT.value: _l("the secretariat"),
                Role.POLICE.value: _l("the police")}


def actor_label(event: dict[str, Any]) -> str:
    """Who made a timeline entry, as the reader may know it: a name, else the role's words, else the system."""
    if event.get("by"):
        return event["by"]
    role = event.get("by_role")
    return str(_ACTOR_ROLES.get(role, _l("system"))) if role else _("system")


def timeline_note(note: str | None, reason: str | None = None) -> str:
    """A timeline note: the system's own in the reader's language, a decline reason by its label, else as typed;
    a rejection's reason code by its label, then its note."""
    if reason:
        label = str(REJECT_LABELS.get(reason, reason))
        return f"{label} · {note}" if note else label
    if not note:
        return ""
    label = _SYSTEM_NOTES.get(note) or DECLINE_LABELS.get(note)
    return str(label) if label is not None else note


_URGENCY_ORDER = {Urgency.EMERGENCY: 0, Urgency.URGENT: 1, Urgency.ROUTINE: 2}


def _user() -> User:
    return current_user  # type: ignore[return-value]


def _settings() -> services.Settings:
    return services.Settings.from_config(current_app.config)


def can_list_requests(user: User) -> bool:
    return user.role in (Role.POLICE, Role.SECRETARIAT, Role.SHELTER_MANAGER)


@bp.app_context_processor
def _navigation() -> dict[str, Any]:
    return {"can_list_placements": can_list_requests, "request_status_names": REQUEST_STATUS_NAMES,
            "placements_live": _live_state}


# --- live parts: what waits, and whether it changed ----------------------------------------------------------


def _live_state() -> dict[str, Any]:
    """For the signed-in user: how many requests wait on them (the navigation's badge) and a stamp that changes
    whenever a request they may see changes. Reads no case and no address, so polling it audits nothing; a page
    fetches itself again (and audits that read) only when the stamp moved (static/live.js)."""
    user, now = _user(), utcnow()
    if not can_list_requests(user):
        return {"stamp": "", "waiting": 0}
    visible = permissions.visible_requests(db.session, user, now, limit=LIST_LIMIT)
    statuses = permissions.waiting_statuses(user)
    digest = hashlib.sha256("|".join(f"{r.id}:{r.status}:{r.updated_at.isoformat()}" for r in visible).encode())
    return {"stamp": digest.hexdigest()[:16], "waiting": sum(1 for r in visible if r.status in statuses)}


@bp.get("/placements/live")
@roles_required(Role.POLICE, Role.SECRETARIAT, Role.SHELTER_MANAGER)
def live() -> Response:
    answer = jsonify(_live_state())
    answer.headers["Cache-Control"] = "no-store"
    return answer


def held_for(until: datetime | None, now: datetime | None = None) -> str:
    """"held for 1 h 58 min": what is left of a hold, in the page's language."""
    if until is None:
        return ""
    minutes = int((until - (now or utcnow())).total_seconds() // 60)
    if minutes <= 0:
        return _("the hold has run out")
    if minutes >= 60:
        return _("held for %(hours)s h %(minutes)s min", hours=minutes // 60, minutes=minutes % 60)
    return _("held for %(minutes)s min", minutes=minutes)


@bp.app_template_global("countdown")
def countdown(until: datetime | None) -> Markup:
    """A hold's time left as text static/live.js keeps counting down ("held for 1 h 58 min")."""
    if until is None:
        return Markup("")
    return Markup('<span class="countdown" data-countdown="{at}" data-hm="{hm}" data-m="{m}" data-over="{over}">'
                  '{text}</span>').format(
        at=until.isoformat(), hm=_("held for %(hours)s h %(minutes)s min", hours="{h}", minutes="{m}"),
        m=_("held for %(minutes)s min", minutes="{m}"), over=_("the hold has run out"), text=held_for(until))


def _to_request(req: PlacementRequest) -> Response:
    return redirect(url_for("placement.detail", request_id=req.id))


# --- screen one: the profile -------------------------------------------------------------------------------


def _shelter_choices() -> list[tuple[str, str]]:
    shelters = db.session.scalars(select(Shelter).order_by(Shelter.code))
    return [(s.code, f"{s.code} · {s.name} ({s.region})") for s in shelters]


def _known_regions() -> list[str]:
    return list(db.session.scalars(select(Shelter.region).distinct().order_by(Shelter.region)))


def _new_page(form: NewRequestForm | CaseRequestForm, case: Case | None, status: int = 200) -> tuple[str, int]:
    return render_template("placement/new.html", form=form, case=case, regions=_known_regions(),
                           urgencies=URGENCY_LABELS), status


@bp.route("/placements/new", methods=["GET", "POST"])
@roles_required(Role.POLICE, Role.SECRETARIAT)
def new() -> Any:
    """A new case and its request in one transaction; or, with ?case=CODE, a request for a recorded case."""
    user = _user()
    if not permissions.can_request(user):
        raise NotAllowed(_("Only the police and the secretariat request placements."))
    code = (request.args.get("case") or "").strip().upper()
    case = shelter_permissions.load_case(db.session, user, code, utcnow())[0] if code else None
    if case is not None and request.method == "GET":
        live = services.active_request(db.session, case)
        if live is not None and permissions.can_view(user, live):
            flash(_("Case %(code)s already has a live placement request.", code=case.code), "info")
            return _to_request(live)
    form: NewRequestForm | CaseRequestForm = CaseRequestForm() if case is not None else NewRequestForm()
    form.set_shelters(_shelter_choices())
    if not form.validate_on_submit():
        if form.is_submitted():
            flash(_("The request was not sent: check the highlighted fields."), "error")
        return _new_page(form, case, 422 if form.is_submitted() else 200)
    now = utcnow()
    try:
        if isinstance(form, NewRequestForm):
            subject, region = shelter_services.create_case(db.session, user, now, form.values()), None
        else:
            subject, region = case, form.region.data or None
        req = services.create_request(db.session, user, now, subject, _settings(), urgency=form.urgency.data,
                                      region=region, exclude=form.exclude.data or [])
        db.session.commit()
    except DomainError as error:  # neither the case nor the request is kept
        return _new_page(form, case, form.refused(error))
    found = len(req.suggestions)
    flash(ngettext("Request for case %(code)s sent: %(num)d shelter fits.",
                   "Request for case %(code)s sent: %(num)d shelters fit.", found, code=req.case.code),
          "success" if found else "warning")
    return _to_request(req)


# --- screens two and three: the request --------------------------------------------------------------------


def why_empty(excluded: Iterable[dict[str, Any]]) -> list[tuple[str, int]]:
    """How many shelters each hard constraint left out (a shelter counted once per constraint), most first."""
    counts = Counter(code for e in excluded for code in set(e.get("codes", [])))
    return [(reason_label(code), n)
            for code, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def _suggestion_rows(now: datetime, suggestions: list[dict[str, Any]], weights: Any) -> list[dict[str, Any]]:
    """The suggestions as shown at request time (to an officer, their distances in bands), with each shelter's
    name and its free beds now."""
    codes = [s["shelter"] for s in suggestions]
    shelters = list(db.session.scalars(select(Shelter).where(Shelter.code.in_(codes)))) if codes else []
    views = {v.shelter.code: v for v in shelter_services.shelter_views(db.session, now, shelters)}
    rows = []
    for rank, s in enumerate(suggestions, start=1):
        view = views.get(s["shelter"])
        rows.append({
            "rank": rank, "code": s["shelter"], "score": s["score"],
            "name": view.shelter.name if view else "", "region": view.shelter.region if view else "",
            "free": view.available if view else None, "band": s.get("distance_band"),
            "terms": [(TERM_LABELS.get(t, t), s["terms"].get(t, 0), getattr(weights, t, None)) for t in TERMS],
        })
    return rows


def _detail(
    req: PlacementRequest,
    *,
    status: int = 200,
    decline: DeclineForm | None = None,
    cancel: CancelForm | None = None,
    reject: RejectForm | None = None,
) -> tuple[str, int]:
    """A request as `current_user` may see it; reading the address or the profile is audited (placement_json)."""
    user, now = _user(), utcnow()
    settings = _settings()
    data = placement_json(req, user)
    owner, deciding = permissions.is_owner(user, req), permissions.is_deciding_manager(user, req)
    closable = owner and req.status in (*WAITING, *HOLDING)
    html = render_template(
        "placement/request.html",
        req=req,
        data=data,
        status_label=STATUS_LABELS.get(req.status, req.status),
        urgencies=URGENCY_LABELS,
        decline_labels=DECLINE_LABELS,
        reject_labels=REJECT_LABELS,
        suggestions=_suggestion_rows(now, data["suggestions"], settings.weights),
        distance_bands=not permissions.sees_exact_distances(user), band_count=DISTANCE_BANDS,
        actor_of=actor_label,
        why_empty=why_empty(data["excluded"]) if not data["suggestions"] else [],
        exclusions=exclusion_rows(data["excluded"]),
        timeline_note=timeline_note,
        can_reserve=owner and req.status in WAITING,
        decline_form=(decline or DeclineForm(formdata=None)) if closable else None,
        cancel_form=(cancel or CancelForm(formdata=None)) if closable else None,
        reject_form=(reject or RejectForm(formdata=None)) if deciding and req.status in HOLDING else None,
        can_accept=deciding and req.status == RequestStatus.RESERVED,
        can_admit=deciding and req.status == RequestStatus.ACCEPTED,
        hold_minutes=int(settings.hold.total_seconds() // 60),
    )
    db.session.commit()  # the audit entries of this read
    return html, status


@bp.get("/placements/<int:request_id>")
@roles_required(Role.POLICE, Role.SECRETARIAT, Role.SHELTER_MANAGER)
def detail(request_id: int) -> Any:
    return _detail(permissions.load_request(db.session, _user(), request_id, utcnow()))


Action = Callable[[User, PlacementRequest, Any], str]


def _act(request_id: int, *, owner: bool, form: Form, slot: str | None, action: Action) -> Any:
    """Load (404 for who may not see it), check who may act, validate, act, commit, redirect.

    owner: the requester or the secretariat acts; else the manager of the shelter holding the bed.
    slot: the keyword under which _detail shows a failed form again as posted.
    """
    user = _user()
    req = permissions.load_request(db.session, user, request_id, utcnow())
    allowed = permissions.is_owner(user, req) if owner else permissions.is_deciding_manager(user, req)
    if not allowed:
        raise NotAllowed(_("Only the requester or the secretariat may do this.") if owner
                         else _("Only the manager of the reserved shelter may do this."))
    shown = {slot: form} if slot else {}
    if not form.validate():
        if isinstance(form, DecisionForm) and form.back.data == BACK_TO_BOARD and req.shelter is not None:
            # Sent from the board (a rejection without its reason): the manager stays on the board.
            problems = " ".join(str(m) for name, messages in form.errors.items() if name != "back" for m in messages)
            flash(_("Nothing was changed for case %(code)s: %(problems)s", code=req.case.code, problems=problems),
                  "error")
            return redirect(url_for("shelters.board", code=req.shelter.code) + "#incoming-heading")
        flash(_("Nothing was changed: check the highlighted fields."), "error")
        return _detail(req, status=422, **shown)
    try:
        message = action(user, req, form)
        db.session.commit()
    except DomainError as error:
        status = form.refused(error, refusal_text(error, form.shelter.data if isinstance(form, ReserveForm) else None))
        return _detail(req, status=status, **shown)
    flash(message, "success")
    # A manager who rejected a request may read it no more: back to their board.
    back_to_board = isinstance(form, DecisionForm) and form.back.data == BACK_TO_BOARD
    if req.shelter is not None and (back_to_board or not permissions.can_view(user, req)):
        return redirect(url_for("shelters.board", code=req.shelter.code))
    return _to_request(req)


def _held_until(req: PlacementRequest) -> str | None:
    """When the hold ends, in the reader's zone ("Dec 3, 2026, 14:05 CET"), or None without a hold."""
    until = req.reservation.held_until if req.reservation else None
    return format_when(until) if until else None


@bp.post("/placements/<int:request_id>/reserve")
@roles_required(Role.POLICE, Role.SECRETARIAT)
def reserve(request_id: int) -> Any:
    def action(user: User, req: PlacementRequest, form: ReserveForm) -> str:
        services.reserve(db.session, user, utcnow(), req, form.shelter.data, _settings())
        until = _held_until(req)
        if until:
            return _("A bed is reserved at %(shelter)s until %(time)s. The shelter has been asked to accept.",
                     shelter=req.shelter.code, time=until)
        return _("A bed is reserved at %(shelter)s. The shelter has been asked to accept.", shelter=req.shelter.code)

    return _act(request_id, owner=True, form=ReserveForm(), slot=None, action=action)


@bp.post("/placements/<int:request_id>/accept")
@roles_required(Role.SHELTER_MANAGER)
def accept(request_id: int) -> Any:
    def action(user: User, req: PlacementRequest, form: DecisionForm) -> str:
        services.accept(db.session, user, utcnow(), req, _settings())
        until = _held_until(req)
        if until:
            return _("Case %(code)s accepted: the bed is held until %(time)s.", code=req.case.code, time=until)
        return _("Case %(code)s accepted: the bed is held.", code=req.case.code)

    return _act(request_id, owner=False, form=DecisionForm(), slot=None, action=action)


@bp.post("/placements/<int:request_id>/reject")
@roles_required(Role.SHELTER_MANAGER)
def reject(request_id: int) -> Any:
    def action(user: User, req: PlacementRequest, form: RejectForm) -> str:
        services.reject(db.session, user, utcnow(), req, form.reason.data, form.note.data or None)
        return _("Case %(code)s rejected; the bed is free again.", code=req.case.code)

    return _act(request_id, owner=False, form=RejectForm(), slot="reject", action=action)


@bp.post("/placements/<int:request_id>/admit")
@roles_required(Role.SHELTER_MANAGER)
def admit(request_id: int) -> Any:
    def action(user: User, req: PlacementRequest, form: DecisionForm) -> str:
        stay = services.admit(db.session, user, utcnow(), req)
        return ngettext("Case %(code)s admitted (%(num)d bed).", "Case %(code)s admitted (%(num)d beds).", stay.beds,
                        code=req.case.code)

    return _act(request_id, owner=False, form=DecisionForm(), slot=None, action=action)


@bp.post("/placements/<int:request_id>/decline")
@roles_required(Role.POLICE, Role.SECRETARIAT)
def decline(request_id: int) -> Any:
    def action(user: User, req: PlacementRequest, form: DeclineForm) -> str:
        services.decline(db.session, user, utcnow(), req, form.reason.data, form.note.data or None)
        return _("Recorded: the victim declined shelter (%(reason)s).",
                 reason=str(DECLINE_LABELS[form.reason.data]).lower())

    return _act(request_id, owner=True, form=DeclineForm(), slot="decline", action=action)


@bp.post("/placements/<int:request_id>/cancel")
@roles_required(Role.POLICE, Role.SECRETARIAT)
def cancel(request_id: int) -> Any:
    def action(user: User, req: PlacementRequest, form: CancelForm) -> str:
        services.cancel(db.session, user, utcnow(), req, form.note.data or None)
        return _("The request for case %(code)s is cancelled.", code=req.case.code)

    return _act(request_id, owner=True, form=CancelForm(), slot="cancel", action=action)


# --- the list and the batch --------------------------------------------------------------------------------


LIST_PAGE_SIZE = 50  # requests a page of the list shows


def _waiting_note(user: User, waiting: int) -> str:
    """What waits on `user`, in a sentence, above their list."""
    if user.role == Role.POLICE:
        return ngettext("%(num)d of your requests is live.", "%(num)d of your requests are live.", waiting)
    if user.role == Role.SHELTER_MANAGER:
        return ngettext("%(num)d request holds a bed at your shelters.",
                        "%(num)d requests hold a bed at your shelters.", waiting)
    return ngettext("%(num)d request has no accepted bed yet.", "%(num)d requests have no accepted bed yet.",
                    waiting)


def _list_filter(user: User) -> permissions.RequestFilter:
    """The list's filters from the query string; a value that is not one of the choices is ignored."""
    args = request.args

    def day(name: str) -> date | None:
        try:
            return date.fromisoformat(args.get(name, ""))
        except ValueError:
            return None

    def one_of(name: str, allowed: Iterable[str]) -> str | None:
        value = args.get(name) or None
        return value if value in set(allowed) else None

    shelter = (args.get("shelter") or "").strip().upper()[:16] or None
    since = day("from")
    return permissions.RequestFilter(
        status=one_of("status", [*RequestStatus, permissions.WAITING]), urgency=one_of("urgency", Urgency),
        shelter=shelter if permissions.can_filter_by_shelter(user) else None,
        case_code=(args.get("q") or "").strip()[:20] or None,
        since=datetime.combine(since, time(), UTC) if since else None, until=day("to"),
        sort=one_of("sort", permissions.REQUEST_SORTS) or "newest")


def _list_page(status: int = 200) -> tuple[str, int]:
    user, now = _user(), utcnow()
    wanted = _list_filter(user)
    total = permissions.count_visible_requests(db.session, user, now, wanted)
    pages = max(1, -(-total // LIST_PAGE_SIZE))
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    rows = permissions.visible_requests(db.session, user, now, limit=LIST_PAGE_SIZE, wanted=wanted,
                                        offset=(page - 1) * LIST_PAGE_SIZE)
    filters = {k: v for k, v in {"status": wanted.status, "urgency": wanted.urgency, "shelter": wanted.shelter,
                                 "q": wanted.case_code, "from": wanted.since and wanted.since.date().isoformat(),
                                 "to": wanted.until and wanted.until.isoformat(),
                                 "sort": None if wanted.sort == "newest" else wanted.sort}.items() if v}
    shelters = ([s.code for s in user.managed_shelters] if user.role == Role.SHELTER_MANAGER else
                list(db.session.scalars(select(Shelter.code).order_by(Shelter.code)))
                ) if permissions.can_filter_by_shelter(user) else []
    return render_template(
        "placement/requests.html",
        rows=rows,
        waiting_filter=permissions.WAITING,
        waiting_note=_waiting_note(user, permissions.count_visible_requests(
            db.session, user, now, permissions.RequestFilter(status=permissions.WAITING))),
        alerts_lead=user.role == Role.SECRETARIAT,
        shows_shelter=lambda req: permissions.shows_shelter(user, req),
        wanted=wanted.status or "",
        filter=wanted,
        filters=filters,
        base_filters={k: v for k, v in filters.items() if k != "status"},
        statuses=list(RequestStatus),
        urgencies=URGENCY_LABELS,
        sorts=SORT_LABELS,
        shelter_codes=shelters,
        can_request=permissions.can_request(user),
        can_run_batch=permissions.can_run_batch(user),
        total=total, page=page, pages=pages, page_numbers=page_numbers(page, pages),
        first=(page - 1) * LIST_PAGE_SIZE + 1, last=(page - 1) * LIST_PAGE_SIZE + len(rows),
    ), status


SORT_LABELS = {"newest": _l("Newest first"), "oldest": _l("Oldest first"), "urgency": _l("Most urgent first"),
               "updated": _l("Last changed first")}


@bp.get("/placements")
@roles_required(Role.POLICE, Role.SECRETARIAT, Role.SHELTER_MANAGER)
def requests() -> Any:
    return _list_page()


def batch_message(outcome: services.BatchOutcome) -> str:
    result = outcome.result
    waiting = len(outcome.reserved) + len(outcome.unplaced)
    if not waiting:
        return _("Batch assignment: no request is waiting for a bed.")
    quality = (_("The assignment is optimal.") if result.optimal
               else _("The assignment is within %(gap)s of the optimum (time limit reached).",
                      gap=format_percent(result.gap, "#,##0.0%")))
    figures = {"placed": len(outcome.reserved), "waiting": waiting, "left": len(outcome.unplaced)}
    if result.urgent_placed:
        summary = _("Batch assignment: %(placed)s of %(waiting)s waiting requests placed (%(urgent)s of them "
                    "emergencies), %(left)s left without a bed.", urgent=result.urgent_placed, **figures)
    else:
        summary = _("Batch assignment: %(placed)s of %(waiting)s waiting requests placed, %(left)s left without "
                    "a bed.", **figures)
    return f"{summary} {quality}"


def _batch_preview(plan: services.BatchPlan, status: int = 200) -> tuple[str, int]:
    """The proposed assignment: who goes where, each shelter's free beds before and after, and which requests
    stay unplaced and why; with the form that applies exactly this, against this state."""
    assignment = plan.result.assignment
    by_id = {r.id: r for r in plan.requests}
    used: dict[str, int] = {}
    for request_id, code in assignment.items():
        used[code] = used.get(code, 0) + by_id[request_id].beds
    shelters = [(code, plan.free_beds.get(code, 0), plan.free_beds.get(code, 0) - beds)
                for code, beds in sorted(used.items())]
    placed = [(req, assignment[req.id], by_id[req.id].beds) for req in plan.waiting if req.id in assignment]
    unplaced = [(req, _("No open shelter fits this case: its request page says why each is left out.")
                 if not by_id[req.id].options else
                 _("The shelters that fit it are full once the requests placed before it have their beds "
                   "(emergencies first, then as many as possible)."))
                for req in plan.waiting if req.id not in assignment]
    return render_template("placement/batch_preview.html", plan=plan, placed=placed, unplaced=unplaced,
                           shelters=shelters, urgencies=URGENCY_LABELS), status


@bp.post("/placements/batch/preview")
@roles_required(Role.SECRETARIAT)
def batch_preview() -> Any:
    user = _user()
    if not permissions.can_run_batch(user):
        raise NotAllowed(_("Only the secretariat runs the batch assignment."))
    if not Form().validate():
        flash(_("The batch was not previewed: the form was stale, try again."), "error")
        return _list_page(400)
    now = utcnow()
    services.expire_due_holds(db.session, now)  # so the preview rests on what applying it will find
    db.session.commit()
    return _batch_preview(services.plan_batch(db.session, now, _settings()))


def _previewed_assignment() -> dict[int, str]:
    """The preview's "request id:shelter code" pairs, as posted back."""
    pairs: dict[int, str] = {}
    for value in request.form.getlist("assign"):
        request_id, _sep, code = value.partition(":")
        if not request_id.isdigit() or not code or len(code) > 16:
            raise Invalid(_("The previewed assignment was not understood: preview it again."),
                          fields={"assignment": "invalid"})
        pairs[int(request_id)] = code
    return pairs


@bp.post("/placements/batch")
@roles_required(Role.SECRETARIAT)
def batch() -> Any:
    """Apply a previewed batch assignment (its `state` and `assign` pairs), only while nothing moved."""
    user = _user()
    if not permissions.can_run_batch(user):
        raise NotAllowed(_("Only the secretariat runs the batch assignment."))
    if not Form().validate():
        flash(_("The batch was not run: the form was stale, try again."), "error")
        return _list_page(400)
    state = request.form.get("state", "")
    if not state:
        flash(_("Preview the batch assignment first, then apply it."), "error")
        return _list_page(400)
    now = utcnow()
    try:
        outcome = services.run_batch(db.session, user, now, _settings(), expected_state=state,
                                     assignment=_previewed_assignment())
        db.session.commit()
    except Conflict as error:
        # Moved since the preview: nothing was reserved; the new preview is shown to confirm again.
        db.session.rollback()
        flash(str(error.message), "error")
        return _batch_preview(services.plan_batch(db.session, now, _settings()), 409)
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return _list_page(error.status)
    flash(batch_message(outcome), "success" if not outcome.unplaced else "warning")
    return redirect(url_for("placement.requests"))


# --- the shelter's board: incoming requests ----------------------------------------------------------------


def incoming_panel(user: User, shelter: Shelter) -> tuple[str, dict[str, Any]] | None:
    """The requests holding a bed at `shelter`, for its manager to accept, reject or admit.

    Registered in shelters.views.BOARD_PANELS (shelters never imports placement). Expires
    holds that ran out, and audits each profile shown, as the request page does.
    """
    if not user.manages(shelter.id):
        return None
    now = utcnow()
    holding = list(db.session.scalars(select(PlacementRequest).where(
        PlacementRequest.shelter_id == shelter.id, PlacementRequest.status.in_(HOLDING))))
    for req in holding:
        services.expire_if_due(db.session, now, req)
    live = sorted((r for r in holding if r.status in HOLDING and permissions.is_deciding_manager(user, r)),
                  key=lambda r: (_URGENCY_ORDER.get(r.urgency, 9), r.created_at, r.id))
    rows = []
    for req in live:
        case = req.case
        shelter_services.record_case_read(db.session, user, now, case)
        rows.append({"req": req, "beds": 1 + case.children,
                     "until": req.reservation.held_until if req.reservation else None,
                     "profile": {"sex": case.sex, "age": case.age_on(now.date()), "languages": case.languages,
                                 "needs": case.needs, "children": case.children, "risk": case.risk}})
    return "placement/_incoming.html", {
        "shelter": shelter, "rows": rows, "urgencies": URGENCY_LABELS,
        "reject_form": RejectForm(formdata=None), "back": BACK_TO_BOARD,
        "lead": True,  # first on the board: what the manager must decide
    }


if incoming_panel not in BOARD_PANELS:
    BOARD_PANELS.append(incoming_panel)

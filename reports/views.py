"""Pages: the secretariat's overview and trends, a manager's statistics of their own shelters, their CSV
exports (audited, behind re-authentication), the partners' suppressed aggregates, and a shelter's occupancy
history on its board. Each handler checks the role, calls reports.services and renders; an export is built
from the same rows as its page, so it never shows what the page would not.

CSV exports keep English column names and stored codes whatever the reader's language: they are data for
spreadsheets and scripts, read the same way by every user and every month, so their columns must not change
with the language of whoever downloaded them.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date, timedelta
from typing import Any, NamedTuple
from urllib.parse import quote as url_quote

from babel.dates import format_skeleton
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale, get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response

from accounts import audit
from accounts.forms import choices
from accounts.models import Organisation, User
from accounts.permissions import roles_required
from accounts.views import fresh_login_required
from alerts import texts
from alerts.models import Alert
from database import utcnow
from errors import DomainError, Invalid
from extensions import db
from i18n import N_, format_day, local
from i18n import lazy_gettext as _l
from placement.services import Settings
from placement.wording import TERM_LABELS, reason_text
from reports import (
    actions,
    charts,
    evidence,
    identifications,
    labels,
    permissions,
    services,
)
from reports import demo as _demo  # noqa: F401  (registers the demo's evidence with shelters.demo)
from reports.forms import ACTION_STATUSES, ActionForm, ActionStatusForm
from reports.models import OPEN_STATUSES, Action
from reports.words import Words
from shelters.models import Shelter
from shelters.services import MIN_SHELTERS_PER_GROUP, OTHER_REGIONS
from shelters.views import BOARD_PANELS

bp = Blueprint("reports", __name__)

COLUMNS = {
    "code": _l("Shelter"), "region": _l("Region"), "occupancy": _l("Beds"), "util30": _l("30 days"),
    "util365": _l("365 days"), "idle": _l("Days since last resident"), "headcount": _l("Last headcount"),
    "alerts": _l("Open alerts"),
}


def _user() -> User:
    return current_user  # type: ignore[return-value]


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.0f}"


def _sort_args() -> tuple[str, bool]:
    key = request.args.get("sort", "code")
    descending = request.args.get("dir", "asc") == "desc"
    if key not in services.SORTS:
        abort(400, description=_("Unknown sort: choose one of %(keys)s.", keys=", ".join(services.SORTS)))
    return key, descending


def _sorted_rows() -> tuple[list[services.OverviewRow], str, bool]:
    key, descending = _sort_args()
    return services.sort_rows(services.overview_rows(db.session, utcnow()), key, descending), key, descending


# A spreadsheet takes a cell beginning with one of these for a formula (or for the start of one, after a tab or a
# carriage return): typed into a shelter's name, it would run in the secretariat's spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(cell: Any) -> Any:
    """A CSV cell that no spreadsheet reads as a formula: text beginning like one gets a leading `'` (OWASP's advice
    on CSV injection), whichever column it is in. Numbers are left as they are: none of ours is negative, and a
    number is never a formula."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def _csv(filename: str, header: list[str], rows: list[list[Any]], report: str, scope: list[str] | None = None) -> Response:
    """Every CSV the app serves: audited, and every cell made inert."""
    detail: dict[str, Any] = {"rows": len(rows), "query": request.query_string.decode()[:200]}
    if scope is not None:
        detail["shelters"] = scope
    audit.record(db.session, actor=_user(), action="report.export", object_type="report", object_id=report,
                 now=utcnow(), detail=detail)
    db.session.commit()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([inert(cell) for cell in header])
    writer.writerows([inert(cell) for cell in row] for row in rows)
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})


BOARD_SAFE = "!$&'()*+,/:;=@"  # what werkzeug's converters leave unquoted in a path segment, as url_for would


class RowCells(NamedTuple):
    """What one overview or statistics row shows besides its OverviewRow, formatted in Python (a tuple:
    a thousand of them cost less than frozen dataclasses)."""

    board: str  # the shelter's board
    bar: Markup
    spark: Markup
    beds: str
    util30: str
    util365: str
    band30: str
    band365: str
    idle: str
    headcount: str
    status: str
    alerts: list[str]


def _cells(rows: list[services.OverviewRow], scoped: bool) -> list[tuple[services.OverviewRow, RowCells]]:
    """Each row with what it shows, formatted once in Python: the bed bar, the 90-night sparkline and the
    row's texts (a template asking Flask-Babel for each of 1,000 rows' words costs seconds). The sparklines
    refer to the page's `charts.sparkline_defs`, which the template must include."""
    w = Words()
    n = w.number
    percent = w.percent
    nights = services.sparkline_nights(db.session, utcnow(), rows, scoped)
    statuses = {code: str(label) for code, label in labels.SHELTER_STATUS.items()}
    never_used, residents_now = w(N_("never used")), w(N_("residents now"))
    beds_words = w(N_("%(occupied)s of %(usable)s occupied (%(share)s), %(held)s held, %(free)s free, "
                      "%(out)s out of service"))
    # One url_for for a thousand links: the board's address with the code at its end.
    board = url_for("shelters.board", code="CODE")
    board = board[:board.rindex("CODE")]
    band = services.band
    describe = texts.describe
    out = []
    for r in rows:
        days = r.days_since_resident
        idle = never_used if days is None else residents_now if days == 0 else n(days)
        free = r.free
        out.append((r, RowCells(
            board=board + url_quote(r.code, safe=BOARD_SAFE),
            bar=charts.beds_bar(r.code, r.occupied, r.held, free, r.out_of_service, w),
            spark=charts.sparkline(r.code, nights[r.shelter_id], w, shared=True),
            beds=beds_words % {"occupied": n(r.occupied), "usable": n(r.capacity - r.out_of_service),
                               "share": percent(r.occupancy), "held": n(r.held), "free": n(free),
                               "out": n(r.out_of_service)},
            util30=percent(r.util_30), util365=percent(r.util_365), band30=band(r.util_30),
            band365=band(r.util_365), idle=idle, headcount=w.when(r.last_headcount_at),
            status=statuses.get(r.status, r.status), alerts=[describe(a) for a in r.alerts])))
    return out


def _heads(nights: int) -> dict[str, str]:
    """The column names, translated once for every row's data-label."""
    heads = {key: str(label) for key, label in COLUMNS.items()}
    heads["nights"] = ngettext("Last %(num)d night", "Last %(num)d nights", nights)
    return heads


# --- the overview ------------------------------------------------------------------------------------------


@bp.get("/overview")
@roles_required(*permissions.OVERVIEW_ROLES)
def overview() -> Any:
    rows, key, descending = _sorted_rows()
    return render_template("reports/overview.html", rows=_cells(rows, scoped=False),
                           spark_defs=charts.sparkline_defs(services.SPARKLINE_NIGHTS),
                           heads=_heads(services.SPARKLINE_NIGHTS), sort=key, descending=descending,
                           floor=services.FLOOR, ceiling=services.CEILING)


OVERVIEW_HEADER = ["shelter", "name", "region", "status", "capacity", "out_of_service", "occupied", "held", "free",
                   "utilisation_30d_pct", "utilisation_365d_pct", "days_since_last_resident", "last_headcount",
                   "open_alerts"]


def overview_table(rows: list[services.OverviewRow]) -> list[list[Any]]:
    return [[r.code, r.name, r.region, r.status, r.capacity, r.out_of_service, r.occupied, r.held, r.free,
             _pct(r.util_30), _pct(r.util_365),
             "" if r.days_since_resident is None else r.days_since_resident,
             # In the reader's zone, with its offset (2026-12-03T17:28+01:00): a spreadsheet reads it as written.
             local(r.last_headcount_at).isoformat(timespec="minutes") if r.last_headcount_at else "",
             " | ".join(a.message for a in r.alerts)] for r in rows]


@bp.get("/overview.csv")
@roles_required(*permissions.OVERVIEW_ROLES)
@fresh_login_required
def overview_csv() -> Response:
    rows, _key, _descending = _sorted_rows()
    return _csv("overview.csv", OVERVIEW_HEADER, overview_table(rows), "overview")


# --- a manager's statistics: their own shelters ------------------------------------------------------------


def _stats_rows() -> tuple[list[services.OverviewRow], dict[int, services.PlacementStats], str, bool]:
    key, descending = _sort_args()
    ids = permissions.stats_shelter_ids(_user())
    now = utcnow()
    rows = services.sort_rows(services.overview_rows(db.session, now, ids), key, descending) if ids else []
    return rows, services.placement_stats(db.session, now, ids) if ids else {}, key, descending


@bp.get("/stats")
@roles_required(*permissions.STATS_ROLES)
def stats() -> Any:
    rows, placements, key, descending = _stats_rows()
    return render_template("reports/stats.html", rows=_cells(rows, scoped=True) if rows else [],
                           spark_defs=charts.sparkline_defs(services.SPARKLINE_NIGHTS), placements=placements, heads=_heads(services.SPARKLINE_NIGHTS), sort=key,
                           descending=descending, floor=services.FLOOR, ceiling=services.CEILING,
                           reasons=labels.DECLINE_REASON, label=labels.label)


STATS_HEADER = [*OVERVIEW_HEADER, "placements_accepted_365d", "placements_rejected_365d",
                "placements_declined_by_victim_365d", "decline_reasons", "admissions_365d",
                "median_days_identification_to_admission"]


@bp.get("/stats.csv")
@roles_required(*permissions.STATS_ROLES)
@fresh_login_required
def stats_csv() -> Response:
    rows, placements, _key, _descending = _stats_rows()
    table = []
    for r, line in zip(rows, overview_table(rows), strict=True):
        p = placements.get(r.shelter_id, services.PlacementStats())
        table.append([*line, p.accepted, p.rejected, p.declined,
                      " | ".join(f"{reason}: {n}" for reason, n in p.decline_reasons), p.admissions,
                      "" if p.median_days_to_placement is None else f"{p.median_days_to_placement:g}"])
    return _csv("stats.csv", STATS_HEADER, table, "stats", scope=[r.code for r in rows])


# --- trends ------------------------------------------------------------------------------------------------


def trend_sections(t: services.Trends) -> list[dict[str, Any]]:
    """Each chart of the trends page: its id, title, rows (label, values) and series names, in the page's
    language (the CSV asks for them in English)."""
    cases = (_("Cases"),)

    def one(key: str, title: str, rows: list[tuple[str, int]], names: dict | None = None) -> dict[str, Any]:
        return {"id": key, "title": title, "series": cases,
                "rows": [(labels.label(names, label) if names is not None else label, (n,)) for label, n in rows]}

    period = _("%(since)s to %(until)s", since=format_day(t.since), until=format_day(t.until))
    return [
        {"id": "years", "title": _("Identified victims, the 12 months before against the last 12 months"),
         "series": cases,
         "rows": [(_("12 months before"), (t.previous_12,)), (_("Last 12 months"), (t.last_12,))]},
        {"id": "quarters", "title": _("Identified victims by quarter, against the same quarter a year before"),
         "series": (_("This year"), _("A year before")),
         "rows": [(_quarter(q), (n, before)) for q, n, before in t.quarters]},
        one("exploitation", _("By form of exploitation, %(period)s", period=period), t.exploitation,
            labels.EXPLOITATION),
        one("sex", _("By sex, %(period)s", period=period), t.sex, labels.SEX),
        one("age", _("By age band at identification, %(period)s", period=period), t.age),
        one("organisation", _("By identifying organisation, %(period)s", period=period),
            [(_("Not recorded") if name == "Not recorded" else name, n) for name, n in t.organisation]),
        one("outcomes", _("Cases identified %(period)s by outcome", period=period), t.outcomes, labels.CASE_STATUS),
        one("declined", _("Placements declined by the victim, by reason, %(period)s", period=period),
            t.decline_reasons, labels.DECLINE_REASON),
    ]


IDENTIFICATION_METHODS = {"proactive_operation": _l("Proactive operation"), "referral": _l("Referral"),
                          "self_report": _l("Self-report"), identifications.NOT_RECORDED: _l("Not recorded")}
SHIFT_TITLES = {
    "unit": _l("By identifying unit"), "method": _l("By how the victim was identified"),
    "exploitation": _l("By form of exploitation"), "nationality": _l("By nationality"),
    "quarter": _l("By quarter of the year"),
}


def _shift_label(dimension: str, key: str) -> str:
    if dimension == "method":
        return labels.label(IDENTIFICATION_METHODS, key)
    if dimension == "exploitation":
        return labels.label(labels.EXPLOITATION, key)
    if dimension == "nationality":
        return str(get_locale().territories.get(key, key))
    if dimension == "quarter":
        return _("Quarter %(quarter)s", quarter=key[1:])
    return _("Not recorded") if key == identifications.NOT_RECORDED else key


def identification_sections(now: Any) -> dict[str, Any]:
    """Where the change in identifications comes from, in the page's language: the totals, the largest
    contributors by identifying unit, and each dimension's shifts (label, before, after, change)."""
    result = identifications.shifts(identifications.identified(db.session, now), now.date())
    return {
        "before": result.before, "after": result.after, "change": result.change,
        "contributors": [(_shift_label(d, s.key), s.before, s.after) for d, s in result.contributors],
        "tables": [{"id": f"shift-{d}", "title": SHIFT_TITLES[d],
                    "rows": [(_shift_label(d, s.key), s.before, s.after, s.change) for s in result.by[d]]}
                   for d in identifications.DIMENSIONS],
    }


def _quarter(label: str) -> str:
    """'2026 Q3' in the page's language."""
    year, q = label.split(" Q")
    return _("Quarter %(quarter)s, %(year)s", quarter=q, year=year)


@bp.get("/overview/trends")
@roles_required(*permissions.OVERVIEW_ROLES)
def trends() -> Any:
    now = utcnow()
    t = services.trends(db.session, now)
    sections = trend_sections(t)
    for s in sections:
        s["svg"] = charts.grouped_bar_chart(f"chart-{s['id']}", s["title"], s["rows"], s["series"])
    return render_template("reports/trends.html", t=t, sections=sections, shifts=identification_sections(now))


@bp.get("/overview/trends.csv")
@roles_required(*permissions.OVERVIEW_ROLES)
@fresh_login_required
def trends_csv() -> Response:
    t = services.trends(db.session, utcnow())
    rows: list[list[Any]] = []
    with force_locale("en"):
        sections = trend_sections(t)
    for s in sections:
        for label, values in s["rows"]:
            for name, value in zip(s["series"], values, strict=True):
                rows.append([s["id"], label, name, value])
    rows.append(["days_to_placement", "median", "", "" if t.days_to_placement is None else t.days_to_placement])
    return _csv("trends.csv", ["chart", "category", "series", "count"], rows, "trends")


# --- partners ----------------------------------------------------------------------------------------------


@bp.get("/figures")
@roles_required(*permissions.FIGURES_ROLES)
def figures() -> Any:
    f = services.partner_figures(db.session, utcnow())
    locale = get_locale()
    months = [(format_skeleton("yMMMM", date(int(m[:4]), int(m[5:7]), 1), locale=locale), n) for m, n in f.by_month]
    countries = [(locale.territories.get(code, code), n) for code, n in f.by_country]
    f = dataclasses.replace(f, by_month=months, by_country=countries)
    return render_template("reports/figures.html", f=f, k=services.SUPPRESS_BELOW, suppressed=services.SUPPRESSED,
                           labels=labels, label=labels.label, other=OTHER_REGIONS, min_shelters=MIN_SHELTERS_PER_GROUP)


# --- a shelter's board: its occupancy history and stays ----------------------------------------------------


def history_panel(user: User, shelter: Shelter) -> tuple[str, dict[str, Any]] | None:
    """The shelter's nights over 90 or 365 days (`?history=`) as a chart and a table, and the stays in them.

    Registered in shelters.views.BOARD_PANELS (shelters never imports reports). Only for those who may see
    the shelter's residents; listing its stays is a read of case data, audited with the case codes shown.
    """
    if not permissions.can_see_history(user, shelter):
        return None
    try:
        days = int(request.args.get("history", services.HISTORY_WINDOWS[0]))
    except ValueError:
        days = services.HISTORY_WINDOWS[0]
    if days not in services.HISTORY_WINDOWS:
        days = services.HISTORY_WINDOWS[0]
    now = utcnow()
    history = services.shelter_history(db.session, now, shelter, days, with_stays=True)
    if history.stays:
        audit.record(db.session, actor=user, action="shelter.stays_read", object_type="shelter",
                     object_id=shelter.code, now=now,
                     detail={"nights": days, "cases": sorted({s.case_code for s in history.stays})})
    return "reports/_history.html", {
        "shelter": shelter, "history": history, "windows": services.HISTORY_WINDOWS,
        "chart": charts.history_chart(f"history-{shelter.code}", shelter.code, history.nights),
        "table": charts.history_table(history.nights), "reasons": labels.DISCHARGE_REASON, "label": labels.label,
        "below": True,  # charts come after the day's work on the board (incoming requests, admit, headcount)
    }


if history_panel not in BOARD_PANELS:
    BOARD_PANELS.append(history_panel)


@bp.app_context_processor
def _report_links() -> dict[str, Any]:
    return {"can_see_overview": permissions.can_see_overview, "can_see_figures": permissions.can_see_figures,
            "can_see_stats": permissions.can_see_stats}


# --- why a shelter stands empty: its placement funnel, what stopped the rest, and what if it changed ------------

FUNNEL_STEPS = {
    "made": _l("Requests made"), "eligible": _l("Shelter eligible"), "top3": _l("Suggested in the top 3"),
    "chosen": _l("Chosen (bed reserved)"), "accepted": _l("Accepted by the shelter"),
    "admitted": _l("Admitted to the shelter"), "stayed": _l("Stayed beyond 7 days"),
}
DECIDING_TERMS = {**TERM_LABELS, "officer_choice": _l("The officer's choice (it scored no more)")}
WHAT_IF_LABELS = {
    "takes_men": _l("Takes men"), "takes_all_ages": _l("Takes adults and minors"),
    "adds_interpretation": _l("Adds interpretation"), "high_security": _l("High security"),
    "two_more_beds": _l("Two more beds"), "all_of_these": _l("All of these"),
}


def funnel_sections(funnel: Any) -> dict[str, Any]:
    """The funnel's figures in the page's language: steps, exclusion tallies worded from code and values, and the
    leaks after eligibility."""
    return {
        "steps": [(str(FUNNEL_STEPS[name]), n) for name, n in funnel.steps()],
        "exclusions": [(reason_text(t.code, t.values), t.requests, t.only_reason) for t in funnel.exclusions],
        "ranked_lower": [(str(DECIDING_TERMS.get(k, k)), n) for k, n in funnel.ranked_lower.items()],
        "passed_over": [(str(DECIDING_TERMS.get(k, k)), n) for k, n in funnel.passed_over.items()],
        "declined": [(labels.label(labels.DECLINE_REASON, k), n) for k, n in funnel.declined.items()],
        "left_early": [(labels.label(labels.DISCHARGE_REASON, k), n) for k, n in funnel.left_early.items()],
        "rejected": [(labels.label(labels.REJECT_REASON, k), n) for k, n in funnel.rejected.items()],
    }


@bp.get("/overview/shelters/<code>/funnel")
@roles_required(*permissions.OVERVIEW_ROLES)
def shelter_funnel(code: str) -> Any:
    """Why a shelter stands empty, over a period (`?from=&to=`, ISO days, `to` inclusive; the last 365 days by
    default): its placement funnel from the stored rankings and events, and the what-if replays."""
    user, now = _user(), utcnow()
    shelter = db.session.scalar(select(Shelter).where(Shelter.code == code))
    if shelter is None:
        abort(404)
    try:
        period = evidence.parse_period(request.args.get("from") or None, request.args.get("to") or None,
                                       now.date())
    except ValueError as exc:
        field = str(exc)
        message = _("Give the start as a day (YYYY-MM-DD).") if field == "from" else _(
            "Give the end as a day (YYYY-MM-DD) on or after the start, at most ten years later.")
        return render_template("reports/funnel.html", shelter=shelter, error=message, field=field,
                               period=None), 400
    funnel = evidence.funnel(db.session, shelter, period, now)
    changes = evidence.what_ifs(db.session, shelter, period, Settings.from_config(current_app.config))
    sections = funnel_sections(funnel)
    chart = charts.grouped_bar_chart("chart-funnel", _("Placement funnel of %(code)s", code=shelter.code),
                                     [(label, (n,)) for label, n in sections["steps"]], (_("Requests"),))
    audit.record(db.session, actor=user, action="report.funnel_read", object_type="shelter", object_id=shelter.code,
                 now=now, detail={"from": period.start.isoformat(), "to": period.end.isoformat()})
    db.session.commit()
    return render_template("reports/funnel.html", shelter=shelter, funnel=funnel, s=sections, chart=chart,
                           period=period, last_day=period.end - timedelta(days=1), changes=changes,
                           change_labels=WHAT_IF_LABELS, error=None, field=None)


# --- the action plan ------------------------------------------------------------------------------------------


def _action_form(form: ActionForm | None = None) -> ActionForm:
    form = form or ActionForm(formdata=None)
    orgs = db.session.scalars(select(Organisation).order_by(Organisation.name))
    form.owner.choices = choices([("", "—"), *((o.code, o.name) for o in orgs)])
    form.shelters.choices = choices((s.code, f"{s.code} · {s.name}") for s in
                                    db.session.scalars(select(Shelter).order_by(Shelter.code)))
    form.existing.choices = choices([("", _("No: record a new action")),
                                     *((str(a.id), a.title) for a in actions.list_actions(db.session)
                                       if a.status in OPEN_STATUSES)])
    return form


def _empty_shelter_alert(alert_id: str | None) -> Alert | None:
    """The alert named by `?alert=` or the form, when it is an open alert about an empty shelter."""
    if not alert_id or not alert_id.isdigit():
        return None
    alert = db.session.get(Alert, int(alert_id))
    if alert is None or alert.kind not in actions.EMPTY_SHELTER_ALERTS or alert.status == "resolved":
        return None
    return alert


def _plan_page(form: ActionForm | None = None, status: int = 200, alert: Alert | None = None) -> tuple[str, int]:
    now = utcnow()
    records = actions.list_actions(db.session)
    rows = [(record, actions.before_after(db.session, record, now), ActionStatusForm(
        formdata=None, prefix=f"a{record.id}")) for record in records]
    return render_template("reports/actions.html", rows=rows, form=_action_form(form), alert=alert,
                           statuses=ACTION_STATUSES, alert_kinds=texts, days=actions.BEFORE_AFTER_DAYS), status


@bp.get("/overview/actions")
@roles_required(*permissions.OVERVIEW_ROLES)
def action_plan() -> Any:
    """The action plan: every action with its linked shelters before and after it, and a form for a new one
    (`?alert=` to resolve an empty-shelter alert with it)."""
    return _plan_page(alert=_empty_shelter_alert(request.args.get("alert")))


@bp.post("/overview/actions")
@roles_required(*permissions.OVERVIEW_ROLES)
def create_action() -> Any:
    form = _action_form(ActionForm())
    alert = _empty_shelter_alert(request.form.get("alert"))
    if not form.validate():
        flash(_("The action was not recorded: check the highlighted fields."), "error")
        return _plan_page(form, 422, alert)
    try:
        if alert is not None:
            existing = form.existing.data
            actions.resolve_alert_with_action(db.session, _user(), utcnow(), alert, form.resolution.data,
                                              int(existing) if existing and existing.isdigit() else None,
                                              form.values())
        else:
            actions.create_action(db.session, _user(), utcnow(), form.values())
        db.session.commit()
    except DomainError as error:
        return _plan_page(form, form.refused(error), alert)
    flash(_("Action recorded.") if alert is None else _("Action recorded and the alert resolved."), "success")
    return redirect(url_for("reports.action_plan"))


@bp.post("/overview/actions/<int:action_id>/status")
@roles_required(*permissions.OVERVIEW_ROLES)
def action_status(action_id: int) -> Any:
    record = db.session.get(Action, action_id)
    if record is None:
        abort(404)
    form = ActionStatusForm(prefix=f"a{action_id}")
    try:
        if not form.validate():
            raise Invalid(_("Choose a status."), fields={"status": "required"})
        actions.update_action(db.session, _user(), utcnow(), record, {"status": form.status.data})
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "error")
        return _plan_page(status=error.status)
    flash(_("Action updated."), "success")
    return redirect(url_for("reports.action_plan"))


@bp.get("/overview/actions.csv")
@roles_required(*permissions.OVERVIEW_ROLES)
@fresh_login_required
def actions_csv() -> Response:
    """The action plan beside the overview's export: one row per action and linked shelter, with its figures
    before and after."""
    now = utcnow()
    rows: list[list[Any]] = []
    for record in actions.list_actions(db.session):
        figures_of = {ba.shelter.code: ba for ba in actions.before_after(db.session, record, now)}
        for code in [s.code for s in record.shelters] or [""]:
            ba = figures_of.get(code)
            before, after = (ba.before, ba.after) if ba else (None, None)
            rows.append([record.id, record.title, record.owner.code, record.due_on.isoformat(), record.status,
                         " ".join(str(a.id) for a in record.alerts), code,
                         "" if before is None or before.utilisation is None else round(before.utilisation, 3),
                         "" if after is None or after.utilisation is None else round(after.utilisation, 3),
                         "" if before is None else before.chosen, "" if after is None else after.chosen,
                         "" if before is None else before.admitted, "" if after is None else after.admitted])
    return _csv("actions.csv", ["action", "title", "owner", "due_on", "status", "alerts", "shelter",
                                "utilisation_before", "utilisation_after", "chosen_before", "chosen_after",
                                "admitted_before", "admitted_after"], rows, "actions")

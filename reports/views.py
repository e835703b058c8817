"""Pages: the secretariat's overview and trends, their CSV exports (audited, behind re-authentication),
and the partners' suppressed aggregates. Each handler checks the role, calls reports.services and renders;
an export is built from the same rows as its page, so it never shows what the page would not."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_login import current_user
from werkzeug.wrappers import Response

from accounts import audit
from accounts.models import User
from accounts.permissions import roles_required
from accounts.views import fresh_login_required
from database import utcnow
from extensions import db
from reports import charts, permissions, services

bp = Blueprint("reports", __name__)

COLUMNS = {
    "code": "Shelter", "region": "Region", "occupancy": "Beds", "util30": "30 days", "util365": "365 days",
    "idle": "Days since last resident", "headcount": "Last headcount", "alerts": "Open alerts",
}


def _user() -> User:
    return current_user  # type: ignore[return-value]


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.0f}"


def _sorted_rows() -> tuple[list[services.OverviewRow], str, bool]:
    key = request.args.get("sort", "code")
    descending = request.args.get("dir", "asc") == "desc"
    if key not in services.SORTS:
        abort(400, description=f"Unknown sort: choose one of {', '.join(services.SORTS)}.")
    return services.sort_rows(services.overview_rows(db.session, utcnow()), key, descending), key, descending


def _csv(filename: str, header: list[str], rows: list[list[Any]], report: str) -> Response:
    audit.record(db.session, actor=_user(), action="report.export", object_type="report", object_id=report,
                 now=utcnow(), detail={"rows": len(rows), "query": request.query_string.decode()[:200]})
    db.session.commit()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return Response(buffer.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "no-store"})


# --- the overview ------------------------------------------------------------------------------------------


@bp.get("/overview")
@roles_required(*permissions.OVERVIEW_ROLES)
def overview() -> Any:
    rows, key, descending = _sorted_rows()
    bars = {r.code: charts.beds_bar(r.code, r.occupied, r.held, r.free, r.out_of_service) for r in rows}
    return render_template("reports/overview.html", rows=rows, bars=bars, sort=key, descending=descending,
                           columns=COLUMNS, floor=services.FLOOR, ceiling=services.CEILING, band=services.band,
                           now=utcnow())


OVERVIEW_HEADER = ["shelter", "name", "region", "status", "capacity", "out_of_service", "occupied", "held", "free",
                   "utilisation_30d_pct", "utilisation_365d_pct", "days_since_last_resident", "last_headcount_utc",
                   "open_alerts"]


def overview_table(rows: list[services.OverviewRow]) -> list[list[Any]]:
    return [[r.code, r.name, r.region, r.status, r.capacity, r.out_of_service, r.occupied, r.held, r.free,
             _pct(r.util_30), _pct(r.util_365),
             "" if r.days_since_resident is None else r.days_since_resident,
             r.last_headcount_at.strftime("%Y-%m-%d %H:%M") if r.last_headcount_at else "",
             " | ".join(r.alerts)] for r in rows]


@bp.get("/overview.csv")
@roles_required(*permissions.OVERVIEW_ROLES)
@fresh_login_required
def overview_csv() -> Response:
    rows, _, _ = _sorted_rows()
    return _csv("overview.csv", OVERVIEW_HEADER, overview_table(rows), "overview")


# --- trends ------------------------------------------------------------------------------------------------


def trend_sections(t: services.Trends) -> list[dict[str, Any]]:
    """Each chart of the trends page: its id, title, rows (label, values) and series names."""
    def one(key: str, title: str, rows: list[tuple[str, int]]) -> dict[str, Any]:
        return {"id": key, "title": title, "series": ("Cases",), "rows": [(label, (n,)) for label, n in rows]}

    period = f"{t.since:%Y-%m-%d} to {t.until:%Y-%m-%d}"
    return [
        {"id": "years", "title": "Identified victims, the 12 months before against the last 12 months",
         "series": ("Cases",), "rows": [("12 months before", (t.previous_12,)), ("Last 12 months", (t.last_12,))]},
        {"id": "quarters", "title": "Identified victims by quarter, against the same quarter a year before",
         "series": ("This year", "A year before"), "rows": [(q, (n, before)) for q, n, before in t.quarters]},
        one("exploitation", f"By form of exploitation, {period}", t.exploitation),
        one("sex", f"By sex, {period}", t.sex),
        one("age", f"By age band at identification, {period}", t.age),
        one("organisation", f"By identifying organisation, {period}", t.organisation),
        one("outcomes", f"Cases identified {period} by outcome", [(s.replace("_", " "), n) for s, n in t.outcomes]),
        one("declined", f"Placements declined by the victim, by reason, {period}",
            [(s.replace("_", " "), n) for s, n in t.decline_reasons]),
    ]


@bp.get("/overview/trends")
@roles_required(*permissions.OVERVIEW_ROLES)
def trends() -> Any:
    t = services.trends(db.session, utcnow())
    sections = trend_sections(t)
    for s in sections:
        s["svg"] = charts.grouped_bar_chart(f"chart-{s['id']}", s["title"], s["rows"], s["series"])
    return render_template("reports/trends.html", t=t, sections=sections)


@bp.get("/overview/trends.csv")
@roles_required(*permissions.OVERVIEW_ROLES)
@fresh_login_required
def trends_csv() -> Response:
    t = services.trends(db.session, utcnow())
    rows: list[list[Any]] = []
    for s in trend_sections(t):
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
    return render_template("reports/figures.html", f=f, k=services.SUPPRESS_BELOW, suppressed=services.SUPPRESSED)


@bp.app_context_processor
def _report_links() -> dict[str, Any]:
    return {"can_see_overview": permissions.can_see_overview, "can_see_figures": permissions.can_see_figures}

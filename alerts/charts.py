"""A shelter's occupancy over the last nights, as a small inline SVG drawn on the server.

The figures follow shelters.figures' definition of a night (counted at each
midnight UTC; a stay occupies the nights from its admission date up to, not
including, its discharge date; the usable capacity of a night is the one in
force at that midnight). The database sums beds per admission and discharge
day; the running total over the window is taken here.

The SVG has no script, no style attribute and no outside reference:
presentation attributes and classes only. Occupied beds are blue bars, the
usable capacity an orange dashed step line (Okabe-Ito colours, told apart by
shape as well as hue), with a text legend, axis labels, a <title> per night
and a <desc> summing it up in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import format_percent, ngettext
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from database import epoch_day
from i18n import format_day
from shelters.figures import EPOCH, window
from shelters.models import CapacityChange, Stay

DAYS = 90
OCCUPIED_COLOUR = "#0072b2"  # Okabe-Ito blue
USABLE_COLOUR = "#d55e00"  # Okabe-Ito vermillion
INK = "#1d2330"
GRID = "#d5dae3"


@dataclass(frozen=True)
class Night:
    day: date
    occupied: int
    usable: int | None  # None: the shelter was not in service yet


@dataclass(frozen=True)
class Series:
    nights: list[Night]

    @property
    def first(self) -> date:
        return self.nights[0].day

    @property
    def last(self) -> date:
        return self.nights[-1].day

    @property
    def peak(self) -> int:
        return max((n.occupied for n in self.nights), default=0)

    @property
    def nights_used(self) -> int:
        return sum(1 for n in self.nights if n.occupied > 0)

    @property
    def bed_nights_occupied(self) -> int:
        return sum(n.occupied for n in self.nights)

    @property
    def bed_nights_available(self) -> int:
        return sum(n.usable or 0 for n in self.nights)

    @property
    def utilisation(self) -> float | None:
        available = self.bed_nights_available
        return self.bed_nights_occupied / available if available > 0 else None


def occupancy_series(session: Session, shelter_id: int, now: datetime, days: int = DAYS) -> Series:
    """Beds occupied and usable for each of the `days` nights before today (UTC)."""
    first, _last = window(now, days)
    start_day = (first - EPOCH).days
    start_at = datetime.combine(first, time(), UTC)
    relevant = (Stay.shelter_id == shelter_id) & (Stay.discharged_at.is_(None) | (Stay.discharged_at >= start_at))

    # +beds on the admission day, -beds on the discharge day: the running sum is the beds taken each night.
    delta: dict[int, int] = {}
    adm = epoch_day(Stay.admitted_at)
    for day, beds in session.execute(select(adm, func.sum(Stay.beds)).where(relevant).group_by(adm)):
        delta[int(day)] = delta.get(int(day), 0) + int(beds or 0)
    dis = epoch_day(Stay.discharged_at)
    for day, beds in session.execute(
        select(dis, func.sum(Stay.beds)).where(relevant, Stay.discharged_at.is_not(None)).group_by(dis)
    ):
        delta[int(day)] = delta.get(int(day), 0) - int(beds or 0)
    occupied = sum(beds for day, beds in delta.items() if day < start_day)

    changes = [
        ((effective_at.astimezone(UTC).date() - EPOCH).days, usable)
        for effective_at, usable in session.execute(
            select(CapacityChange.effective_at, CapacityChange.capacity - CapacityChange.out_of_service)
            .where(CapacityChange.shelter_id == shelter_id)
            .order_by(CapacityChange.effective_at, CapacityChange.id)
        )
    ]
    usable: int | None = None
    pending = iter(changes)
    upcoming = next(pending, None)

    nights = []
    for offset in range(days):
        day_no = start_day + offset
        occupied += delta.get(day_no, 0)
        while upcoming is not None and upcoming[0] <= day_no:
            usable = int(upcoming[1])
            upcoming = next(pending, None)
        nights.append(Night(first + timedelta(days=offset), max(0, occupied), usable))
    return Series(nights)


# --- drawing ----------------------------------------------------------------------------------------------

WIDTH, HEIGHT = 640, 230
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 34, 30


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def describe(series: Series, subject: str) -> str:
    """The chart in words, in the current language: what a reader who cannot see it needs."""
    values = {"shelter": subject, "first": format_day(series.first), "last": format_day(series.last),
              "used": series.nights_used, "peak": series.peak, "bed_nights": series.bed_nights_occupied}
    nights = len(series.nights)
    if series.nights_used == 0:
        what = ngettext("%(shelter)s: no bed occupied on any of the %(num)d night from %(first)s to %(last)s.",
                        "%(shelter)s: no bed occupied on any of the %(num)d nights from %(first)s to %(last)s.",
                        nights, **values)
    elif series.utilisation is None:
        what = ngettext("%(shelter)s: beds occupied on %(used)d of the %(num)d night from %(first)s to %(last)s, "
                        "at most %(peak)d at once (%(bed_nights)d bed-nights).",
                        "%(shelter)s: beds occupied on %(used)d of the %(num)d nights from %(first)s to %(last)s, "
                        "at most %(peak)d at once (%(bed_nights)d bed-nights).", nights, **values)
    else:
        what = ngettext("%(shelter)s: beds occupied on %(used)d of the %(num)d night from %(first)s to %(last)s, "
                        "at most %(peak)d at once (%(bed_nights)d bed-nights, %(share)s of those available).",
                        "%(shelter)s: beds occupied on %(used)d of the %(num)d nights from %(first)s to %(last)s, "
                        "at most %(peak)d at once (%(bed_nights)d bed-nights, %(share)s of those available).",
                        nights, share=format_percent(series.utilisation), **values)
    usable = [n.usable for n in series.nights if n.usable is not None]
    if not usable:
        capacity = _("Not in service.")
    elif min(usable) == max(usable):
        capacity = ngettext("Usable capacity: %(num)d bed.", "Usable capacity: %(num)d beds.", min(usable))
    else:
        capacity = ngettext("Usable capacity: %(low)d to %(num)d bed.", "Usable capacity: %(low)d to %(num)d beds.",
                            max(usable), low=min(usable))
    # Two sentences, each whole in every language.
    return f"{what} {capacity}"


def _night_title(night: Night) -> str:
    if night.usable is None:
        return ngettext("%(day)s: %(num)d bed occupied", "%(day)s: %(num)d beds occupied", night.occupied,
                        day=format_day(night.day))
    return ngettext("%(day)s: %(num)d bed occupied of %(usable)d usable",
                    "%(day)s: %(num)d beds occupied of %(usable)d usable", night.occupied,
                    day=format_day(night.day), usable=night.usable)


def occupancy_svg(series: Series, subject: str, chart_id: str = "occupancy") -> Markup:
    """The series as an inline <svg> (role img, labelled by its <title> and <desc>)."""
    nights = series.nights
    top = max([1, series.peak, *(n.usable or 0 for n in nights)])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / len(nights)
    base = TOP + plot_h

    def y(value: float) -> float:
        return base - value / top * plot_h

    cid = escape(chart_id)
    title = escape(ngettext("Occupancy of %(shelter)s, last %(num)d night",
                            "Occupancy of %(shelter)s, last %(num)d nights", len(nights), shelter=subject))
    out = [
        (f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
         f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="{cid}-title {cid}-desc" '
         f'font-family="system-ui, sans-serif" font-size="12">'),
        f'<title id="{cid}-title">{title}</title>',
        f'<desc id="{cid}-desc">{escape(describe(series, subject))}</desc>',
    ]
    # The y axis: 0, the top, and a middle line when it is a whole number of beds.
    ticks = sorted({0, top} | ({top // 2} if top >= 4 else set()))
    for tick in ticks:
        out.append(f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_n(y(tick))}" '
                   f'y2="{_n(y(tick))}" stroke="{GRID}" stroke-width="1"/>')
        out.append(f'<text class="chart-label" x="{LEFT - 6}" y="{_n(y(tick) + 4)}" text-anchor="end" '
                   f'fill="{INK}">{tick}</text>')
    unit = escape(_("beds"))
    out.append(f'<text class="chart-label" x="4" y="{TOP - 20}" fill="{INK}">{unit}</text>')

    # Occupied beds: one bar per night, each with its figures as a tooltip.
    out.append(f'<g class="chart-occupied" fill="{OCCUPIED_COLOUR}">')
    for i, night in enumerate(nights):
        if night.occupied <= 0:
            continue
        out.append(f'<rect x="{_n(LEFT + i * step + 0.5)}" y="{_n(y(night.occupied))}" '
                   f'width="{_n(max(1.0, step - 1))}" height="{_n(base - y(night.occupied))}">'
                   f'<title>{escape(_night_title(night))}</title></rect>')
    out.append("</g>")

    # Usable capacity: a dashed step line, broken where the shelter was not in service.
    segments: list[list[str]] = []
    current: list[str] | None = None
    for i, night in enumerate(nights):
        if night.usable is None:
            current = None
            continue
        x0, x1, yy = _n(LEFT + i * step), _n(LEFT + (i + 1) * step), _n(y(night.usable))
        if current is None:
            current = []
            segments.append(current)
        current += [f"{x0},{yy}", f"{x1},{yy}"]
    for points in segments:
        out.append(f'<polyline class="chart-usable" points="{" ".join(points)}" fill="none" '
                   f'stroke="{USABLE_COLOUR}" stroke-width="2.5" stroke-dasharray="7 4"/>')

    # The x axis and its dates.
    out.append(f'<line class="chart-axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}" '
               f'stroke="{INK}" stroke-width="1"/>')
    middle = nights[len(nights) // 2].day
    for x, anchor, day in ((LEFT, "start", series.first), (LEFT + plot_w / 2, "middle", middle),
                           (WIDTH - RIGHT, "end", series.last)):
        out.append(f'<text class="chart-label" x="{_n(x)}" y="{base + 18}" text-anchor="{anchor}" '
                   f'fill="{INK}">{escape(format_day(day))}</text>')

    # The legend, in words beside each mark; the second key starts after the first's words, whose length
    # depends on the language (a generous 0.6em a character at 12px).
    occupied_key, usable_key = _("Beds occupied (bars)"), _("Usable beds (dashed line)")
    second = LEFT + 20 + max(150, round(len(occupied_key) * 7.2)) + 16
    out.append(f'<g class="chart-legend" fill="{INK}">'
               f'<rect x="{LEFT}" y="8" width="14" height="12" fill="{OCCUPIED_COLOUR}"/>'
               f'<text x="{LEFT + 20}" y="18">{escape(occupied_key)}</text>'
               f'<line x1="{second}" x2="{second + 30}" y1="14" y2="14" stroke="{USABLE_COLOUR}" '
               f'stroke-width="2.5" stroke-dasharray="7 4"/>'
               f'<text x="{second + 36}" y="18">{escape(usable_key)}</text></g>')
    out.append("</svg>")
    return Markup("".join(out))

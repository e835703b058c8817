"""Bar charts and bed bars for the reports, drawn on the server as inline SVG.

alerts/charts.py draws a shelter's nights as a time series; these are categories (a quarter, a form of
exploitation, a shelter's beds), so they are drawn here, in the same manner: no script, no style
attribute, no outside reference; Okabe-Ito colours told apart by pattern as well as hue, every bar
labelled with its number in text, a <title> and <desc> for readers who cannot see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from itertools import compress
from operator import ne
from typing import TypeVar

from flask_babel import format_decimal as number
from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup, escape

from alerts.charts import GRID, INK, OCCUPIED_COLOUR
from i18n import N_, N_plural, format_day
from reports.words import Words
from shelters import figures

T = TypeVar("T")

PREVIOUS_COLOUR = "#e69f00"  # Okabe-Ito orange: the comparison series
HELD_COLOUR = "#56b4e9"  # Okabe-Ito sky blue
FREE_COLOUR = "#ffffff"
OUT_COLOUR = "#999999"

ROW, GAP, LABEL_W, WIDTH, NUMBER_W = 18, 8, 170, 640, 44


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def bar_chart(chart_id: str, title: str, rows: Sequence[tuple[str, int]], description: str = "") -> Markup:
    """One horizontal bar per (label, count), the count written at the end of each bar."""
    return grouped_bar_chart(chart_id, title, [(label, (n,)) for label, n in rows], ("",), description)


def grouped_bar_chart(chart_id: str, title: str, rows: Sequence[tuple[str, Sequence[int]]],
                      series: Sequence[str], description: str = "") -> Markup:
    """Bars per label, one per series (the first blue and solid, the second orange and hatched)."""
    per = len(series)
    band = per * ROW + GAP
    legend_h = 22 if per > 1 else 0
    height = legend_h + max(1, len(rows)) * band + GAP
    top = max([1, *(v for _, values in rows for v in values)])
    plot_w = WIDTH - LABEL_W - NUMBER_W
    cid = escape(chart_id)
    desc = description or "; ".join(
        f"{label}: " + ", ".join(f"{name + ' ' if name else ''}{number(v)}"
                                 for name, v in zip(series, values, strict=True))
        for label, values in rows) or _("no data")
    out = [
        (f'<svg class="chart chart--bars" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
         f'role="img" aria-labelledby="{cid}-title {cid}-desc" font-family="system-ui, sans-serif" '
         f'font-size="12">'),
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(desc)}</desc>',
        (f'<defs><pattern id="{cid}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
         f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{PREVIOUS_COLOUR}"/>'
         f'<line x1="0" y1="0" x2="0" y2="6" stroke="{INK}" stroke-width="1.5"/></pattern></defs>'),
    ]
    fills = [OCCUPIED_COLOUR, f"url(#{cid}-hatch)"]
    if per > 1:
        x = LABEL_W
        for i, name in enumerate(series):
            out.append(f'<rect x="{x}" y="4" width="14" height="12" fill="{fills[i % 2]}" stroke="{INK}" '
                       f'stroke-width="0.5"/><text x="{x + 20}" y="14" fill="{INK}">{escape(name)}</text>')
            x += 40 + 8 * len(name)
    out.append(f'<line x1="{LABEL_W}" x2="{LABEL_W}" y1="{legend_h}" y2="{height}" stroke="{GRID}"/>')
    for r, (label, values) in enumerate(rows):
        y0 = legend_h + GAP + r * band
        out.append(f'<text x="{LABEL_W - 6}" y="{_n(y0 + per * ROW / 2 + 4)}" text-anchor="end" '
                   f'fill="{INK}">{escape(label)}</text>')
        for i, (name, value) in enumerate(zip(series, values, strict=True)):
            w = value / top * plot_w
            y = y0 + i * ROW
            what = f"{label}{', ' + name if name else ''}: {number(value)}"
            out.append(f'<rect class="chart-bar" x="{LABEL_W}" y="{y + 1}" width="{_n(w)}" height="{ROW - 2}" '
                       f'fill="{fills[i % 2]}" stroke="{INK}" stroke-width="0.5"><title>{escape(what)}</title>'
                       f'</rect>')
            out.append(f'<text class="chart-value" x="{_n(LABEL_W + w + 4)}" y="{y + ROW - 5}" '
                       f'fill="{INK}">{number(value)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


BEDS_SEGMENTS = (("occupied", OCCUPIED_COLOUR, N_("%(count)s occupied")),
                 ("held", HELD_COLOUR, N_("%(count)s held")),
                 ("free", FREE_COLOUR, N_("%(count)s free")),
                 ("out-of-service", OUT_COLOUR, N_("%(count)s out of service")))


def beds_bar(code: str, occupied: int, held: int, free: int, out_of_service: int, w: Words | None = None) -> Markup:
    """A shelter's beds as one bar: occupied (solid blue), held (sky blue, hatched), free (white), out of
    service (grey); each segment titled with its count, the whole described in words."""
    w = w or Words()
    n = w.number
    total = max(1, occupied + held + free + out_of_service)
    text = w(N_("%(code)s: %(occupied)s occupied, %(held)s held, %(free)s free, %(out)s out of service"), code=code,
             occupied=n(occupied), held=n(held), free=n(free), out=n(out_of_service))
    cid = escape(f"beds-{code}")
    # The segments share their outline through the group; a rect's x and y default to 0.
    out = [(f'<svg class="beds-bar" viewBox="0 0 100 14" width="160" height="22" preserveAspectRatio="none" '
            f'role="img" aria-labelledby="{cid}"><title id="{cid}">{escape(text)}</title>'
            f'<g stroke="{INK}" stroke-width="0.4">')]
    x = 0.0
    for (name, fill, words), count in zip(BEDS_SEGMENTS, (occupied, held, free, out_of_service), strict=True):
        if count <= 0:
            continue
        width = count / total * 100
        at = f' x="{_n(x)}"' if x else ""
        out.append(f'<rect class="beds-bar-{name}"{at} width="{_n(width)}" height="14" fill="{fill}">'
                   f'<title>{escape(w(words, count=n(count)))}</title></rect>')
        x += width
    out.append("</g></svg>")
    return Markup("".join(out))


# --- a shelter's nights: the overview's sparkline and the board's history chart ----------------------------
# Both are step lines over shelters.figures.nightly (the nights utilisation counts): a run of equal nights is
# one segment, so a quiet year costs a handful of path commands, not 365 bars.

CAPACITY_COLOUR = INK
USABLE_COLOUR = "#d55e00"  # Okabe-Ito vermillion, and dashed: told apart from the blue by shape as well


def _runs(values: Sequence[T]) -> list[tuple[int, int, T]]:
    """(first index, end index, value) of each run of equal values."""
    count = len(values)
    if not count:
        return []
    # Where a value differs from the one before it, compared pairwise in C: a row's sparkline draws two
    # of these and the overview a thousand rows.
    ends = list(compress(range(1, count), map(ne, values, values[1:])))
    ends.append(count)
    return list(zip([0, *ends[:-1]], ends, [values[end - 1] for end in ends]))


def _step_path(values: Sequence[int | None], x0: float, step: float, y) -> str:
    """An SVG path drawing `values` as a step line, lifted where a value is None."""
    parts = []
    pen_down = False
    for start, end, value in _runs(values):
        if value is None:
            pen_down = False
            continue
        yy = _n(y(value))
        parts.append(f"{'L' if pen_down else 'M'}{_n(x0 + start * step)},{yy}H{_n(x0 + end * step)}")
        pen_down = True
    return "".join(parts)


def _area_path(values: Sequence[int], x0: float, step: float, y, base: float) -> str:
    """The area under a step line of `values`, down to `base`; empty when every value is 0."""
    if not any(values):
        return ""
    parts = [f"M{_n(x0)},{_n(base)}"]
    for start, end, value in _runs(values):
        yy = _n(y(value or 0))
        parts.append(f"V{yy}H{_n(x0 + end * step)}")
    parts.append(f"V{_n(base)}Z")
    return "".join(parts)


def describe_nights(nights: figures.Nights, subject: str, w: Words | None = None,
                    usable_runs: list[tuple[int, int, int | None]] | None = None) -> str:
    """The nights in words and numbers: the text alternative of the sparkline and the history chart.
    `usable_runs`: `_runs(nights.usable)`, when the caller has them already."""
    w = w or Words()
    number = w.number
    count = len(nights.occupied)
    last = nights.first + timedelta(days=count - 1)
    # The usable beds change a few times a year at most: counted by runs of nights, not night by night.
    if usable_runs is None:
        usable_runs = _runs(nights.usable)
    in_service = [(end - start, beds) for start, end, beds in usable_runs if beds is not None]
    available = sum(n * beds for n, beds in in_service)
    used = sum(nights.occupied)
    span = w(N_("%(subject)s, %(nights)s nights from %(first)s to %(last)s"), subject=subject,
             nights=number(count), first=w.day(nights.first), last=w.day(last))
    if not in_service:
        capacity = w(N_("not in service"))
    elif (fewest := min(beds for _n, beds in in_service)) == (most := max(beds for _n, beds in in_service)):
        capacity = w.plural(N_plural("%(num)d usable bed", "%(num)d usable beds"), most)
    else:
        capacity = w(N_("%(low)s to %(high)s usable beds"), low=number(fewest), high=number(most))
    if used == 0:
        return w(N_("%(span)s: no bed occupied; %(capacity)s."), span=span, capacity=capacity)
    share = w.percent(used / available if available else None)
    low, high = min(nights.occupied), max(nights.occupied)
    if low == high:
        return w.plural(N_plural("%(span)s: %(num)d bed occupied every night; %(used)s of %(available)s bed-nights "
                                 "used (%(share)s); %(capacity)s.",
                                 "%(span)s: %(num)d beds occupied every night; %(used)s of %(available)s bed-nights "
                                 "used (%(share)s); %(capacity)s."), high,
                        span=span, used=number(used), available=number(available), share=share, capacity=capacity)
    return w(N_("%(span)s: %(low)s to %(high)s beds occupied, %(average)s on average; %(used)s of %(available)s "
                "bed-nights used (%(share)s); %(capacity)s."),
             span=span, low=number(low), high=number(high),
             average=number(round(used / count, 1)), used=number(used), available=number(available),
             share=share, capacity=capacity)


SPARK_H = 100  # the sparkline's drawing units: one per night across, whole numbers up (it is scaled to fit)
USABLE_LINE = (f'fill="none" stroke="{USABLE_COLOUR}" stroke-width="1.5" stroke-dasharray="4 2" '
               'vector-effect="non-scaling-stroke"')


def sparkline_defs(count: int) -> Markup:
    """What a page's sparklines of `count` nights share, drawn once for them to <use>: the baseline, and the
    dashed line of usable beds that stayed at the top of the chart all along (most shelters' line)."""
    base = SPARK_H - 1
    return Markup(f'<svg class="visually-hidden" aria-hidden="true" focusable="false"><defs>'
                  f'<path id="sparkdefs-base-{count}" d="M0,{base}H{count}" stroke="{GRID}" '
                  f'vector-effect="non-scaling-stroke"/>'
                  f'<path id="sparkdefs-full-{count}" d="M0,1H{count}" {USABLE_LINE}/></defs></svg>')


def sparkline(code: str, nights: figures.Nights, w: Words | None = None, shared: bool = False) -> Markup:
    """A shelter's last nights in a cell: beds occupied as a blue area, usable beds as a dashed vermillion
    line; described in words with its numbers (<title>), for readers who cannot see it.

    Drawn in whole units (a night is one unit wide), so a row costs a few short strings. `shared`: the page
    holds `sparkline_defs` for this many nights, and the sparkline refers to what they draw rather than
    drawing it again (a thousand rows' copies were a tenth of the overview)."""
    occupied = nights.occupied
    count = max(1, len(occupied))
    usable = _runs(nights.usable)
    top = max(1, max(occupied, default=0), max((beds for _s, _e, beds in usable if beds is not None), default=0))
    base = SPARK_H - 1
    span = SPARK_H - 2

    cid = escape(f"spark-{code}")
    out = [(f'<svg class="sparkline" viewBox="0 0 {count} {SPARK_H}" width="120" height="32" '
            f'preserveAspectRatio="none" role="img" aria-labelledby="{cid}">'
            f'<title id="{cid}">{escape(describe_nights(nights, code, w, usable))}</title>'
            + (f'<use href="#sparkdefs-base-{count}"/>' if shared else
               f'<path d="M0,{base}H{count}" stroke="{GRID}" vector-effect="non-scaling-stroke"/>'))]
    if any(occupied):
        area = "".join([f"V{base - round(value * span / top)}H{end}" for _start, end, value in _runs(occupied)])
        out.append(f'<path class="sparkline-occupied" d="M0,{base}{area}V{base}Z" fill="{OCCUPIED_COLOUR}"/>')
    line = []
    pen_down = False
    for start, end, value in usable:
        if value is None:
            pen_down = False
            continue
        line.append(f"{'L' if pen_down else 'M'}{start},{base - round(value * span / top)}H{end}")
        pen_down = True
    if shared and line == [f"M0,1H{count}"]:
        out.append(f'<use class="sparkline-usable" href="#sparkdefs-full-{count}"/>')
    elif line:
        out.append(f'<path class="sparkline-usable" d="{"".join(line)}" {USABLE_LINE}/>')
    out.append("</svg>")
    return Markup("".join(out))


HIST_W, HIST_H = 640, 250
HIST_LEFT, HIST_RIGHT, HIST_TOP, HIST_BOTTOM = 44, 12, 40, 30


def history_chart(chart_id: str, subject: str, nights: figures.Nights) -> Markup:
    """A shelter's occupancy history: beds occupied each night (blue area), its capacity (black line), the
    beds out of service shaded (grey, hatched) below the capacity, with axes, a legend in words and a
    <desc> with its numbers."""
    count = max(1, len(nights.occupied))
    top = max([1, *nights.occupied, *(c for c in nights.capacity if c is not None)])
    plot_w, plot_h = HIST_W - HIST_LEFT - HIST_RIGHT, HIST_H - HIST_TOP - HIST_BOTTOM
    step = plot_w / count
    base = HIST_TOP + plot_h

    def y(value: float) -> float:
        return base - value / top * plot_h

    cid = escape(chart_id)
    title = _("Occupancy of %(subject)s, last %(nights)s nights", subject=subject, nights=number(count))
    out = [
        (f'<svg class="chart chart--history" viewBox="0 0 {HIST_W} {HIST_H}" width="{HIST_W}" height="{HIST_H}" '
         f'role="img" aria-labelledby="{cid}-title {cid}-desc" font-family="system-ui, sans-serif" '
         f'font-size="12">'),
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(describe_nights(nights, subject))}</desc>',
        (f'<defs><pattern id="{cid}-oos" width="6" height="6" patternUnits="userSpaceOnUse" '
         f'patternTransform="rotate(45)"><rect width="6" height="6" fill="#dddddd"/>'
         f'<line x1="0" y1="0" x2="0" y2="6" stroke="{OUT_COLOUR}" stroke-width="2"/></pattern></defs>'),
    ]
    ticks = sorted({0, top} | ({top // 2} if top >= 4 else set()))
    for tick in ticks:
        out.append(f'<line class="chart-grid" x1="{HIST_LEFT}" x2="{HIST_W - HIST_RIGHT}" y1="{_n(y(tick))}" '
                   f'y2="{_n(y(tick))}" stroke="{GRID}"/><text class="chart-label" x="{HIST_LEFT - 6}" '
                   f'y="{_n(y(tick) + 4)}" text-anchor="end" fill="{INK}">{number(tick)}</text>')
    out.append(f'<text class="chart-label" x="4" y="{HIST_TOP - 8}" fill="{INK}">{escape(_("beds"))}</text>')
    # Beds out of service: the band between the usable beds and the capacity, one rectangle per run.
    for start, end, (cap, out_) in _runs(list(zip(nights.capacity, nights.out_of_service, strict=True))):
        if cap is None or out_ <= 0:
            continue
        out.append(f'<rect class="chart-out-of-service" x="{_n(HIST_LEFT + start * step)}" y="{_n(y(cap))}" '
                   f'width="{_n((end - start) * step)}" height="{_n(y(cap - out_) - y(cap))}" '
                   f'fill="url(#{cid}-oos)"><title>{escape(_out_title(nights, start, end, out_))}</title></rect>')
    if area := _area_path(nights.occupied, HIST_LEFT, step, y, base):
        out.append(f'<path class="chart-occupied" d="{area}" fill="{OCCUPIED_COLOUR}"/>')
    if line := _step_path(nights.capacity, HIST_LEFT, step, y):
        out.append(f'<path class="chart-capacity" d="{line}" fill="none" stroke="{CAPACITY_COLOUR}" '
                   f'stroke-width="2"/>')
    out.append(f'<line class="chart-axis" x1="{HIST_LEFT}" x2="{HIST_W - HIST_RIGHT}" y1="{base}" y2="{base}" '
               f'stroke="{INK}"/>')
    last = nights.first + timedelta(days=count - 1)
    middle = nights.first + timedelta(days=count // 2)
    for x, anchor, day in ((HIST_LEFT, "start", nights.first), (HIST_LEFT + plot_w / 2, "middle", middle),
                           (HIST_W - HIST_RIGHT, "end", last)):
        out.append(f'<text class="chart-label" x="{_n(x)}" y="{base + 18}" text-anchor="{anchor}" '
                   f'fill="{INK}">{escape(format_day(day))}</text>')
    legend = ((f'<rect x="0" y="-10" width="14" height="12" fill="{OCCUPIED_COLOUR}"/>', _("Beds occupied")),
              (f'<line x1="0" x2="18" y1="-4" y2="-4" stroke="{CAPACITY_COLOUR}" stroke-width="2"/>', _("Capacity")),
              (f'<rect x="0" y="-10" width="14" height="12" fill="url(#{cid}-oos)" stroke="{OUT_COLOUR}"/>',
               _("Out of service (hatched)")))
    x = HIST_LEFT
    out.append(f'<g class="chart-legend" fill="{INK}">')
    for mark, label in legend:
        out.append(f'<g transform="translate({x} 18)">{mark}<text x="22" y="0">{escape(label)}</text></g>')
        x += 40 + 7 * len(label)
    out.append("</g></svg>")
    return Markup("".join(out))


def _out_title(nights: figures.Nights, start: int, end: int, beds: int) -> str:
    return ngettext("%(num)d bed out of service, %(first)s to %(last)s",
                    "%(num)d beds out of service, %(first)s to %(last)s", beds,
                    first=format_day(nights.first + timedelta(days=start)),
                    last=format_day(nights.first + timedelta(days=end - 1)))


def history_table(nights: figures.Nights) -> list[dict[str, object]]:
    """The chart's numbers as rows: each run of nights with the same beds occupied, capacity and beds out of
    service, with its first and last night."""
    rows = []
    nights_ = list(zip(nights.occupied, nights.capacity, nights.out_of_service, strict=True))
    for start, end, (occupied, capacity, out_of_service) in _runs(nights_):
        rows.append({"first": nights.first + timedelta(days=start), "last": nights.first + timedelta(days=end - 1),
                     "nights": end - start, "occupied": occupied, "capacity": capacity,
                     "out_of_service": out_of_service})
    return rows

"""Bar charts and bed bars for the reports, drawn on the server as inline SVG.

alerts/charts.py draws a shelter's nights as a time series; these are categories (a quarter, a form of
exploitation, a shelter's beds), so they are drawn here, in the same manner: no script, no style
attribute, no outside reference; Okabe-Ito colours told apart by pattern as well as hue, every bar
labelled with its number in text, a <title> and <desc> for readers who cannot see it.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from alerts.charts import GRID, INK, OCCUPIED_COLOUR

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
        f"{label}: " + ", ".join(f"{name + ' ' if name else ''}{v}" for name, v in zip(series, values, strict=True))
        for label, values in rows) or "no data"
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
            what = f"{label}{', ' + name if name else ''}: {value}"
            out.append(f'<rect class="chart-bar" x="{LABEL_W}" y="{y + 1}" width="{_n(w)}" height="{ROW - 2}" '
                       f'fill="{fills[i % 2]}" stroke="{INK}" stroke-width="0.5"><title>{escape(what)}</title>'
                       f'</rect>')
            out.append(f'<text class="chart-value" x="{_n(LABEL_W + w + 4)}" y="{y + ROW - 5}" '
                       f'fill="{INK}">{value}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def beds_bar(code: str, occupied: int, held: int, free: int, out_of_service: int) -> Markup:
    """A shelter's beds as one bar: occupied (solid blue), held (sky blue, hatched), free (white), out of
    service (grey); each segment titled with its count, the whole described in words."""
    total = max(1, occupied + held + free + out_of_service)
    text = f"{code}: {occupied} occupied, {held} held, {free} free, {out_of_service} out of service"
    cid = escape(f"beds-{code}")
    out = [(f'<svg class="beds-bar" viewBox="0 0 100 14" width="160" height="22" preserveAspectRatio="none" '
           f'role="img" aria-labelledby="{cid}"><title id="{cid}">{escape(text)}</title>')]
    x = 0.0
    for name, count, fill in (("occupied", occupied, OCCUPIED_COLOUR), ("held", held, HELD_COLOUR),
                              ("free", free, FREE_COLOUR), ("out of service", out_of_service, OUT_COLOUR)):
        if count <= 0:
            continue
        w = count / total * 100
        out.append(f'<rect class="beds-bar-{name.replace(" ", "-")}" x="{_n(x)}" y="0" width="{_n(w)}" '
                   f'height="14" fill="{fill}" stroke="{INK}" stroke-width="0.4"><title>{count} {name}</title></rect>')
        x += w
    out.append("</svg>")
    return Markup("".join(out))

"""The report charts: every bar carries its number in text, no script or style, colours told apart by pattern."""

from __future__ import annotations

import re

from reports import charts


def test_grouped_bars_label_every_value():
    svg = str(charts.grouped_bar_chart("q", "By quarter", [("2026 Q1", (24, 32)), ("2026 Q2", (3, 0))],
                                       ("This year", "A year before")))
    assert "<script" not in svg and " style=" not in svg and "http" not in svg.replace("http://www.w3", "")
    assert re.findall(r'class="chart-value"[^>]*>(\d+)</text>', svg) == ["24", "32", "3", "0"]
    assert "<title>2026 Q1, A year before: 32</title>" in svg
    assert 'fill="url(#q-hatch)"' in svg  # the comparison is hatched, not only another hue
    assert 'aria-labelledby="q-title q-desc"' in svg


def test_beds_bar_has_a_segment_per_kind_of_bed():
    svg = str(charts.beds_bar("PVPT", occupied=4, held=0, free=1, out_of_service=0))
    assert "<title id=\"beds-PVPT\">PVPT: 4 occupied, 0 held, 1 free, 0 out of service</title>" in svg
    assert re.findall(r"<title>(\d+ [a-z ]+)</title>", svg) == ["4 occupied", "1 free"]
    assert 'width="80"' in svg and 'width="20"' in svg

"""The report charts: every bar carries its number in text, no script or style, colours told apart by pattern."""

from __future__ import annotations

import re

import pytest

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


@pytest.mark.parametrize("locale", ["en", "sq", "sr_Latn"])
def test_words_formats_exactly_as_the_i18n_filters(app, locale):
    """reports.words.Words answers from memory what i18n's filters and gettext say, in every language."""
    from datetime import UTC, date, datetime

    from flask_babel import force_locale, format_decimal, gettext

    import i18n
    from reports.words import Words

    with app.test_request_context(), force_locale(locale):
        w = Words()
        halves = [k / 200 for k in range(1, 400, 2)]  # 0.005, 0.015, ...: the floats that sit beside a half
        for share in [None, 0, 1, 0.525, 0.535, 0.005, 0.015, 1.055, 0.285, 0.575, 2 / 3, *halves,
                      *(k / 997 for k in range(0, 1200, 7))]:
            assert w.percent(share) == i18n.format_share(share), share
        for n in (0, 7, 999, 1000, 5000, 9999, 10_000, 12345, 999_999, 1_000_000, -3, -1000, 2.5, 1234.5):
            assert w.number(n) == format_decimal(n)
        moment = datetime(2026, 11, 29, 14, 5, tzinfo=UTC)
        assert w.when(moment) == i18n.format_when(moment) and w.when(None) == i18n.format_when(None)
        for hour, minute in ((0, 0), (9, 5), (12, 0), (13, 59), (23, 59)):  # the clock is cached per minute
            moment = datetime(2026, 11, 29, hour, minute, 31, tzinfo=UTC)
            assert w.when(moment) == i18n.format_when(moment)
        assert w.day(date(2026, 3, 1)) == i18n.format_day(date(2026, 3, 1))
        assert w("Overview") == gettext("Overview")

"""The page's words, numbers and dates, looked up once for a whole list.

A report of 1,000 shelters says "occupied" and formats a number or a date tens of thousands of times; asking
Flask-Babel each time (the locale, the catalogue, a date pattern matched to a skeleton) costs more than
the database. `Words` asks once per page and then answers from memory, with exactly what i18n's filters
(`| number`, `| percent`, `| day`, `| utc`) and gettext would give: the tests compare them.

Strings are marked where they are written, with i18n.N_ / N_plural, so the catalogues hold them.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import parse_pattern
from babel.numbers import format_decimal, format_percent
from flask import has_app_context
from flask_babel import get_locale, get_translations

import i18n

_ONE = Decimal(1)


class Words:
    def __init__(self) -> None:
        self.locale = get_locale() or Locale.parse("en")  # outside a request: English, as the API
        self.zone = i18n.display_zone() if has_app_context() else ZoneInfo("UTC")
        self._translations = get_translations()
        self._strings: dict[str, str] = {}
        self._days: dict[date, str] = {}
        self._times: dict[tuple[int, int], str] = {}  # the hour and minute, as the skeleton "Hm" writes them
        self._percents: dict[int, str] = {}
        self._plurals: dict[tuple[tuple[str, str], int], str] = {}
        self._numbers: dict[float, str] = {}
        # How this language groups thousands: its separator, and whether 4-digit numbers are grouped at all.
        self._group = format_decimal(100_000, locale=self.locale)[3]
        self._group_four = format_decimal(1000, locale=self.locale) != "1000"
        skeletons = self.locale.datetime_skeletons
        self._day_pattern = parse_pattern(skeletons["yMMMd"])
        self._time_pattern = parse_pattern(skeletons["Hm"])
        self._moment = self.locale.datetime_formats["medium"]
        self._utc = self._translations.ugettext("%(moment)s UTC")
        self._never = self._translations.ugettext("never")

    def __call__(self, message: str, **values: object) -> str:
        """gettext: `message` (marked with N_ where written) in the page's language, with its values."""
        text = self._strings.get(message)
        if text is None:
            text = self._strings[message] = self._translations.ugettext(message)
        return text % values if values else text

    def plural(self, messages: tuple[str, str], num: int, **values: object) -> str:
        """ngettext over an N_plural pair; `num` is filled in as in templates."""
        key = (messages, num)
        text = self._plurals.get(key)
        if text is None:
            text = self._plurals[key] = self._translations.ungettext(messages[0], messages[1], num)
        return text % {"num": num, **values}

    def number(self, value: float) -> str:
        # Every offered language writes digits 0-9 and groups only from 1,000 up.
        if isinstance(value, int) and -1000 < value < 1_000_000:
            if value < 1000 or (value < 10_000 and not self._group_four):
                return str(value)
            digits = str(value)
            return f"{digits[:-3]}{self._group}{digits[-3:]}"
        text = self._numbers.get(value)
        if text is None:
            text = self._numbers[value] = format_decimal(value, locale=self.locale)
        return text

    def percent(self, share: float | None) -> str:
        if share is None:
            return self("no data")
        # Babel rounds the share's decimal digits half-even to a whole percent: so do we, then format each
        # whole percent once. Away from a half, the float's own rounding gives the same whole percent; near
        # one, only the decimal digits decide.
        hundredths = share * 100
        whole = round(hundredths)
        if abs(abs(hundredths - int(hundredths)) - 0.5) < 1e-6:
            whole = int(Decimal(str(share)).scaleb(2).quantize(_ONE, ROUND_HALF_EVEN))
        text = self._percents.get(whole)
        if text is None:
            text = self._percents[whole] = format_percent(Decimal(whole).scaleb(-2), locale=self.locale)
        return text

    def day(self, value: date | None) -> str:
        if value is None:
            return self._never
        if isinstance(value, datetime):
            value = value.astimezone(self.zone).date()
        text = self._days.get(value)
        if text is None:
            text = self._days[value] = self._day_pattern.apply(value, self.locale)
        return text

    def when(self, value: datetime | None) -> str:
        """A moment as i18n's `| utc` writes it: "Nov 29, 2026, 14:05 UTC", or in the display zone
        "Nov 29, 2026, 15:05 CET"."""
        if value is None:
            return self._never
        value = value.astimezone(self.zone)
        clock = self._times.get((value.hour, value.minute))
        if clock is None:
            clock = self._times[(value.hour, value.minute)] = self._time_pattern.apply(value, self.locale)
        moment = self._moment.format(clock, self.day(value))
        if self.zone.key != "UTC":
            return f"{moment} {value.tzname()}"
        return self._utc % {"moment": moment}

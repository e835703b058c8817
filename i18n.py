"""The interface's languages: Albanian, Serbian (Latin script) and English.

Every domain keeps its own message catalogue beside its code (`accounts/translations/`, ...), holding
the strings of its Python files and of its templates; the top-level `translations/` holds the shared
layout's and the error pages'. Flask-Babel merges them. `flask translations update` extracts the marked
strings and merges them into every catalogue, `flask translations compile` builds the `.mo` files
(`make` runs it at installation, the wheel's build too (setup.py), and the app when it starts and finds one
missing or older than its `.po`; they are never committed) and `flask translations check` lists what
is untranslated (tests/test_i18n.py fails on it).

The language follows the user's choice (stored on the user, or in the session before signing in), then
the browser's Accept-Language, then `SAFEHAVEN_DEFAULT_LANGUAGE`. The JSON API always answers in
English: its messages sit beside stable machine-readable codes.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import click
from babel.dates import format_skeleton
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from flask import Flask, current_app, has_request_context, request, session
from flask.cli import AppGroup
from flask_babel import (
    Babel,
    format_decimal,
    format_percent,
    get_locale,
    get_translations,
    gettext,
    ngettext,
    pgettext,
)
from flask_babel.speaklater import LazyString
from flask_login import current_user
from markupsafe import escape

ROOT = Path(__file__).resolve().parent

# The languages offered, by the code stored on users, with their names in their own language.
LANGUAGES = {"sq": "Shqip", "sr": "Srpski", "en": "English"}
# The Babel locale behind each: Serbian is written in Latin script here, as in Kosovo's institutions.
LOCALES = {"sq": "sq", "sr": "sr_Latn", "en": "en"}

# Catalogue directory -> the files and directories whose marked strings it holds.
CATALOGUES: dict[str, tuple[str, ...]] = {
    "translations": ("app.py", "errors.py", "i18n.py", "outages.py", "templates/base.html", "templates/error.html",
                     "templates/_macros.html"),
    "accounts/translations": ("accounts", "templates/accounts", "templates/admin"),
    "shelters/translations": ("shelters", "templates/shelters"),
    "placement/translations": ("placement", "templates/placement"),
    "alerts/translations": ("alerts", "templates/alerts"),
    "reports/translations": ("reports", "templates/reports"),
}

KEYWORDS = {"_": None, "N_": None, "N_plural": (1, 2), "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2),
            "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2), "lazy_pgettext": ((1, "c"), 2)}
METHODS = [("**.py", "python"), ("**.html", "jinja2.ext:babel_extract")]
JINJA_OPTIONS = {"trimmed": "true"}

babel = Babel()


class LazyText(LazyString):
    """A translation made when it is shown, escaped like any other text when a page shows it.

    flask-babel's own lazy strings hand Jinja their text as safe HTML, values included; a refusal
    carries what someone typed (a case code, a shelter code), so ours are escaped. Mark lazy strings
    with this module's `lazy_gettext` (imported as `_l`), never flask-babel's.
    """

    def __html__(self) -> str:
        return str(escape(str(self)))


def lazy_gettext(string: str, **variables: Any) -> LazyText:
    return LazyText(gettext, string, **variables)


def lazy_pgettext(context: str, string: str, **variables: Any) -> LazyText:
    return LazyText(pgettext, context, string, **variables)


def lazy_ngettext(singular: str, plural: str, num: int, **variables: Any) -> LazyText:
    return LazyText(ngettext, singular, plural, num, **variables)


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark, translate later"
    return message


def N_plural(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802
    return singular, plural


# WTForms' own messages, marked here so the catalogues hold them; forms read them through
# `form_translations` (accounts.forms.Form's Meta).
FORM_MESSAGES = (
    N_("This field is required."), N_("Not a valid choice."), N_("Not a valid date value."),
    N_("Not a valid integer value."), N_("Not a valid decimal value."), N_("Not a valid float value."),
    N_("Number must be at least %(min)s."), N_("Number must be at most %(max)s."),
    N_("Number must be between %(min)s and %(max)s."), N_("Invalid input."),
    N_("Field must be between %(min)d and %(max)d characters long."),
    N_("Invalid value, must be one of: %(values)s."), N_("Invalid Choice: could not coerce."),
)
FORM_PLURAL_MESSAGES = (
    N_plural("Field must be at least %(min)d character long.", "Field must be at least %(min)d characters long."),
    N_plural("Field cannot be longer than %(max)d character.", "Field cannot be longer than %(max)d characters."),
    N_plural("Field must be exactly %(max)d character long.", "Field must be exactly %(max)d characters long."),
)


def init_app(app: Flask) -> None:
    # An install without make (pip install ., a wheel) still serves every language: a catalogue whose .mo is
    # missing or older than its .po is compiled now. The wheel ships them compiled (setup.py), so this only
    # writes after a .po was changed in place; a read-only install keeps what it has and says so.
    try:
        compile_all()
    except OSError as error:
        logging.getLogger(__name__).warning("could not compile the message catalogues: %s", error)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES",
                          ";".join(str(ROOT / directory) for directory in CATALOGUES))
    # Times are stored and sent by the API in UTC; pages show them in the display zone (`display_zone`).
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "UTC")
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.filters.update(utc=format_when, day=format_day, percent=format_share,
                                 number=format_decimal)
    app.jinja_env.globals.update(languages=LANGUAGES, language=current_language)
    app.cli.add_command(translations_cli)


class _FormTranslations:
    """The gettext interface WTForms asks for, answered from the current page's catalogues."""

    def gettext(self, string: str) -> str:
        return get_translations().ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ungettext(singular, plural, n)


form_translations = _FormTranslations()


def language_code(value: str | None) -> str | None:
    """The offered language a stored or requested value names, else None."""
    return value if value in LANGUAGES else None


def select_locale() -> str:
    default = current_app.config.get("SAFEHAVEN_DEFAULT_LANGUAGE", "en")
    if not has_request_context():
        return LOCALES[default]
    if request.path.startswith("/api/"):
        return LOCALES["en"]
    chosen = None
    if current_user and current_user.is_authenticated:
        chosen = language_code(current_user.locale)
    chosen = chosen or language_code(session.get("language"))
    chosen = chosen or request.accept_languages.best_match(list(LANGUAGES)) or default
    return LOCALES[chosen]


def current_language() -> str:
    """The code ("sq", "sr", "en") of the language this page is in."""
    locale = str(get_locale() or "en")
    return next((code for code, name in LOCALES.items() if name == locale), "en")


# --- formatting for templates: dates, numbers and shares in the page's language --------------------------


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_named(name: str | None) -> ZoneInfo | None:
    """The IANA zone `name` names exactly (Europe/Belgrade, UTC), else None: only the database's own names, so
    neither a directory ("Europe") nor a path reaches the loader."""
    if not name or name not in _zone_names():
        return None
    return ZoneInfo(name)


_FORCED_ZONE: ContextVar[ZoneInfo | None] = ContextVar("safehaven_forced_zone", default=None)


@contextmanager
def force_zone(name: str | None) -> Iterator[None]:
    """Format times in zone `name` inside the block (mail to a user with a zone of their own), as force_locale
    does for the language; a blank or unknown name changes nothing."""
    token = _FORCED_ZONE.set(zone_named(name))
    try:
        yield
    finally:
        _FORCED_ZONE.reset(token)


def display_zone(user_zone: str | None = None) -> ZoneInfo:
    """The zone times are shown in: `user_zone`, else one forced for a recipient (`force_zone`), else the
    signed-in user's own choice, else SAFEHAVEN_TIMEZONE, else UTC."""
    chosen = zone_named(user_zone) or _FORCED_ZONE.get()
    if chosen is None and has_request_context() and current_user and current_user.is_authenticated:
        chosen = zone_named(getattr(current_user, "timezone", None))
    return chosen or zone_named(current_app.config.get("SAFEHAVEN_TIMEZONE")) or ZoneInfo("UTC")


def local(value: datetime, zone: ZoneInfo | None = None) -> datetime:
    """A stored (UTC) moment in the display zone."""
    return value.astimezone(zone or display_zone())


def format_when(value: datetime | date | None, with_time: bool = True) -> str:
    """A moment as "Nov 29, 2026, 14:05 UTC" (English), "29 nën 2026, 14:05 UTC" (Albanian); a date alone
    without the time."""
    if value is None:
        return gettext("never")
    if not isinstance(value, datetime) or not with_time:
        return format_day(value)
    locale, zone = get_locale(), display_zone()
    time = format_skeleton("Hm", value, tzinfo=zone, locale=locale)
    moment = locale.datetime_formats["medium"].format(time, format_day(value))
    if zone.key == "UTC":
        return gettext("%(moment)s UTC", moment=moment)
    return f"{moment} {local(value, zone).tzname()}"  # "Dec 3, 2026, 21:28 CET": the zone's own abbreviation


def format_day(value: date | datetime | None) -> str:
    if value is None:
        return gettext("never")
    return format_skeleton("yMMMd", value, tzinfo=display_zone() if isinstance(value, datetime) else UTC,
                           locale=get_locale())


def format_share(value: float | None) -> str:
    return gettext("no data") if value is None else format_percent(value)


# --- catalogues -----------------------------------------------------------------------------------------


def _messages(sources: tuple[str, ...]) -> Iterator[tuple[str | tuple[str, ...], str | None]]:
    """(message, context) for every marked string in the sources."""
    for source in sources:
        path = ROOT / source
        if path.is_dir():
            found = extract_from_dir(
                str(path), METHODS, {"**.html": JINJA_OPTIONS}, KEYWORDS,
                directory_filter=lambda name: Path(name).name not in {"translations", "__pycache__", "data"})
            for _filename, _line, message, _comments, context in found:
                yield message, context
        else:
            method = "python" if path.suffix == ".py" else METHODS[1][1]
            options = {} if path.suffix == ".py" else JINJA_OPTIONS
            for _line, message, _comments, context in extract_from_file(method, str(path), KEYWORDS, options=options):
                yield message, context


def template(directory: str) -> Catalog:
    """The catalogue template of one catalogue directory: every marked string of its sources."""
    catalog = Catalog(project="Safe Haven", fuzzy=False)
    for message, context in _messages(CATALOGUES[directory]):
        catalog.add(message, context=context)
    return catalog


def _po_path(directory: str, code: str) -> Path:
    return ROOT / directory / LOCALES[code] / "LC_MESSAGES" / "messages.po"


def _read(path: Path, code: str) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=LOCALES[code])


def _new_catalogue(directory: str, code: str) -> Catalog:
    return Catalog(locale=LOCALES[code], project="Safe Haven", copyright_holder="Safe Haven", fuzzy=False,
                   header_comment=f"# {LANGUAGES[code]}: the messages of {directory}/ for Safe Haven's interface.")


def update(directories: tuple[str, ...] = tuple(CATALOGUES)) -> None:
    """Merge the marked strings into the catalogues; English gets the source text as its translation."""
    for directory in directories:
        pot = template(directory)
        for code in LANGUAGES:
            path = _po_path(directory, code)
            catalog = _read(path, code) if path.exists() else _new_catalogue(directory, code)
            catalog.update(pot, no_fuzzy_matching=True, update_header_comment=False)
            catalog.fuzzy = False
            catalog.obsolete.clear()
            if code == "en":
                for message in catalog:
                    strings = message.string if isinstance(message.string, tuple) else (message.string,)
                    if message.id and not any(strings):
                        message.string = message.id
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as handle:
                write_po(handle, catalog, no_location=True, sort_output=True, ignore_obsolete=True, width=100)


def compile_all() -> None:
    """Build each catalogue's `.mo` from its `.po` when the `.po` is newer."""
    for directory in CATALOGUES:
        for code in LANGUAGES:
            po = _po_path(directory, code)
            mo = po.with_suffix(".mo")
            if po.exists() and (not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime):
                catalog = _read(po, code)
                # Written aside and renamed: workers starting together never read a half-written catalogue.
                partial = mo.with_name(f".{mo.name}.{os.getpid()}")
                with partial.open("wb") as handle:
                    write_mo(handle, catalog)
                os.replace(partial, mo)


def untranslated() -> list[str]:
    """Every marked string without a translation in some catalogue, as "catalogue/locale: message"."""
    problems = []
    for directory in CATALOGUES:
        wanted = [message for message in template(directory) if message.id]
        for code in LANGUAGES:
            path = _po_path(directory, code)
            catalog = _read(path, code) if path.exists() else Catalog(locale=LOCALES[code])
            for message in wanted:
                found = catalog.get(message.id, context=message.context)
                strings = found.string if found else None
                strings = strings if isinstance(strings, tuple) else (strings,)
                if found is None or found.fuzzy or not all(strings):
                    text = message.id if isinstance(message.id, str) else message.id[0]
                    problems.append(f"{directory}/{LOCALES[code]}: {text!r}")
    return problems


translations_cli = AppGroup("translations", help="Extract, compile and check the interface's catalogues.")


@translations_cli.command("update")
@click.argument("directories", nargs=-1, type=click.Choice(list(CATALOGUES)))
def update_command(directories: tuple[str, ...]) -> None:
    """Extract the marked strings and merge them into the catalogues (all, or those named)."""
    update(directories or tuple(CATALOGUES))
    click.echo(f"updated {', '.join(directories or CATALOGUES)} for {', '.join(LANGUAGES)}")


@translations_cli.command("compile")
def compile_command() -> None:
    """Compile the catalogues (part of installation)."""
    compile_all()


@translations_cli.command("check")
def check_command() -> None:
    """List the strings that have no translation; exit 1 when there are any."""
    problems = untranslated()
    for problem in problems:
        click.echo(problem)
    if problems:
        sys.exit(1)
    click.echo("every marked string is translated in every catalogue")


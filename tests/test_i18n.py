"""Albanian, Serbian and English throughout: complete catalogues, no unmarked text in a template, and every
page of the demo read in each language without an English string left in it."""

from __future__ import annotations

import re
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.pofile import read_po

import i18n
from alerts import jobs
from alerts.rules import Thresholds
from extensions import db
from shelters import demo

TEMPLATES = sorted((i18n.ROOT / "templates").rglob("*.html"))

# Visible text that is the same in every language: the product's name and units and codes.
NOT_TRANSLATED = {"Safe Haven", "UTC", "km", "CSV", "SVG", "PVPT", "HAH", "ISF"}
VISIBLE_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "aria-description", "summary"}


@pytest.fixture
def backend() -> str:
    """Rendering is the same on either database: these tests run on SQLite only."""
    return "sqlite"


def test_every_marked_string_is_translated_in_every_catalogue() -> None:
    problems = i18n.untranslated()
    assert not problems, "untranslated (run `flask translations update`, then translate):\n" + "\n".join(problems)


class _Text(HTMLParser):
    """Collects the text a reader sees: text nodes and the attributes read aloud or shown."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._skip = 0
        self._skipped: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        # translate="no" (HTML's own mark) holds a code that stays the same in every language, such as an
        # import's column names: not text to translate.
        if tag in {"script", "style"} or values.get("translate") == "no":
            self._skip += 1
            self._skipped.append(tag)
        for name, value in attrs:
            if value and (name in VISIBLE_ATTRIBUTES
                          or (name == "value" and tag == "input" and values.get("type") in {"submit", "button"})):
                self.found.append(value)

    def handle_endtag(self, tag: str) -> None:
        if self._skipped and self._skipped[-1] == tag:
            self._skipped.pop()
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.found.append(" ".join(data.split()))


def visible_text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.found


JINJA_COMMENT = re.compile(r"{#.*?#}", re.S)
JINJA_TRANS = re.compile(r"{%-?\s*trans\b.*?{%-?\s*endtrans\s*-?%}", re.S)
JINJA_TAG = re.compile(r"{{.*?}}|{%.*?%}", re.S)
WORD = re.compile(r"[^\W\d_]{2,}")
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|%[sdif]")


def unmarked(template: Path) -> list[str]:
    """Literal words in a template that reach the reader without passing through a translation."""
    source = template.read_text()
    for pattern in (JINJA_COMMENT, JINJA_TRANS, JINJA_TAG):
        source = pattern.sub(" ", source)
    return [text for text in visible_text(source) if WORD.search(_without_names(text))]


def _without_names(text: str) -> str:
    for name in NOT_TRANSLATED:
        text = text.replace(name, " ")
    return text


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: str(path.relative_to(i18n.ROOT / "templates")))
def test_templates_mark_every_visible_string(template: Path) -> None:
    assert unmarked(template) == []


def test_the_lint_finds_unmarked_text(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text('<p title="Free beds">{{ _("Beds") }} left</p><button>{{ _("Save") }}</button>'
                    '{% trans %}Marked block{% endtrans %}<input type="submit" value="Go">')
    assert unmarked(page) == ["Free beds", "left", "Go"]


# --- every page of the demo in every language ------------------------------------------------------------


def _english_messages(code: str) -> tuple[set[str], list[re.Pattern[str]]]:
    """The English strings that read differently in `code`: exact ones, and patterns for those with values."""
    exact: set[str] = set()
    patterns: list[re.Pattern[str]] = []
    for directory in i18n.CATALOGUES:
        path = i18n.ROOT / directory / i18n.LOCALES[code] / "LC_MESSAGES" / "messages.po"
        if not path.exists():
            continue
        with path.open("rb") as handle:
            catalog = read_po(handle)
        for message in catalog:
            if not message.id:
                continue
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for english in ids:
                english = " ".join(english.split())
                parts = PLACEHOLDER.split(english)
                # Only words can be left untranslated: "%(reason)s: %(count)s" reads the same everywhere.
                if english in strings or not WORD.search("".join(parts)):
                    continue
                if len(parts) > 1:
                    patterns.append(re.compile(".+?".join(re.escape(part) for part in parts)))
                else:
                    exact.add(english)
    return exact, patterns


def untranslated_on(html: str, code: str) -> list[str]:
    exact, patterns = _english_messages(code)
    return [text for text in visible_text(html)
            if text in exact or any(pattern.fullmatch(text) for pattern in patterns)]


DEMO_USERS = ("secretariat", "manager", "police", "partner", "admin")
SKIP = re.compile(r"^/(static|logout)|\.csv$|/api/")


def _crawl(client, start: str = "/home", per_endpoint: int = 2, limit: int = 60) -> list[str]:  # noqa: ANN001
    """The pages a signed-in user reaches by following links, a couple per kind of page."""
    seen: set[str] = set()
    kinds: dict[str, int] = defaultdict(int)
    queue, pages = [start], []
    while queue and len(pages) < limit:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = client.get(path, follow_redirects=True)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        path = response.request.full_path.rstrip("?")
        seen.add(path)
        kind = re.sub(r"/[A-Z0-9-]{2,}(?=/|$)|/\d+", "/*", urlsplit(path).path)
        kinds[kind] += 1
        if kinds[kind] > per_endpoint:
            continue
        pages.append(path)
        for href in re.findall(r'href="(/[^"#]*)"', response.get_data(as_text=True)):
            href = href.replace("&amp;", "&")
            if not SKIP.search(href) and href not in seen:
                queue.append(href)
    return pages


@pytest.fixture
def demo_app(app, now):  # noqa: ANN001, ANN201
    demo.load(db.session, now)
    db.session.commit()
    jobs.evaluate_alerts(db.session, now, Thresholds())
    db.session.commit()
    return app


@pytest.mark.parametrize("username", DEMO_USERS)
def test_every_page_reads_in_each_language(demo_app, client, pages, username: str) -> None:  # noqa: ANN001
    response = pages.login(username, f"{username}-demo-password")
    assert response.status_code == 302
    paths = _crawl(client)
    assert len(paths) >= 2
    problems = {}
    for code in i18n.LANGUAGES:
        pages.post("/language", {"language": code}, from_page="/shelters")
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            html = response.get_data(as_text=True)
            assert f'<html lang="{code}">' in html
            if code != "en":
                left = untranslated_on(html, code)
                if left:
                    problems[f"{code} {path}"] = left
    assert not problems


def test_the_sign_in_page_follows_the_browser_then_the_switch(client, pages) -> None:  # noqa: ANN001
    assert '<html lang="sq">' in client.get("/login", headers={"Accept-Language": "sq,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="en">' in client.get("/login", headers={"Accept-Language": "de"}).get_data(as_text=True)
    response = pages.post("/language", {"language": "sr", "next": "/login"}, from_page="/login")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    html = client.get("/login", headers={"Accept-Language": "sq"}).get_data(as_text=True)
    assert '<html lang="sr">' in html
    assert untranslated_on(html, "sr") == []


def test_the_choice_is_kept_on_the_user(demo_app, client, pages) -> None:  # noqa: ANN001
    from accounts.models import User

    pages.login("manager", "manager-demo-password")
    pages.post("/language", {"language": "sq"}, from_page="/shelters")
    assert db.session.scalar(db.select(User.locale).where(User.username == "manager")) == "sq"
    # A new session, with a browser asking for English, still gets the user's language.
    pages.post("/logout", from_page="/shelters")
    client.delete_cookie("session")
    pages.login("manager", "manager-demo-password")
    html = client.get("/home", headers={"Accept-Language": "en"}, follow_redirects=True).get_data(as_text=True)
    assert '<html lang="sq">' in html


def test_an_unknown_language_is_refused_by_name(client, pages) -> None:  # noqa: ANN001
    response = pages.post("/language", {"language": "xx"}, from_page="/login")
    assert response.status_code == 400
    assert "language" in response.get_data(as_text=True)


def test_the_api_answers_in_english_whatever_the_browser_asks(app, client) -> None:  # noqa: ANN001
    response = client.get("/api/v1/shelters", headers={"Accept-Language": "sq"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert "bearer token" in response.get_json()["error"]["message"]


def test_a_message_reads_the_same_in_every_catalogue() -> None:
    """Flask-Babel merges the catalogues, the later winning: a string two domains share must agree, or
    carry a context of its own (pgettext) where it means something else."""
    seen: dict[tuple[str, object, object], tuple[str, object]] = {}
    clashes = []
    for directory in i18n.CATALOGUES:
        for code in i18n.LANGUAGES:
            path = i18n.ROOT / directory / i18n.LOCALES[code] / "LC_MESSAGES" / "messages.po"
            with path.open("rb") as handle:
                catalog = read_po(handle)
            for message in catalog:
                if not message.id:
                    continue
                key = (code, message.id, message.context)
                if key in seen and seen[key][1] != message.string:
                    clashes.append(f"{code} {message.id!r}: {seen[key][0]} {seen[key][1]!r} != {directory} "
                                   f"{message.string!r}")
                seen.setdefault(key, (directory, message.string))
    assert not clashes, "\n".join(clashes)


def test_a_lazy_translation_shows_typed_values_as_text(app) -> None:  # noqa: ANN001
    from flask import render_template_string

    with app.test_request_context("/"):
        html = render_template_string("{{ message }}", message=i18n.lazy_gettext("case %(code)s", code="<b>x</b>"))
    assert html == "case &lt;b&gt;x&lt;/b&gt;"


def test_no_module_takes_flask_babels_unescaped_lazy_strings() -> None:
    """flask-babel's lazy strings reach Jinja as safe HTML; i18n.lazy_gettext and friends are escaped."""
    offenders = [str(path.relative_to(i18n.ROOT)) for path in i18n.ROOT.glob("*/*.py")
                 if not path.is_relative_to(i18n.ROOT / ".venv")
                 and re.search(r"from flask_babel import[^\n]*\blazy_", path.read_text())]
    assert offenders == []

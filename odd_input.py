"""Input no handler should ever read: text that is not text, and JSON nested without end.

PostgreSQL's text refuses a NUL byte (psycopg raises: a 500) where SQLite stores it; a lone surrogate
("\\ud800", which JSON can carry) cannot be encoded at all; and json.loads recurses once per level, so a body
of `[[[[...` a hundred thousand deep ends in a RecursionError. `find` looks for either in a request's path,
query, form and JSON body, before any handler or parser reads them; app.py refuses the request with a 400
naming the spot, the same on both databases. Plain functions over a werkzeug Request: no app, no database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request

MAX_JSON_DEPTH = 32
NOT_TEXT = "invalid characters"
TOO_DEEP = f"nested deeper than {MAX_JSON_DEPTH} levels"

_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")
# A JSON string, to its closing quote or, when it has none, to the end: the closing quote is optional so that
# every quote starts a match and the scan never starts again inside a string (linear, whatever the text).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class OddInput:
    where: str  # a field's name, or "path", "query", "form", "json" when no field can be named
    problem: str  # NOT_TEXT or TOO_DEEP


def is_text(value: str) -> bool:
    """False for a string holding a NUL byte or a lone surrogate."""
    return _NOT_TEXT.search(value) is None


def find(request: Request) -> OddInput | None:
    """The first odd thing in the request: in its path, a query parameter, a form field (but not an uploaded
    file's content) or any other body read as JSON. None when there is none, or when the body is not JSON at
    all (whoever would parse it refuses it then)."""
    if not is_text(request.path):
        return OddInput("path", NOT_TEXT)
    odd = _in_pairs(request.args.items(multi=True), "query")
    if odd is not None:
        return odd
    if request.mimetype in _FORMS:
        return _in_pairs(request.form.items(multi=True), "form")
    body = request.get_data(cache=True)
    return _in_json(body) if body else None


def _in_pairs(pairs: Iterable[tuple[str, str]], where: str) -> OddInput | None:
    for name, value in pairs:
        if not is_text(name):
            return OddInput(where, NOT_TEXT)
        if not is_text(value):
            return OddInput(name, NOT_TEXT)
    return None


def json_depth_exceeds(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON text nests arrays and objects more than `limit` deep; brackets inside strings do not
    count. One pass without recursion, however deep or malformed the text."""
    depth = 0
    for bracket in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > limit:
            return True
    return False


def _in_json(body: bytes) -> OddInput | None:
    try:  # decoded as json.loads decodes bytes
        text = body.decode(json.detect_encoding(body), "surrogatepass")
    except UnicodeDecodeError:
        return None
    if json_depth_exceeds(text):
        return OddInput("json", TOO_DEEP)
    try:  # strict=False: a raw control character is named like an escaped one
        value = json.loads(text, strict=False)
    except ValueError:
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not is_text(key):
                return OddInput("json", NOT_TEXT)
            if not _all_text(item):
                return OddInput(key, NOT_TEXT)
        return None
    return None if _all_text(value) else OddInput("json", NOT_TEXT)


def _all_text(value: Any) -> bool:
    """Whether every string in a decoded JSON value, keys included, is text (walked without recursion)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not is_text(item):
                return False
        elif isinstance(item, dict):
            if not all(is_text(key) for key in item):
                return False
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True

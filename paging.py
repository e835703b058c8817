"""Cursor paging for every API list: `?limit=N&cursor=C`, answered with `next_cursor` and a `Link` header.

A cursor is the sort key of the last item of a page (base64url JSON, opaque to the caller); the next page
starts strictly after it (keyset paging). Rows inserted while a caller pages never shift the pages: nothing
is skipped or repeated, and a new row shows up on a later page if it sorts after the cursor. A cursor is not
a capability: every page is still filtered by what the caller may see, so a forged one only moves the
starting point.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import Response, jsonify, request
from marshmallow import Schema, fields, validate

from errors import DomainError

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class PageQuery(Schema):
    """Which page of a list: at most `limit` items, after `cursor`."""

    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(1, MAX_LIMIT),
                           metadata={"description": f"items per page (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})"})
    cursor = fields.String(load_default=None, validate=validate.Length(min=1, max=1000), metadata={
        "description": "the `next_cursor` of the previous page; absent for the first page"})


def next_cursor_field() -> fields.String:
    return fields.String(required=True, allow_none=True, metadata={
        "description": "pass as `cursor` for the next page; null on the last page"})


def encode_cursor(key: Sequence[Any]) -> str:
    text = json.dumps(list(key), separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(raw: str | None, kinds: Sequence[type]) -> list[Any] | None:
    """The sort key a cursor carries, each part of the type in `kinds`; a cursor that is not one is 400."""
    if raw is None:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list) or len(key) != len(kinds) or not all(
            isinstance(part, kind) and not isinstance(part, bool) for part, kind in zip(key, kinds)):
        raise DomainError("cursor is not one this list gave out; start again without it",
                          fields={"cursor": ["not a cursor of this list"]})
    return key


def cursor_time(text: str) -> datetime:
    """A time a cursor carries (ISO-8601 with offset); anything else is 400."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise DomainError("cursor is not one this list gave out; start again without it",
                          fields={"cursor": ["not a cursor of this list"]})
    return value


def paged(view: F) -> F:
    """Marks a list view: the OpenAPI document gives its answers the `Link` header."""
    view.paged = True  # type: ignore[attr-defined]
    return view


def page_of(rows: Sequence[T], limit: int, key: Callable[[T], Sequence[Any]]) -> tuple[list[T], str | None]:
    """The first `limit` of `rows` (fetched with at least one more) and the cursor after them, or None at the end."""
    if len(rows) <= limit:
        return list(rows), None
    return list(rows[:limit]), encode_cursor(key(rows[limit - 1]))


def link_header(cursor: str | None) -> dict[str, str]:
    """`Link: <this list with cursor>; rel="next"` (RFC 8288) while there is a next page, else no header."""
    if cursor is None:
        return {}
    args = [(name, value) for name, value in request.args.items(multi=True) if name != "cursor"]
    return {"Link": f'<{request.path}?{urlencode([*args, ("cursor", cursor)])}>; rel="next"'}


def page_response(items_key: str, items: list[Any], cursor: str | None, **extra: Any) -> Response:
    """`{items_key: items, "next_cursor": cursor, **extra}` with the `Link` header while there is more (for lists
    answered without their schema's dump)."""
    response = jsonify({items_key: items, "next_cursor": cursor, **extra})
    response.headers.update(link_header(cursor))
    return response


def page_numbers(page: int, pages: int, around: int = 2) -> list[int | None]:
    """For pages numbered 1..`pages` (the HTML lists): the pages to link to, the first, the last and those within
    `around` of `page`; None where a run of pages is left out."""
    wanted = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    shown: list[int | None] = []
    for number in wanted:
        if shown and number - (shown[-1] or 0) > 1:
            shown.append(None)
        shown.append(number)
    return shown

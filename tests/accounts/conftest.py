"""Fixtures of the accounts tests: an attacker with the rights to drop the audit log's guard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import g
from sqlalchemy import text

from accounts.models import APPEND_ONLY_DDL, DROP_APPEND_ONLY_DDL
from extensions import db


def _run(statements: list[str]) -> None:
    with db.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement).execution_options(no_parameters=True))


@pytest.fixture
def without_append_only_guard(app, backend: str) -> Iterator[None]:  # noqa: ANN001
    """Drop the triggers that refuse UPDATE and DELETE on audit_events, as a DBA could; put them back after."""
    db.session.commit()
    _run(DROP_APPEND_ONLY_DDL[backend])
    yield
    db.session.rollback()
    _run(APPEND_ONLY_DDL[backend])


@pytest.fixture(autouse=True)
def user_loaded_per_request(app) -> None:  # noqa: ANN001
    """The `app` fixture keeps one app context (and so one `g`) across requests; a browser's requests
    each load their user afresh, which is what ends a session whose version went stale."""
    def forget_user() -> None:
        g.pop("_login_user", None)

    app.before_request_funcs.setdefault(None, []).insert(0, forget_user)

"""Fixtures of the accounts tests: an attacker with the rights to drop the audit log's guard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
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

"""API fuzzing: schemathesis generates requests from /api/v1/openapi.json for every operation,
signed in as each role over the cable's demo data; no answer may be a 500.

CI runs a bounded number of cases per operation and role (SAFEHAVEN_FUZZ_EXAMPLES, default 4);
`make fuzz` runs many more.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from sqlalchemy import select

from accounts import services as accounts
from accounts.models import User
from app import create_app
from config import TestConfig
from database import utcnow
from extensions import db
from shelters import demo

ROLES = ("admin", "secretariat", "manager", "police", "partner")
EXAMPLES = int(os.environ.get("SAFEHAVEN_FUZZ_EXAMPLES", "4"))


# schemathesis reads the schema when the module is collected; the data arrives in the fixture.
APP = create_app(TestConfig(f"sqlite:///{Path(tempfile.mkdtemp(prefix='fuzz-')) / 'fuzz.db'}"))
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", APP)


@pytest.fixture(scope="module")
def demo_app():  # noqa: ANN201
    with APP.app_context():
        db.create_all()
        demo.load(db.session, utcnow())
        APP.config["FUZZ_TOKENS"] = {
            name: accounts.issue_token(db.session, None, utcnow(),
                                       db.session.scalar(select(User).where(User.username == name)), 30)
            for name in ROLES
        }
        db.session.commit()
    return APP


@pytest.mark.e2e
@schema.parametrize()
@settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck), deadline=None, derandomize=True)
def test_no_operation_answers_500(case, demo_app):  # noqa: ANN001
    for role in (*ROLES, None):
        headers = {"Authorization": f"Bearer {demo_app.config['FUZZ_TOKENS'][role]}"} if role else {}
        response = case.call(headers=headers)
        where = f"{case.method} {case.formatted_path} as {role or 'nobody'}"
        assert response.status_code < 500, f"{where}: {response.text[:300]}"
        if response.status_code >= 400:
            assert set(response.json()["error"]) >= {"code", "message", "fields"}, where

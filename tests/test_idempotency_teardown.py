"""A request that dies before its answer is stored (the exception leaves the app, as under a test client or a
server that lets it through) frees its Idempotency-Key in the teardown, so a retry acts."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from accounts.models import IdempotencyKey
from extensions import db
from idempotency import HEADER
from shelters.models import Case

PROFILE = {"sex": "female", "age": 22, "nationality": "MD", "languages": ["ro"], "region": "Prishtinë"}


def count(model) -> int:
    db.session.expire_all()
    n = db.session.scalar(select(func.count()).select_from(model))
    db.session.rollback()
    return n


def test_a_request_that_dies_frees_its_key_in_the_teardown(api_as, make, app, monkeypatch):
    police = api_as(make.user("police"))
    headers = {**police._headers(), HEADER: "dies-once"}
    from shelters import services

    def broken(*args, **kwargs):
        raise RuntimeError("the process is going down")

    app.config["PROPAGATE_EXCEPTIONS"] = True  # the error leaves the app: after_request never runs
    with monkeypatch.context() as patch:
        patch.setattr(services, "create_case", broken)
        with pytest.raises(RuntimeError, match="going down"):
            police.client.post("/api/v1/cases", json=PROFILE, headers=headers)
    assert count(IdempotencyKey) == 0  # the claim was taken back
    retry = police.client.post("/api/v1/cases", json=PROFILE, headers=headers)
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    assert count(Case) == 1 and count(IdempotencyKey) == 1

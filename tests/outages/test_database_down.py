"""A database that does not answer: pages and the API say so with a 503 (never a traceback), in the reader's
language on pages and as the API's JSON error; /healthz still answers (the process is up)."""

from __future__ import annotations

import pytest

from app import create_app
from config import TestConfig


@pytest.fixture
def cut_off():
    # Nothing listens on port 1: every connection is refused, as while PostgreSQL restarts.
    return create_app(TestConfig("postgresql+psycopg://postgres@127.0.0.1:1/safehaven")).test_client()


def test_a_page_is_a_503_in_the_readers_language(cut_off):
    response = cut_off.get("/login", headers={"Accept-Language": "sq"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    html = response.get_data(as_text=True)
    assert "Baza e të dhënave nuk po përgjigjet" in html and "Traceback" not in html
    assert cut_off.get("/shelters").status_code in (302, 503)


def test_the_api_is_a_503_json_error(cut_off):
    response = cut_off.get("/api/v1/shelters", headers={"Authorization": "Bearer nothing"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "service_unavailable"


def test_healthz_answers_while_the_database_is_away(cut_off):
    assert cut_off.get("/healthz").status_code == 200

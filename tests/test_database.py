"""Read-only transactions: on SQLite a GET reads without the write lock, cannot write in it, and a GET
that does write (an audited read) is done again in a write-locking transaction, once."""

from __future__ import annotations

import pytest
from flask import request, request_finished
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from accounts.models import AuditEvent
from database import READ_ONLY, WriteInReadOnlyTransaction, begin_read_only, configure_sqlite, end_read_only
from extensions import db


@pytest.fixture
def sqlite_engine(tmp_path):  # noqa: ANN001, ANN201
    engine = create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    configure_sqlite(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE beds (n INTEGER)"))
    yield engine
    engine.dispose()


def test_a_read_only_transaction_refuses_to_write_and_the_next_one_writes(sqlite_engine) -> None:  # noqa: ANN001
    with Session(sqlite_engine) as session:
        assert begin_read_only(session)
        assert session.scalar(text("SELECT count(*) FROM beds")) == 0
        with pytest.raises(WriteInReadOnlyTransaction):
            session.execute(text("INSERT INTO beds VALUES (1)"))
        end_read_only(session)
        session.execute(text("INSERT INTO beds VALUES (1)"))
        session.commit()
        assert session.scalar(text("SELECT count(*) FROM beds")) == 1


def test_a_reader_does_not_wait_for_a_writer(sqlite_engine) -> None:  # noqa: ANN001
    with sqlite_engine.connect() as writer, Session(sqlite_engine) as reader:
        writer.execute(text("INSERT INTO beds VALUES (1)"))  # BEGIN IMMEDIATE: holds the write lock
        begin_read_only(reader)
        assert reader.scalar(text("SELECT count(*) FROM beds")) == 0  # the last committed state, at once
        writer.commit()
        end_read_only(reader)
        assert reader.scalar(text("SELECT count(*) FROM beds")) == 1


def test_begin_read_only_leaves_a_transaction_under_way_alone(sqlite_engine) -> None:  # noqa: ANN001
    with Session(sqlite_engine) as session:
        session.execute(text("INSERT INTO beds VALUES (1)"))
        assert not begin_read_only(session)
        session.execute(text("INSERT INTO beds VALUES (2)"))
        session.commit()
        assert session.scalar(text("SELECT count(*) FROM beds")) == 2


def test_a_get_that_writes_is_done_again_and_writes_once(api_as, make) -> None:  # noqa: ANN001
    officer = make.user("police")
    api = api_as(officer)
    code = api.post("/cases", json={"sex": "female", "age": 19, "nationality": "MD"}).get_json()["case_code"]
    reads = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "case.read",
                                                               AuditEvent.object_id == code)
    assert db.session.scalar(reads) == 0
    db.session.rollback()
    response = api.get(f"/cases/{code}")
    assert response.status_code == 200 and response.get_json()["case_code"] == code
    assert db.session.scalar(reads) == 1
    db.session.rollback()
    assert api.get("/cases/NO-SUCH-CASE").status_code == 404


def test_a_get_ends_its_read_only_transaction(client, api_as, make) -> None:  # noqa: ANN001
    api = api_as(make.user("secretariat"))
    assert api.get("/shelters").status_code == 200
    make.shelter()  # the test's session writes again: the request's transaction did not outlive it


def test_a_signed_in_page_reads_in_a_read_only_transaction(app, pages, make) -> None:  # noqa: ANN001
    """The page session's user is loaded inside the GET's read-only transaction, not in a write-locking one
    begun before it."""
    read_only = {}

    def note(sender, response):  # noqa: ANN001, ANN202, ARG001
        read_only[request.path] = db.session.info.get(READ_ONLY, False)

    pages.login(make.user("police").username)
    db.session.rollback()  # the test shares the requests' session: end what the sign-in left open, as a new request would
    with request_finished.connected_to(note, app):
        assert pages.client.get("/shelters").status_code == 200
    assert read_only["/shelters"] is True

"""`flask backup PATH` while a writer keeps committing through the app: SQLite (WAL) through its online
backup API, and PostgreSQL (when TEST_DATABASE_URL is set) through pg_dump, restored with pg_restore.

A writer thread creates cases and admits and discharges them through the JSON API of its own app instance
on the same database file, one commit after another, logging each acknowledged write in commit order.
Meanwhile `flask backup` copies the live database three times. Each copy, opened (SQLite) or restored
(PostgreSQL) as the app's database, must pass `flask check`, and must hold exactly the first k writes of
the log for some k no smaller than the number acknowledged before the backup began: a consistent prefix,
nothing torn and nothing missing.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, make_url, select

from database import utcnow
from extensions import db
from shelters.models import Case, Headcount, Shelter, Stay
from tests.e2e.servers import CASE, database_urls, dispose, fresh_app, run_check, seed

pytestmark = pytest.mark.e2e

PADDING_ROWS = 50_000
WRITES_BETWEEN_BACKUPS = 12
Write = tuple[str, str, int | None]   # ("case", code, None) | ("admit", code, stay id) | ("discharge", code, stay id)


def state_after(log: list[Write]) -> tuple[list[str], dict[int, tuple[str, bool]]]:
    """(case codes in creation order, stay id -> (case code, discharged)) after the writes of `log`."""
    cases: list[str] = []
    stays: dict[int, tuple[str, bool]] = {}
    for kind, code, stay_id in log:
        if kind == "case":
            cases.append(code)
        elif kind == "admit":
            stays[stay_id] = (code, False)
        else:
            stays[stay_id] = (code, True)
    return cases, stays


def writer(url: str, token: str, stop: threading.Event, log: list[Write], failures: list[str]) -> None:
    app = fresh_app(url, empty=False)
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    open_stays: list[tuple[int, str]] = []
    try:
        while not stop.is_set():
            answer = client.post("/api/v1/cases", json=CASE, headers=headers)
            if answer.status_code != 201:
                failures.append(f"create: {answer.status_code} {answer.get_json()}")
                return
            code = answer.get_json()["case_code"]
            log.append(("case", code, None))
            answer = client.post("/api/v1/shelters/BIG/stays", json={"case_code": code}, headers=headers)
            if answer.status_code != 201:
                failures.append(f"admit: {answer.status_code} {answer.get_json()}")
                return
            log.append(("admit", code, answer.get_json()["stay_id"]))
            open_stays.append((answer.get_json()["stay_id"], code))
            if len(open_stays) > 3:
                stay_id, code = open_stays.pop(0)
                answer = client.post(f"/api/v1/stays/{stay_id}/discharge", json={"reason": "reintegrated"},
                                     headers=headers)
                if answer.status_code != 200:
                    failures.append(f"discharge: {answer.status_code} {answer.get_json()}")
                    return
                log.append(("discharge", code, stay_id))
    finally:
        dispose(app)


def pad(url: str, rows: int) -> None:
    """Some megabytes of old headcounts (mismatched, so they confirm nothing), so that a copy takes long
    enough for the writer to commit while it runs."""
    app = fresh_app(url, empty=False)
    try:
        with app.app_context():
            shelter_id = db.session.scalar(select(Shelter.id))
            at = utcnow() - timedelta(days=30)
            db.session.execute(insert(Headcount), [{"shelter_id": shelter_id, "at": at, "reported": 1, "recorded": 0}
                                                   for _ in range(rows)])
            db.session.commit()
    finally:
        dispose(app)


def restore(url: str, path: Path) -> str:
    """The URL of a database holding the backup at `path`: the SQLite copy itself, or the PostgreSQL dump
    restored over the test database (the writer has stopped; only that database may be used)."""
    if url.startswith("sqlite"):
        return f"sqlite:///{path}"
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--exit-on-error", f"--dbname={dsn}",
                    str(path)], check=True, capture_output=True)
    return url


def test_backups_taken_under_write_load_are_consistent_prefixes(backend, tmp_path):
    url = database_urls(tmp_path)[backend]
    if backend == "postgresql" and not shutil.which("pg_restore"):
        pytest.skip("pg_dump and pg_restore are not installed")
    tokens = seed(url, {"BIG": 10_000})
    if backend == "sqlite":
        pad(url, PADDING_ROWS)  # pg_dump's own start-up already gives the writer time to commit
    log: list[Write] = []
    failures: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(target=writer, args=(url, tokens["secretariat"], stop, log, failures))
    app = fresh_app(url, empty=False)
    backups: list[tuple[Path, int]] = []
    during: list[int] = []  # writes acknowledged while each backup ran
    thread.start()
    try:
        runner = app.test_cli_runner()
        for n in range(3):
            deadline = time.monotonic() + 30
            while len(log) < WRITES_BETWEEN_BACKUPS * (n + 1) and time.monotonic() < deadline and thread.is_alive():
                time.sleep(0.02)
            path = tmp_path / f"backup-{n}.{'db' if backend == 'sqlite' else 'dump'}"
            acknowledged = len(log)
            with app.app_context():  # as `flask` itself provides
                result = runner.invoke(args=["backup", str(path)])
            assert result.exit_code == 0, result.output
            backups.append((path, acknowledged))
            during.append(len(log) - acknowledged)
    finally:
        stop.set()
        thread.join(60)
        dispose(app)
    assert failures == []
    assert len(log) > backups[-1][1], "the writer stopped before the last backup"
    assert sum(during) > 0, "no write was committed while a copy ran"

    for path, acknowledged in backups:
        restored_url = restore(url, path)
        code, output = run_check(restored_url)
        assert code == 0, f"{path}: {output}"
        restored = fresh_app(restored_url, empty=False)
        try:
            with restored.app_context():
                cases = list(db.session.scalars(select(Case.code).order_by(Case.id)))
                stays = {stay_id: (code, discharged is not None) for stay_id, code, discharged in db.session.execute(
                    select(Stay.id, Case.code, Stay.discharged_at).join(Case, Case.id == Stay.case_id))}
        finally:
            dispose(restored)
        prefixes = [k for k in range(acknowledged, len(log) + 1) if state_after(log[:k]) == (cases, stays)]
        assert prefixes, (f"{path} holds {len(cases)} cases and {len(stays)} stays: no prefix of the "
                          f"{len(log)} writes from the {acknowledged} acknowledged before the backup")
    print(f"\n{backend}: {len(backups)} backups taken during {len(log)} acknowledged writes ({during} acknowledged "
          "while each copy ran), each a consistent prefix that passes flask check")

"""Issue 13, backups: `flask backup` hands pg_dump the PostgreSQL password through its environment, never on
its command line, where every user of the host can read it (ps, /proc/PID/cmdline)."""

from __future__ import annotations

import os
import subprocess

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from config import TestConfig

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs TEST_DATABASE_URL")

ROLE, PASSWORD = "safehaven_backup_probe", "pw-that-must-not-leak-7Qx"


@pytest.fixture
def url_with_password():  # noqa: ANN201
    """TEST_DATABASE_URL as a role that signs in with a password, and a row for it to dump (both made for
    the test, dropped after)."""
    url = make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql+psycopg")
    owner = create_engine(url, isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {ROLE}"))
        conn.execute(text(f"DROP ROLE IF EXISTS {ROLE}"))
        conn.execute(text(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}' IN ROLE pg_read_all_data"))
        conn.execute(text(f"CREATE TABLE {ROLE} (note text)"))
        conn.execute(text(f"INSERT INTO {ROLE} VALUES ('in the dump')"))
    yield url.set(username=ROLE, password=PASSWORD)
    with owner.connect() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {ROLE}"))
        conn.execute(text(f"DROP ROLE IF EXISTS {ROLE}"))
    owner.dispose()


def test_backup_passes_the_password_in_the_environment(url_with_password, tmp_path, monkeypatch):
    seen = []
    real_run = subprocess.run

    def observed_run(args, *rest, **kwargs):  # noqa: ANN001, ANN202 - the real run, watched
        seen.append((list(args), kwargs.get("env")))
        return real_run(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "run", observed_run)
    backup_app = create_app(TestConfig(url_with_password.render_as_string(hide_password=False)))
    target = tmp_path / "backup.dump"
    with backup_app.app_context():
        result = backup_app.test_cli_runner().invoke(args=["backup", str(target)])
    assert result.exit_code == 0, result.output
    ((argv, env),) = seen
    assert argv[0] == "pg_dump" and not any(PASSWORD in arg for arg in argv)
    assert ROLE in argv[-1]  # the role still travels in the connection string
    assert env is not None and env["PGPASSWORD"] == PASSWORD
    restored = real_run(["pg_restore", "--data-only", f"--table={ROLE}", "-f", "-", str(target)],
                        capture_output=True, text=True, check=True).stdout
    assert "in the dump" in restored

"""An install without make: the wheel built from the sources carries compiled catalogues, installs into a fresh
virtualenv, migrates a database with `flask db upgrade`, and serves the sign-in page in Albanian; a catalogue
missing or older than its .po is compiled when the app starts.

Offline: the wheel is built with this environment's setuptools and Babel (no build isolation) and installed
with --no-deps --no-index; the fresh virtualenv finds its dependencies through a path entry naming this
environment's site-packages (a plain path, so this checkout's editable install is not picked up)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.e2e

SIGN_IN = """
import sys
import app as module
from app import create_app
from config import TestConfig
assert module.__file__.startswith(sys.prefix), module.__file__
client = create_app(TestConfig(sys.argv[1])).test_client()
page = client.get("/login", headers={"Accept-Language": "sq"})
assert page.status_code == 200, page.status_code
sys.stdout.write(page.get_data(as_text=True))
"""


def _run(*command: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})
    assert done.returncode == 0, f"{command[:3]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    work = tmp_path_factory.mktemp("install")
    source = work / "source"
    # The sources as a clone has them: no compiled catalogues, no virtualenv, no build leftovers.
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "__pycache__", "instance", "build", "dist", "*.egg-info", "*.mo", "*.db", "*.db-*",
        ".pytest_cache", ".hypothesis", "tests", "bench"))
    wheels = work / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
         "--wheel-dir", str(wheels), str(source), cwd=work)
    [wheel] = wheels.glob("safehaven-*.whl")
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", str(venv), cwd=work)
    python = venv / "bin" / "python"
    site = Path(_run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=work).strip())
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index",
         str(wheel), cwd=work)
    return {"wheel": wheel, "python": python, "site": site, "venv": venv, "work": work}


def test_the_wheel_carries_every_compiled_catalogue(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    catalogues = [name for name in names if name.endswith("LC_MESSAGES/messages.mo")]
    assert len(catalogues) == 6 * 3  # shared and five domains, in sq, sr_Latn and en
    assert {"templates/base.html", "static/app.css", "migrations/alembic.ini", "odd_input.py",
            "accounts/data/common-passwords.txt"} <= set(names)


def test_an_installed_wheel_migrates_and_signs_in_in_albanian(installed):
    work = installed["work"]
    url = f"sqlite:///{work / 'installed.db'}"
    _run(str(installed["python"]), "-m", "flask", "--app", "app", "db", "upgrade", cwd=work,
         env={"DATABASE_URL": url})
    page = _run(str(installed["python"]), "-c", SIGN_IN, url, cwd=work)
    assert 'lang="sq"' in page and ">Hyr<" in page


def test_a_missing_or_stale_catalogue_is_compiled_when_the_app_starts(installed):
    work, site = installed["work"], installed["site"]
    po = site / "accounts" / "translations" / "sq" / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    mo.unlink()
    url = f"sqlite:///{work / 'stale.db'}"
    assert ">Hyr<" in _run(str(installed["python"]), "-c", SIGN_IN, url, cwd=work)
    assert mo.exists()
    # A catalogue corrected in place (newer than its .mo) is what the next start serves.
    po.write_text(po.read_text(encoding="utf-8").replace('msgstr "Hyr"\n', 'msgstr "Hyr tani"\n'), encoding="utf-8")
    os.utime(po, (mo.stat().st_mtime + 10, mo.stat().st_mtime + 10))
    assert ">Hyr tani<" in _run(str(installed["python"]), "-c", SIGN_IN, url, cwd=work)

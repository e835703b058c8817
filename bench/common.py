"""What every benchmark shares: timing, percentiles, the machine, and one JSON object per configuration.

Each benchmark prints one JSON line per measured configuration and writes the list to
`bench/results/NAME.json` with the machine it ran on, so docs/performance.md can quote it.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
DATA = ROOT / "instance" / "bench"  # generated databases: instance/ is never committed


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) by linear interpolation between closest ranks; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def timings_ms(action: Callable[[], Any], repeat: int, warmup: int = 1, budget_s: float | None = None
               ) -> list[float]:
    """Run `action` `warmup` times untimed, then up to `repeat` times timed (stopping early past
    `budget_s` seconds, after at least 3 runs); each duration in milliseconds."""
    for _ in range(warmup):
        action()
    out: list[float] = []
    started = time.perf_counter()
    for _ in range(repeat):
        t0 = time.perf_counter()
        action()
        out.append((time.perf_counter() - t0) * 1000)
        if budget_s is not None and len(out) >= 3 and time.perf_counter() - started > budget_s:
            break
    return out


def summary_ms(samples: Sequence[float]) -> dict[str, float | int]:
    return {"n": len(samples), "p50_ms": round(percentile(samples, 50), 2), "p95_ms": round(percentile(samples, 95), 2),
            "median_ms": round(statistics.median(samples), 2) if samples else float("nan")}


@contextmanager
def stopwatch() -> Iterable[list[float]]:
    """`with stopwatch() as t: ...` then t[0] holds the elapsed seconds."""
    box: list[float] = []
    started = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - started)


def machine() -> dict[str, Any]:
    """What the figures depend on: cores, CPU model, memory, Python, database server versions aside."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gb": memory_gb, "python": platform.python_version(),
            "platform": platform.platform(terse=True)}


def emit(record: dict[str, Any]) -> dict[str, Any]:
    """Print one configuration's figures as a JSON line (flushed, so a long run shows progress)."""
    print(json.dumps(record, default=str), flush=True)
    return record


def write_results(name: str, records: list[dict[str, Any]], options: dict[str, Any] | None = None,
                  directory: Path | None = None) -> Path:
    """bench/results/NAME.json: the records, the machine, when, and the options they ran with."""
    directory = directory or RESULTS
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    body = {"benchmark": name, "ran_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
            "options": options or {}, "results": records}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(body, indent=1, default=str) + "\n")
    tmp.replace(path)
    return path


def sqlite_url(name: str) -> str:
    DATA.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DATA / name}"


def postgres_url(database: str = "bench") -> str:
    """The benchmark's own PostgreSQL database (never `test`): BENCH_PG_URL, or `database` on the local server."""
    return os.environ.get("BENCH_PG_URL") or f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database a URL names if it is missing (SQLite creates its file itself).

    Refuses the `test` database and the app's own instance database: benchmarks wipe what they use.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database or ""
    if name == "test" or name.endswith("instance/safehaven.db"):
        raise SystemExit(f"refusing to benchmark on {name}: it belongs to the tests or the app")
    if not parsed.drivername.startswith("postgresql"):
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def bench_app(database_url: str):  # noqa: ANN201 - a Flask app
    """The real app on `database_url`, configured as production is (TESTING off, no scheduler), with a
    fixed secret key and no second factor so a benchmark can sign in with a password."""
    from app import create_app
    from config import Config

    config = Config()
    config.SQLALCHEMY_DATABASE_URI = database_url
    config.SECRET_KEY = "bench-secret-key-not-for-production"
    config.SAFEHAVEN_TOTP_REQUIRED_ROLES = ""
    config.SAFEHAVEN_SCHEDULER = False
    config.SAFEHAVEN_LOGIN_RATE_LIMIT = "1000 per minute"
    config.RATELIMIT_STORAGE_URI = "memory://"
    return create_app(config)

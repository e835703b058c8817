"""Full alert evaluation: `python -m bench alerts [--quick] [--sizes 1000 10000] [--days 365]`.

`alerts.jobs.evaluate_alerts` (every rule, gathering figures with SQL and upserting the alerts) on a
generated country, twice: the first run opens the alerts (an empty queue, as after an outage), the second
finds them open and refreshes them (the hourly steady state). Keys: shelters, days, seconds (first run),
steady_seconds, opened, per_1000_shelters_s. Target: under 10 s at 10,000 x 365, time growing no faster
than the number of shelters.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from bench.common import bench_app, emit, write_results
from bench.generate import prepared

TARGET_S = 10.0


def measure(database_url: str, shelters: int, days: int) -> dict[str, Any]:
    from alerts.jobs import evaluate_alerts
    from alerts.rules import Thresholds
    from database import utcnow
    from extensions import db

    app = bench_app(database_url)
    with app.app_context():
        thresholds = Thresholds.from_config(app.config)
        runs = []
        for _ in range(2):
            started = time.perf_counter()
            summary = evaluate_alerts(db.session, utcnow(), thresholds)
            db.session.commit()
            runs.append((time.perf_counter() - started, summary))
        db.session.remove()
        db.engine.dispose()
    opened = sum(runs[0][1].opened.values())
    return {"shelters": shelters, "days": days, "seconds": round(runs[0][0], 3), "steady_seconds": round(runs[1][0], 3),
            "opened": opened, "per_1000_shelters_s": round(runs[0][0] / shelters * 1000, 3),
            "target_s": TARGET_S if shelters >= 10_000 else None,
            "met": runs[0][0] < TARGET_S if shelters >= 10_000 else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench alerts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", nargs="*", type=int, default=[1000, 10000])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL to generate into instead of SQLite")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.days = [10], 30
    records = []
    for size in args.sizes:
        url = prepared(size, args.days, 1, args.database_url)
        records.append(emit(measure(url, size, args.days) | {"database": url.split(":")[0]}))
    if not args.quick or args.output:
        write_results("alerts", records, vars(args), Path(args.output) if args.output else None)
    return 0

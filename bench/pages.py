"""Server time of pages: `python -m bench pages [--quick] [--shelters 1000] [--repeat N]`.

Signed in as the secretariat through the real sign-in form (Flask test client: no network, so this is
the server's time), on a generated country whose alerts have been evaluated once (a realistic queue):
the shelter list (`/shelters`), a shelter's board (`/shelters/SH00001`, with its occupancy history panel
over 90 nights, and over 365 with `?history=365`), the alert queue (`/alerts`, its first page of 50) and the
secretariat's overview (`/overview`, a 90-night sparkline per shelter); and, signed in as the manager of the
first shelter, their statistics (`/stats`). Keys: page, path, shelters, n, median_ms, p95_ms, bytes, target_ms, met.
Target: median under 300 ms at 1,000 shelters.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from bench.common import bench_app, emit, summary_ms, timings_ms, write_results
from bench.generate import BENCH_PASSWORD, bench_username, prepared

TARGET_MS = 300.0
PAGES = {"shelter_list": "/shelters", "board": "/shelters/SH00001", "board_history_365": "/shelters/SH00001?history=365",
         "alert_queue": "/alerts", "overview": "/overview", "stats": "/stats"}
READER = {"stats": "shelter_manager"}  # who reads each page; the secretariat unless named here
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|<meta name="csrf-token" content="([^"]+)"')


def measure(database_url: str, shelters: int, repeat: int) -> list[dict[str, Any]]:
    from alerts.jobs import evaluate_alerts
    from alerts.rules import Thresholds
    from database import utcnow
    from extensions import db

    app = bench_app(database_url)
    with app.app_context():
        evaluate_alerts(db.session, utcnow(), Thresholds.from_config(app.config))
        db.session.commit()
        db.session.remove()
    clients = {role: signed_in(app, role) for role in {"secretariat", *READER.values()}}
    records = []
    for page, path in PAGES.items():
        client = clients[READER.get(page, "secretariat")]
        sizes: list[int] = []

        def get(path: str = path, client=client, sizes: list[int] = sizes) -> None:
            r = client.get(path)
            if r.status_code != 200:
                raise RuntimeError(f"GET {path} answered {r.status_code}")
            sizes.append(len(r.get_data()))

        samples = timings_ms(get, repeat=repeat, warmup=1, budget_s=20)
        stats = summary_ms(samples)
        records.append({"page": page, "path": path, "shelters": shelters, **stats, "bytes": sizes[-1],
                        "target_ms": TARGET_MS, "met": stats["median_ms"] < TARGET_MS})
    with app.app_context():
        db.engine.dispose()
    return records


def signed_in(app, role: str):  # a Flask app and its signed-in test client
    """A test client signed in as the generated user of `role`, through the real sign-in form."""
    client = app.test_client()
    match = CSRF.search(client.get("/login").get_data(as_text=True))
    if not match:
        raise RuntimeError("no CSRF token on /login")
    response = client.post("/login", data={"username": bench_username(role), "password": BENCH_PASSWORD,
                                           "csrf_token": match.group(1) or match.group(2)})
    if response.status_code != 302 or "/login" in response.headers.get("Location", ""):
        raise RuntimeError(f"sign-in failed: {response.status_code} {response.headers.get('Location')}")
    return client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench pages", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--shelters", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.shelters, args.days, args.repeat = 10, 30, 2
    url = prepared(args.shelters, args.days, 1, args.database_url)
    records = [emit(r | {"database": url.split(":")[0]}) for r in measure(url, args.shelters, args.repeat)]
    if not args.quick or args.output:
        write_results("pages", records, vars(args), Path(args.output) if args.output else None)
    return 0

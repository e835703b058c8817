"""One placement suggestion: `python -m bench suggest [--quick] [--sizes 10 1000 10000]`.

Two measurements per size of a generated country (365 days of history):
- engine: `placement.engine.rank_shelters` alone on a `CandidateTable` of candidates gathered once, reading
  the scores and the exclusion counts (what the engine costs to decide, as a batch uses it);
- engine_full: the same from the list of candidates, with every suggestion and exclusion turned into the
  JSON that a request stores (`services.ranking_json`): deciding and explaining all 10,000 shelters;
- api: `POST /api/v1/placements` through the Flask test client as the secretariat (gathering the
  figures, ranking, storing the ranking as shown, the audit entries, the JSON), each for a case
  waiting for a bed, so every call is a real first request for that case. The timing ends when the
  answer is complete; the client's decoding of the ~1 MB answer (at 10,000 shelters) is not the
  server's work and happens after, for the last answer only.

Keys: shelters, layer ('engine' | 'engine_full' | 'api'), n, p50_ms, p95_ms, median_ms, suggestions (last call),
target_ms and met. Targets at 10,000 shelters: engine p95 under 20 ms, API p95 under 300 ms.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bench.common import bench_app, emit, summary_ms, timings_ms, write_results
from bench.generate import bench_token, prepared

TARGETS_MS = {"engine": 20.0, "engine_full": None, "api": 300.0}  # at 10,000 shelters, p95


def measure(database_url: str, shelters: int, repeat: int, api_repeat: int) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from database import utcnow
    from extensions import db
    from placement import engine, services
    from placement.models import PlacementRequest
    from shelters.models import Case, Stay

    app = bench_app(database_url)
    records = []
    with app.app_context():
        settings = services.Settings.from_config(app.config)
        now = utcnow()
        waiting = list(db.session.scalars(
            select(Case).where(~Case.id.in_(select(Stay.case_id)), ~Case.id.in_(select(PlacementRequest.case_id)))
            .order_by(Case.id).limit(api_repeat + 2 + repeat)))
        pool = services.candidates(db.session, now)
        centres = services._centres(db.session)
        profiles = [engine.Profile(sex=c.sex, minor=c.is_minor_on(now.date()), children=c.children,
                                   needs=frozenset(c.needs), languages=frozenset(c.languages), risk=c.risk,
                                   trafficker_regions=frozenset(c.trafficker_regions),
                                   location=centres.get(c.region), exclude=frozenset()) for c in waiting]
        table = engine.CandidateTable(pool)

        def decide(candidates: Any) -> engine.Ranking:
            ranking = engine.rank_shelters(next(it), candidates, settings.weights, centres)
            ranking.scores(), ranking.exclusion_summary()
            return ranking

        def explain_all() -> engine.Ranking:
            ranking = engine.rank_shelters(next(it), pool, settings.weights, centres)
            services.ranking_json(ranking)
            return ranking

        # Only the latest ranking is kept: keeping all 200 made the collector's full passes walk them all.
        last: list[Any] = [None]
        for layer, action in (("engine", lambda: last.__setitem__(-1, decide(table))),
                              ("engine_full", lambda: last.__setitem__(-1, explain_all()))):
            it = iter(profiles * 2)
            samples = timings_ms(action, repeat=min(repeat, len(profiles)), warmup=1, budget_s=20)
            records.append({"shelters": shelters, "layer": layer, **summary_ms(samples),
                            "suggestions": len(last[-1].scores())})
        codes = [c.code for c in waiting]
        db.session.remove()

    client = app.test_client()
    headers = {"Authorization": f"Bearer {bench_token('secretariat')}"}
    codes_iter = iter(codes)
    answers: list[Any] = [None]

    def post() -> None:
        response = client.post("/api/v1/placements", json={"case_code": next(codes_iter), "urgency": "urgent"},
                               headers=headers)
        if response.status_code != 201:
            raise RuntimeError(f"POST /api/v1/placements answered {response.status_code}: {response.get_data()[:300]}")
        answers[0] = response

    samples = timings_ms(post, repeat=min(api_repeat, len(codes) - 1), warmup=1, budget_s=25)
    suggested = len(answers[0].get_json()["suggestions"])
    records.append({"shelters": shelters, "layer": "api", **summary_ms(samples), "suggestions": suggested})
    with app.app_context():
        db.engine.dispose()
    for r in records:
        r["target_ms"] = TARGETS_MS[r["layer"]] if shelters >= 10_000 else None
        r["met"] = r["p95_ms"] < r["target_ms"] if r["target_ms"] else None
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench suggest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one tiny country (the smoke test)")
    parser.add_argument("--sizes", nargs="*", type=int, default=[10, 1000, 10000])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=200, help="engine calls per size")
    parser.add_argument("--api-repeat", type=int, default=30, help="API calls per size")
    parser.add_argument("--database-url", default=None, help="a PostgreSQL URL to generate into instead of SQLite")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.days, args.repeat, args.api_repeat = [10], 30, 5, 3
    records = []
    for size in args.sizes:
        url = prepared(size, args.days, 1, args.database_url)
        for record in measure(url, size, args.repeat, args.api_repeat):
            records.append(emit(record | {"days": args.days, "database": url.split(":")[0]}))
    if not args.quick or args.output:
        write_results("suggest", records, vars(args), Path(args.output) if args.output else None)
    return 0

"""The benchmark suite cannot rot: the generator on a tiny country, and one tiny configuration of each
benchmark that needs no server, checked for the keys docs/performance.md quotes. Seconds, not minutes."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from bench import alerts, batch, pages, suggest
from bench.common import bench_app, percentile, write_results
from bench.generate import generate
from extensions import db
from shelters.models import Case, Shelter, Stay


def test_percentile_interpolates() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 95) == 5


def test_generator_is_deterministic_and_readable_through_the_models(tmp_path) -> None:  # noqa: ANN001
    counts = []
    for name in ("a.db", "b.db"):
        url = f"sqlite:///{tmp_path / name}"
        result = generate(url, shelters=12, days=30, seed=7, end=date(2026, 1, 31))
        counts.append((result.cases, result.stays, result.open_stays))
        app = bench_app(url)
        with app.app_context():
            shelters = db.session.scalars(select(Shelter).order_by(Shelter.code)).all()
            assert len(shelters) == 12 and len({s.region for s in shelters}) == 12
            assert all(4 <= s.capacity <= 40 and s.sexes and isinstance(s.services, list) for s in shelters)
            assert db.session.scalar(select(func.count()).select_from(Stay)) == result.stays
            first = db.session.scalars(select(Stay).order_by(Stay.id)).first()
            assert first is not None and first.admitted_at.tzinfo is not None
            assert db.session.scalar(select(func.count()).select_from(Case)) == result.cases
            db.session.remove()
            db.engine.dispose()
    assert counts[0] == counts[1]


def test_batch_smoke() -> None:
    batch.SIZES["tiny"] = (6, 12, 0.5)
    for families in (False, True):
        record = batch.measure("tiny", 1.0, families, seed=1, reference_limit_s=10, engine_limit_s=5)
        for key in ("shelters", "requests", "load", "families", "placed", "reference_placed", "objective",
                    "reference_objective", "gap", "violations", "engine_s", "reference_s", "greedy_objective"):
            assert key in record
        assert record["violations"] == 0
        assert record["reference_objective"] is not None and record["objective"] <= record["reference_objective"]


def test_suggest_alerts_and_pages_smoke(tmp_path) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'tiny.db'}"
    generate(url, shelters=10, days=30, seed=1)
    records = suggest.measure(url, 10, repeat=3, api_repeat=2)
    assert [r["layer"] for r in records] == ["engine", "engine_full", "api"]
    assert all({"p50_ms", "p95_ms", "shelters"} <= set(r) for r in records)
    record = alerts.measure(url, 10, 30)
    assert {"shelters", "days", "seconds"} <= set(record)
    records = pages.measure(url, 10, repeat=1)
    assert {r["page"] for r in records} == set(pages.PAGES) >= {"shelter_list", "board", "alert_queue"}
    assert all(r["median_ms"] > 0 for r in records)
    path = write_results("smoke", records, {}, tmp_path)
    assert path.exists()


def test_funnel_smoke(tmp_path) -> None:  # noqa: ANN001
    from bench import funnel

    url = f"sqlite:///{tmp_path / 'funnel.db'}"
    generate(url, shelters=8, days=30, seed=1)
    records = funnel.measure(url, 8, requests=40, stored=5, repeat=2)
    assert [r["layer"] for r in records] == ["pure", "stored", "stored_what_if"]
    assert all({"p50_ms", "p95_ms", "shelters", "requests"} <= set(r) for r in records)
    assert records[0]["met"] and records[1]["made"] == 5

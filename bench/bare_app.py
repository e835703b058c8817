"""The bare stack the HTTP benchmark compares with: Flask + Flask-SQLAlchemy, no auth, no validation,
no audit, no request hooks, on the same database as the app.

- `GET /shelters` answers what `GET /api/v1/shelters` answers (the same fields for every shelter, the
  operator's code, occupied, held and available beds, residents and the 30-day utilisation) from the
  same six statements the app sends (shelters with their operator, open stays, live holds, the two
  reads of stays and the capacity history for bed-nights), written here as plain SQL, and `jsonify`
  on rows: the framework-free cost of the same work.
- `GET /shelters/minimal` is the bare read this benchmark compared with until now: seven columns and
  open stays' beds, one grouped query. The benchmark reports it too (`bare_min_rps`), so the ratio
  can be read against either.
- `POST /write` inserts one row in a table of its own.

`gunicorn -w 2 'bench.bare_app:create_app()'` with DATABASE_URL set, started by bench/http.py.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, Integer, String, event, func, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class BareWrite(db.Model):
    __tablename__ = "bench_bare_writes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(String(64))


SHELTERS = text(
    "SELECT s.id, s.code, s.name, s.kind, s.region, s.capacity, s.out_of_service,"
    " CAST(s.sexes AS TEXT) AS sexes, s.ages, s.children_capacity, CAST(s.services AS TEXT) AS services,"
    " CAST(s.languages AS TEXT) AS languages, s.security, s.status, o.code AS operator, s.opened_on, s.version,"
    " s.last_headcount_at FROM shelters s LEFT OUTER JOIN organisations o ON o.id = s.operator_id ORDER BY s.code")
OPEN_STAYS = text("SELECT shelter_id, sum(beds), count(*) FROM stays WHERE discharged_at IS NULL GROUP BY shelter_id")
HOLDS = text("SELECT shelter_id, sum(beds) FROM reservations WHERE released_at IS NULL AND held_until > :now"
             " GROUP BY shelter_id")


def _bed_night_queries(dialect: str) -> tuple[Any, Any, Any]:
    """The three bed-night statements of shelters.figures.utilisation, as plain SQL for `dialect`."""
    if dialect == "sqlite":
        def day(column: str) -> str:
            return f"CAST(julianday(date({column})) - 2440587.5 AS INTEGER)"
    else:
        def day(column: str) -> str:
            return f"((({column}) AT TIME ZONE 'UTC')::date - DATE '1970-01-01')"
    first = f"CASE WHEN admitted_at < :start_at THEN :start_day ELSE {day('admitted_at')} END"
    open_q = text(f"SELECT shelter_id, sum(beds * (:end_day - {first})) FROM stays WHERE discharged_at IS NULL"
                  " GROUP BY shelter_id")
    closed_q = text(f"SELECT shelter_id, sum(beds * (CASE WHEN discharged_at >= :end_at THEN :end_day"
                    f" ELSE {day('discharged_at')} END - {first})) FROM stays WHERE discharged_at >= :start_at"
                    " GROUP BY shelter_id")
    lo = f"CASE WHEN begins < :start_at THEN :start_day ELSE {day('begins')} END"
    hi = f"CASE WHEN ends IS NULL OR ends >= :end_at THEN :end_day ELSE {day('ends')} END"
    available_q = text(
        f"SELECT shelter_id, sum(CASE WHEN {hi} > {lo} THEN usable * ({hi} - {lo}) ELSE 0 END) FROM"
        " (SELECT shelter_id, capacity - out_of_service AS usable, effective_at AS begins,"
        " lead(effective_at) OVER (PARTITION BY shelter_id ORDER BY effective_at, id) AS ends"
        " FROM capacity_changes) AS periods GROUP BY shelter_id")
    return open_q, closed_q, available_q


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    db.init_app(app)
    with app.app_context():
        dialect = db.engine.dialect.name
        if dialect == "sqlite":  # the same WAL and busy timeout as the app's
            @event.listens_for(db.engine, "connect")
            def _on_connect(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA busy_timeout=30000")
                cursor.close()
        BareWrite.__table__.create(db.engine, checkfirst=True)
    shelters = db.Table("shelters", db.metadata, autoload_with=None, extend_existing=True,
                        *[db.Column(n) for n in ("id", "code", "name", "region", "capacity", "out_of_service",
                                                 "status")])
    stays = db.Table("stays", db.metadata, extend_existing=True,
                     *[db.Column(n) for n in ("shelter_id", "beds", "discharged_at")])
    open_q, closed_q, available_q = _bed_night_queries(dialect)

    def bind(moment: datetime) -> Any:  # how the app's column type stores a time on each backend
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else moment

    def iso(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()

    @app.get("/shelters")
    def list_shelters() -> Any:
        now = datetime.now(UTC)
        end = now.date()
        first = end - timedelta(days=30)
        window = {"start_at": bind(datetime.combine(first, time(), UTC)), "end_at": bind(datetime.combine(end, time(), UTC)),
                  "start_day": (first - date(1970, 1, 1)).days, "end_day": (end - date(1970, 1, 1)).days}
        session = db.session
        rows = session.execute(SHELTERS).all()
        occupied = {sid: (int(beds), int(n)) for sid, beds, n in session.execute(OPEN_STAYS)}
        held = {sid: int(beds) for sid, beds in session.execute(HOLDS, {"now": bind(now)})}
        nights = {sid: int(n or 0) for sid, n in session.execute(open_q, window)}
        for sid, n in session.execute(closed_q, window):
            nights[sid] = nights.get(sid, 0) + int(n or 0)
        available = {sid: int(n or 0) for sid, n in session.execute(available_q, window)}
        lists: dict[str, Any] = {}

        def as_list(raw: Any) -> Any:
            if raw not in lists:
                lists[raw] = None if raw is None else json.loads(raw)
            return lists[raw]

        out = []
        for r in rows:
            beds, residents = occupied.get(r.id, (0, 0))
            reserved = held.get(r.id, 0)
            util = nights.get(r.id, 0) / available[r.id] if available.get(r.id, 0) > 0 else None
            out.append({
                "code": r.code, "name": r.name, "kind": r.kind, "region": r.region, "capacity": r.capacity,
                "out_of_service": r.out_of_service, "opened_on": str(r.opened_on),
                "sexes": as_list(r.sexes), "ages": r.ages, "children_capacity": r.children_capacity,
                "services": as_list(r.services), "languages": as_list(r.languages), "security": r.security,
                "status": r.status, "operator": r.operator, "version": r.version, "occupied": beds,
                "reserved": reserved, "available": max(0, r.capacity - r.out_of_service - beds - reserved),
                "residents_count": residents, "utilisation_30d": util, "last_headcount_at": iso(r.last_headcount_at),
            })
        return jsonify({"shelters": out})

    @app.get("/shelters/minimal")
    def list_shelters_minimal() -> Any:
        occupied = dict(db.session.execute(
            select(stays.c.shelter_id, func.sum(stays.c.beds)).where(stays.c.discharged_at.is_(None))
            .group_by(stays.c.shelter_id)).all())
        rows = db.session.execute(select(shelters).order_by(shelters.c.code)).mappings().all()
        return jsonify({"shelters": [dict(r) | {"occupied": int(occupied.get(r["id"], 0))} for r in rows]})

    @app.post("/write")
    def write() -> Any:
        db.session.add(BareWrite(at=datetime.now(UTC), note="bench"))
        db.session.commit()
        return jsonify({"ok": True}), 201

    @app.get("/health")
    def health() -> Any:
        return {"status": "ok"}

    return app

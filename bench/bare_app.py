"""The bare stack the HTTP benchmark compares with: Flask + Flask-SQLAlchemy, no auth, no validation,
no audit, on the same database as the app. `GET /shelters` runs the list's queries (the shelters and
their open stays' beds, grouped); `POST /write` inserts one row in a table of its own.

`gunicorn -w 2 'bench.bare_app:create_app()'` with DATABASE_URL set, started by bench/http.py.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, Integer, String, event, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class BareWrite(db.Model):
    __tablename__ = "bench_bare_writes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(String(64))


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":  # the same WAL and busy timeout as the app's
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

    @app.get("/shelters")
    def list_shelters() -> Any:
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

"""The synthetic country: `python -m bench generate --shelters N --days D --seed S [--database-url URL]`.

Fills an empty schema (the database is wiped and recreated with `db.create_all()`) by bulk Core
inserts, never one service call per row, so 10,000 shelters x 365 days take seconds, not hours.
Deterministic: the same seed and `--end` date give the same rows (dates are relative to `--end`,
which defaults to today's UTC midnight).

Nothing here writes the audit log: generated rows are not anybody's activity. The benchmarks that
act through the API do write it, as real requests would.

What a generated country looks like (the rates are the constants below):
- 16 regions on a 4 x 4 grid about 145 km apart, each shelter within 40 km of its region's centre;
- capacity 4 to 40 (skewed towards small houses, mean about 16); 60% women only, 10% men only, 30% both;
  ages 70% adults, 15% minors, 15% all; 40% take accompanying children; 20% high security; 92% open,
  5% suspended, 3% closed; services and languages at SERVICE_RATES and LANGUAGE_RATES;
- capacity history from each shelter's registration (before the window), 10% with a bed taken out of
  service inside it;
- stays over the D days: each shelter's beds are cut into units (a single bed, or a family of 2 to 3 beds
  where the shelter takes children), and each unit alternates stays (mean about 120 days: a reflection period and then some) and gaps so the
  shelter's utilisation lands near a target drawn per shelter, 15% of shelters standing empty (the
  cable's problem). Units never overlap, so no shelter is ever over capacity;
- one case per stay, plus one case in seven never placed; one live reservation (a bed held for two days) at 3% of
  shelters with a free bed; headcounts confirmed within the last four days at 85% of shelters;
- users `bench-secretariat`, `bench-police`, `bench-manager` (manages the first shelter) and `bench-admin`,
  password BENCH_PASSWORD, each with a deterministic API token (`bench_token(role)`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bench.common import bench_app, emit, ensure_database, sqlite_url, stopwatch

BENCH_PASSWORD = "bench-password-not-secret"
ROLES = ("secretariat", "police", "shelter_manager", "admin")

REGION_NAMES = [f"Region {chr(ord('A') + i)}" for i in range(16)]
REGION_CENTRES = {name: (40.0 + 1.3 * (i // 4), 19.0 + 1.7 * (i % 4)) for i, name in enumerate(REGION_NAMES)}
SERVICE_RATES = {"medical": 0.80, "psychological": 0.75, "legal": 0.70, "interpretation": 0.40, "vocational": 0.35,
                 "disability_access": 0.20, "childcare": 0.30, "education": 0.25}
LANGUAGE_RATES = {"sq": 0.90, "en": 0.60, "sr": 0.40, "ro": 0.15, "uk": 0.15, "ru": 0.10, "es": 0.10, "fr": 0.08}
CASE_LANGUAGES = ["sq", "sq", "sq", "en", "sr", "ro", "ro", "uk", "ru", "es", "fr", "bg"]
NATIONALITIES = ["XK", "XK", "XK", "AL", "AL", "MD", "UA", "RS", "BG", "NG", "DO", "PH"]
MEAN_STAY_DAYS = 120.0
UNUSED_SHARE = 0.15


def bench_token(role: str) -> str:
    """The raw API token of the benchmark user with `role` (stored hashed, like every token)."""
    from accounts.services import TOKEN_PREFIX

    return TOKEN_PREFIX + "bench-" + hashlib.sha256(f"safe-haven-bench-{role}".encode()).hexdigest()[:32]


def bench_username(role: str) -> str:
    return "bench-" + ("manager" if role == "shelter_manager" else role)


@dataclass(frozen=True)
class Generated:
    shelters: int
    days: int
    cases: int
    stays: int
    open_stays: int
    reservations: int
    headcounts: int
    capacity_changes: int
    seconds: float


def _pick(rng: random.Random, rates: dict[str, float]) -> list[str]:
    return [name for name, rate in rates.items() if rng.random() < rate]


def _stamp(day0: datetime, day: float) -> datetime:
    """`day` days after `day0`, to the minute (so rows are reproducible and readable)."""
    return day0 + timedelta(minutes=round(day * 1440))


def _converter(column: Any, dialect: str) -> Any:
    """How one column's Python value becomes what the driver takes, as SQLAlchemy's own types would
    bind it (checked by tests/test_bench.py reading the rows back through the ORM)."""
    from sqlalchemy import JSON, Boolean, Date, DateTime

    from database import EncryptedText, keyring

    kind = column.type
    if isinstance(kind, EncryptedText):
        return lambda v: None if v is None else keyring.encrypt(v)
    if isinstance(kind, JSON) or isinstance(getattr(kind, "impl", None), JSON):
        cache: dict[tuple, str] = {}  # generated lists repeat: serialise each distinct one once

        def to_json(v: Any) -> str | None:
            if v is None:
                return None
            key = tuple(v)
            text = cache.get(key)
            if text is None:
                text = cache[key] = json.dumps(v)
            return text
        return to_json
    if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
        if dialect == "sqlite":  # SQLAlchemy's SQLite storage format: naive UTC, always with microseconds
            def to_text(v: datetime | None) -> str | None:
                if v is None:
                    return None
                text = v.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
                return text if len(text) > 19 else text + ".000000"
            return to_text
        return None
    if isinstance(kind, Date) and dialect == "sqlite":
        return lambda v: None if v is None else v.isoformat()
    if isinstance(kind, Boolean) and dialect == "sqlite":
        return lambda v: None if v is None else int(v)
    return None


def bulk_insert(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) in one go: executemany on SQLite, COPY on PostgreSQL.

    Bypasses SQLAlchemy's per-row parameter processing, which costs more than the database itself at a
    million rows; `_converter` does the same conversions once per value.
    """
    if not rows:
        return
    dialect = conn.dialect.name
    names = list(rows[0])
    converters = [(i, f) for i, name in enumerate(names) if (f := _converter(table.c[name], dialect)) is not None]

    def tuples():  # noqa: ANN202
        for row in rows:
            values = [row[name] for name in names]
            for i, f in converters:
                values[i] = f(values[i])
            yield values

    raw = conn.connection.driver_connection
    columns = ", ".join(f'"{name}"' for name in names)
    if dialect == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
            for values in tuples():
                copy.write_row(values)
    else:
        marks = ", ".join("?" for _ in names)
        cursor = raw.cursor()
        cursor.executemany(f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})', tuples())
        cursor.close()


def _tables() -> dict[str, Any]:
    from accounts.models import ApiToken, Organisation, User
    from shelters.models import CapacityChange, Case, Headcount, Reservation, Shelter, Stay, shelter_managers

    return {"organisations": Organisation.__table__, "users": User.__table__, "api_tokens": ApiToken.__table__,
            "shelters": Shelter.__table__, "shelter_managers": shelter_managers,
            "capacity_changes": CapacityChange.__table__, "cases": Case.__table__, "stays": Stay.__table__,
            "reservations": Reservation.__table__, "headcounts": Headcount.__table__}


def generate(database_url: str, shelters: int, days: int, seed: int, end: date | None = None,
             fresh: bool = True) -> Generated:
    """Wipe `database_url`, create the schema, and fill it with a country of `shelters` shelters whose
    history spans `days` days up to `end` (UTC midnight; default today). Returns the row counts."""
    from accounts.services import _token_digest, hash_password
    from extensions import db

    ensure_database(database_url)
    end = end or datetime.now(UTC).date()
    now = datetime.combine(end, time(), UTC)  # the generated "now": midnight at the end of the window
    day0 = now - timedelta(days=days)
    rng = random.Random(seed)
    app = bench_app(database_url)
    t = _tables()
    with stopwatch() as elapsed, app.app_context():
        if fresh:
            db.drop_all()
            db.create_all()
        engine = db.engine

        orgs = [{"id": 1, "code": "BENCH-SEC", "name": "Secretariat", "kind": "secretariat", "mou_in_force": True,
                 "created_at": day0},
                {"id": 2, "code": "BENCH-POL", "name": "Police directorate", "kind": "police", "mou_in_force": True,
                 "created_at": day0},
                {"id": 3, "code": "BENCH-ADM", "name": "Administration", "kind": "ministry", "mou_in_force": True,
                 "created_at": day0}]
        operators = max(1, min(200, shelters // 50))
        orgs += [{"id": 10 + i, "code": f"OP{i:04d}", "name": f"Operator {i}", "kind": "shelter_operator",
                  "mou_in_force": True, "created_at": day0} for i in range(operators)]

        shelter_rows: list[dict[str, Any]] = []
        change_rows: list[dict[str, Any]] = []
        case_rows: list[dict[str, Any]] = []
        stay_rows: list[dict[str, Any]] = []
        hold_rows: list[dict[str, Any]] = []
        headcount_rows: list[dict[str, Any]] = []
        open_beds: list[int] = []
        case_id = stay_id = 0

        # Pools drawn from once per case: far cheaper than sampling each field afresh.
        language_pool = [sorted({a, b}) for a in CASE_LANGUAGES for b in CASE_LANGUAGES]
        needs_pool = [sorted(_pick(rng, {"medical": 0.3, "psychological": 0.4, "legal": 0.3, "interpretation": 0.15}))
                      for _ in range(64)]
        exploitation_pool = [["sexual"], ["sexual"], ["labour"], ["begging"], ["criminal_activity"],
                             ["forced_marriage"], ["sexual", "labour"]]
        danger_pool = [[]] * 16 + [[name] for name in REGION_NAMES]
        risks = ("low", "medium", "medium", "high")

        def new_case(identified: datetime, sex: str, children: int, region: str, status: str,
                     resolution: str | None) -> int:
            nonlocal case_id
            case_id += 1
            r = rng.random()
            age = 12 + int(r * 6) if r < 0.18 else 18 + int(r * 38) % 38
            case_rows.append({
                "id": case_id, "code": f"VOT-BN-{case_id:08d}", "sex": sex, "birth_year": identified.year - age,
                "nationality": NATIONALITIES[case_id % len(NATIONALITIES)],
                "languages": language_pool[int(rng.random() * len(language_pool))],
                "exploitation": exploitation_pool[case_id % len(exploitation_pool)],
                "needs": needs_pool[int(rng.random() * 64)], "children": children,
                "risk": risks[int(rng.random() * 4)], "trafficker_regions": danger_pool[int(rng.random() * 32)],
                "region": region, "identified_on": identified.date(), "identified_by_org_id": 2,
                "created_by_id": None, "status": status, "resolution": resolution, "created_at": identified,
            })
            return case_id

        for n in range(shelters):
            sid = n + 1
            region = REGION_NAMES[n % 16] if n < 16 else rng.choice(REGION_NAMES)
            clat, clon = REGION_CENTRES[region]
            r = rng.random()
            sexes = ["female"] if r < 0.6 else ["male"] if r < 0.7 else ["female", "male"]
            r = rng.random()
            ages = "adults" if r < 0.7 else "minors" if r < 0.85 else "all"
            capacity = 4 + int(36 * rng.betavariate(1.6, 3.0))
            children_capacity = rng.randint(1, min(8, capacity - 1)) if rng.random() < 0.4 else 0
            r = rng.random()
            status = "open" if r < 0.92 else "suspended" if r < 0.97 else "closed"
            # Opened before its earliest stay (stays begin up to two mean stays before day 0, their cases a few
            # days before that): no stay begins before its shelter opened.
            registered = day0 - timedelta(days=rng.randint(int(MEAN_STAY_DAYS * 2) + 4, 1500))
            out_of_service_now = 0
            change_rows.append({"shelter_id": sid, "effective_at": registered, "capacity": capacity,
                                "out_of_service": 0, "changed_by_id": None})
            if rng.random() < 0.10:
                out_of_service_now = rng.randint(1, max(1, capacity // 4))
                change_rows.append({"shelter_id": sid, "effective_at": _stamp(day0, rng.uniform(0, days)),
                                    "capacity": capacity, "out_of_service": out_of_service_now,
                                    "changed_by_id": None})
            usable = capacity - out_of_service_now
            confirmed = now - timedelta(minutes=rng.randint(10, 96 * 60)) if rng.random() < 0.85 else None
            shelter_rows.append({
                "id": sid, "code": f"SH{sid:05d}", "name": f"Shelter {sid}", "operator_id": 10 + n % operators,
                "kind": rng.choice(("ngo", "ngo", "ngo", "state", "interim")), "region": region,
                "municipality": f"{region} municipality {rng.randint(1, 12)}",
                "lat": round(clat + rng.uniform(-0.35, 0.35), 5), "lon": round(clon + rng.uniform(-0.45, 0.45), 5),
                "address": f"Street {rng.randint(1, 400)}, {region}", "capacity": capacity,
                "out_of_service": out_of_service_now, "sexes": sexes, "ages": ages,
                "children_capacity": children_capacity, "services": _pick(rng, SERVICE_RATES),
                "languages": _pick(rng, LANGUAGE_RATES) or ["sq"],
                "security": "high" if rng.random() < 0.2 else "standard", "status": status,
                "last_headcount_at": confirmed, "opened_on": registered.date(), "created_at": registered,
                "version": 1,
            })
            if confirmed is not None:
                headcount_rows.append({"shelter_id": sid, "at": confirmed, "reported": 0, "recorded": 0,
                                       "by_user_id": None})  # `reported`/`recorded` filled once stays are known

            # Stays: cut the usable beds into units, alternate stays and gaps in each unit.
            target = 0.0 if (rng.random() < UNUSED_SHARE or status == "closed") else rng.uniform(0.3, 0.98)
            units: list[int] = []
            left = usable
            while left > 0:
                size = rng.choice((2, 3)) if children_capacity >= 2 and left >= 3 and rng.random() < 0.25 else 1
                units.append(size)
                left -= size
            occupied_now = 0
            for size in units:
                if target <= 0:
                    break
                mean_gap = MEAN_STAY_DAYS * (1 - target) / target
                # Start in the stationary state: occupied with probability `target`.
                day = -rng.uniform(0, MEAN_STAY_DAYS) if rng.random() < target else rng.expovariate(1 / mean_gap)
                while day < days:
                    length = max(1.0, rng.expovariate(1 / MEAN_STAY_DAYS))
                    admitted, discharged = max(day, -MEAN_STAY_DAYS * 2), day + length
                    sex = rng.choice(sexes)
                    is_open = discharged >= days
                    cid = new_case(_stamp(day0, admitted - rng.uniform(0, 3)), sex, size - 1, region,
                                   "placed" if is_open else "discharged",
                                   None if is_open else rng.choice(("repatriated", "reintegrated", "left_voluntarily")))
                    stay_id += 1
                    stay_rows.append({
                        "id": stay_id, "case_id": cid, "shelter_id": sid, "beds": size,
                        "admitted_at": _stamp(day0, admitted), "admitted_by_id": None,
                        "discharged_at": None if is_open else _stamp(day0, discharged), "discharged_by_id": None,
                        "discharge_reason": None if is_open else case_rows[-1]["resolution"],
                        "discharge_note": None,
                    })
                    if is_open:
                        occupied_now += size
                        break
                    day = discharged + rng.expovariate(1 / mean_gap) if mean_gap > 0 else discharged
            open_beds.append(occupied_now)
            if confirmed is not None:
                headcount_rows[-1]["reported"] = headcount_rows[-1]["recorded"] = occupied_now
            if status == "open" and usable - occupied_now >= 1 and rng.random() < 0.03:
                hold_rows.append({"shelter_id": sid, "beds": 1, "created_at": now - timedelta(minutes=30),
                                  "held_until": now + timedelta(days=2), "released_at": None,
                                  "release_reason": None})

        # Cases identified but never placed: awaiting placement, or declined shelter.
        for _ in range(len(case_rows) // 6):
            new_case(_stamp(day0, rng.uniform(-365, days)), rng.choice(("female", "female", "male")),
                     0, rng.choice(REGION_NAMES), rng.choice(("awaiting_placement", "declined_shelter", "identified")),
                     None)

        hashed = hash_password(BENCH_PASSWORD)
        users = []
        for uid, role in enumerate(ROLES, start=1):
            users.append({"id": uid, "username": bench_username(role), "role": role,
                          "organisation_id": {"secretariat": 1, "police": 2, "admin": 3}.get(role, 10),
                          "password_hash": hashed, "active": True, "created_at": day0,
                          "failed_logins": 0})
        tokens = [{"user_id": uid, "token_hash": _token_digest(bench_token(role)), "prefix": bench_token(role)[:12],
                   "created_at": day0, "expires_at": now + timedelta(days=3650), "revoked_at": None}
                  for uid, role in enumerate(ROLES, start=1)]

        with engine.begin() as conn:
            for name, rows in (("organisations", orgs), ("users", users), ("api_tokens", tokens),
                               ("shelters", shelter_rows), ("capacity_changes", change_rows), ("cases", case_rows),
                               ("stays", stay_rows), ("reservations", hold_rows), ("headcounts", headcount_rows),
                               ("shelter_managers", [{"user_id": 3, "shelter_id": 1}] if shelter_rows else [])):
                bulk_insert(conn, t[name], rows)
            if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
                for name in ("organisations", "users", "shelters", "cases", "stays"):
                    conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), COALESCE(MAX(id), 1)) FROM {name}")
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")  # fresh statistics, as a database in service has
        engine.dispose()
    return Generated(shelters=shelters, days=days, cases=len(case_rows), stays=len(stay_rows),
                     open_stays=sum(1 for s in stay_rows if s["discharged_at"] is None), reservations=len(hold_rows),
                     headcounts=len(headcount_rows), capacity_changes=len(change_rows), seconds=elapsed[0] if elapsed else math.nan)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--shelters", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--end", type=date.fromisoformat, default=None, help="last day (UTC), default today")
    parser.add_argument("--database-url", default=None, help="default: a SQLite file in instance/bench/")
    args = parser.parse_args(argv)
    url = args.database_url or sqlite_url(f"generated-{args.shelters}x{args.days}.db")
    result = generate(url, args.shelters, args.days, args.seed, args.end)
    emit({"benchmark": "generate", "database": url.split("://")[0], **result.__dict__})
    return 0


def prepared(shelters: int, days: int, seed: int = 1, database_url: str | None = None) -> str:
    """A working copy of a generated SQLite database (generated once per day and size, then copied), or
    `database_url` regenerated afresh when given (PostgreSQL). Benchmarks may write to what this returns."""
    import shutil

    from bench.common import DATA

    if database_url is not None:
        generate(database_url, shelters, days, seed)
        return database_url
    DATA.mkdir(parents=True, exist_ok=True)
    today = datetime.now(UTC).date().isoformat()
    pristine = DATA / f"pristine-{shelters}x{days}-s{seed}-{today}.db"
    if not pristine.exists():
        for old in DATA.glob(f"pristine-{shelters}x{days}-s{seed}-*.db*"):
            old.unlink()
        tmp = DATA / (pristine.name + ".part")
        tmp.unlink(missing_ok=True)
        generate(f"sqlite:///{tmp}", shelters, days, seed)
        tmp.replace(pristine)
    work = DATA / f"work-{shelters}x{days}-s{seed}.db"
    for suffix in ("", "-wal", "-shm"):
        (work.parent / (work.name + suffix)).unlink(missing_ok=True)
    shutil.copyfile(pristine, work)
    return f"sqlite:///{work}"

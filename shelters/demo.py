"""The demo: Kosovo's shelters as cable 09PRISTINA314 (July 2009) found them, with dates moved to today.

From the cable: PVPT shelters 4 victims against a capacity of 5; Hope and
Homes (HAH) and the Interim Security Facility (ISF) shelter none ("the shelters
are open, but not used"); identified victims fell from 32 to 24 over the same
months a year apart. Everything else here is ILLUSTRATIVE, marked where it is
set: HAH's and ISF's capacities, regions, coordinates, addresses, services, the
victims' profiles and the dates of stays. Cases carry case codes only.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from accounts import services as accounts
from accounts import audit
from accounts.models import ApiToken, Organisation, RecoveryCode, User, UserSession
from errors import Conflict
from extensions import db
from shelters import services
from shelters.models import CapacityChange, Case, Headcount, Reservation, Shelter, Stay


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    password: str
    note: str


ORGANISATIONS = [
    ("MOIA-ATS", "Anti-Trafficking Secretariat (Ministry of Internal Affairs)", "secretariat", True),
    ("MOIA", "Ministry of Internal Affairs", "ministry", True),
    ("KP-THBS", "Kosovo Police, Trafficking in Human Beings Section", "police", True),
    ("PVPT", "Center for the Protection of Victims and Prevention of Trafficking", "shelter_operator", True),
    ("HAH", "Hope and Homes", "shelter_operator", True),
    ("ICMPD", "International Centre for Migration Policy Development", "international", True),
]

# (code, name, operator, kind, capacity, region, lat, lon, sexes, ages, children, services, languages, security)
SHELTERS = [
    ("PVPT", "Center for the Protection of Victims and Prevention of Trafficking", "PVPT", "ngo",
     5,  # capacity from the cable
     "Prishtinë", 42.66, 21.17, ["female"], "all", 2,  # ILLUSTRATIVE from here on
     ["medical", "psychological", "legal", "interpretation"], ["sq", "sr", "en", "ro"], "high"),
    ("HAH", "Hope and Homes", "HAH", "ngo",
     8,  # ILLUSTRATIVE: the cable gives no capacity
     "Prizren", 42.21, 20.74, ["female"], "minors", 4,
     ["medical", "psychological", "education", "childcare"], ["sq", "sr", "en"], "standard"),
    ("ISF", "Interim Security Facility", "MOIA", "interim",
     6,  # ILLUSTRATIVE: the cable gives no capacity
     "Mitrovicë", 42.89, 20.87, ["female", "male"], "adults", 0,
     ["medical", "legal", "interpretation"], ["sq", "sr", "en", "ru"], "high"),
]

USERS = [
    ("admin", "admin", "MOIA", [], "creates shelters, organisations and users"),
    ("secretariat", "secretariat", "MOIA-ATS", [], "sees every shelter, case and request"),
    ("manager", "shelter_manager", "PVPT", ["PVPT"], "runs the PVPT board"),
    ("police", "police", "KP-THBS", [], "identifies victims, requests placements"),
    ("partner", "partner", "ICMPD", [], "sees aggregates only"),
]
DEMO_PASSWORD = "{}-demo-password"  # demo only: printed by `flask demo load`

# Where within the organisations the victims were identified, and how: (unit, method, a year before, last 12 months).
# ILLUSTRATIVE, chosen so that the airport's border police explain most of the cable's fall from 32 to 24.
IDENTIFYING_UNITS = [
    ("Border police, Prishtina airport", "proactive_operation", 11, 2),
    ("Trafficking in Human Beings Section", "proactive_operation", 9, 9),
    ("Immigration office", "referral", 5, 4),
    ("NGO referral", "referral", 5, 7),
    ("Self-referral", "self_report", 2, 2),
]

# What other domains add to the demo (shelters imports none of them): called at the end of `load` with the
# session, `now` and the demo's users and shelters by name; and, before `reset` deletes cases and shelters,
# what deletes the records they add.
EXTENSIONS: list[Callable[[Session, datetime, dict[str, User], dict[str, Shelter]], None]] = []
RESETTERS: list[Callable[[Session], None]] = []

NATIONALITIES = ["MD", "AL", "RS", "UA", "BG", "RO", "XK", "XK", "XK"]
LANGUAGE_OF = {"MD": ["ro", "ru"], "AL": ["sq"], "RS": ["sr"], "UA": ["uk", "ru"], "BG": ["bg"], "RO": ["ro"],
               "XK": ["sq"]}
REGIONS = ["Prishtinë", "Prizren", "Pejë", "Mitrovicë", "Gjilan", "Ferizaj", "Gjakovë"]


def is_empty(session: Session) -> bool:
    return session.scalar(select(Shelter.id).limit(1)) is None and session.scalar(select(User.id).limit(1)) is None


def foreign_records(session: Session) -> list[str]:
    """What the database holds besides the demo's own users, organisations and shelters ("user alice",
    "shelter KPZ", ...): empty for a database that holds nothing but the demo."""
    demo_users = {(username, role) for username, role, *_ in USERS}
    demo_organisations = {(code, name) for code, name, *_ in ORGANISATIONS}
    demo_shelters = {(code, name) for code, name, *_ in SHELTERS}
    return [
        *(f"user {username}" for username, role in session.execute(select(User.username, User.role))
          if (username, role) not in demo_users),
        *(f"organisation {code}" for code, name in session.execute(select(Organisation.code, Organisation.name))
          if (code, name) not in demo_organisations),
        *(f"shelter {code}" for code, name in session.execute(select(Shelter.code, Shelter.name))
          if (code, name) not in demo_shelters),
    ]


def reset(session: Session) -> None:
    """Delete everything the demo writes, the audit log included (demo databases only).

    Raises Conflict, changing nothing, when the database holds any user, organisation or shelter
    that is not the demo's: a real deployment's data, and its audit log, are never purged.
    """
    foreign = foreign_records(session)
    if foreign:
        listed = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise Conflict(f"the database holds data that is not the demo's ({listed}); "
                       "demo load --reset deletes demo databases only, and nothing was changed")
    for resetter in RESETTERS:
        resetter(session)
    for model in (Headcount, Reservation, Stay, CapacityChange, Case):
        session.execute(delete(model))
    session.execute(db.metadata.tables["shelter_managers"].delete())
    for model in (ApiToken, RecoveryCode, UserSession, User, Shelter, Organisation):
        session.execute(delete(model))
    audit.purge_for_demo(session)  # the log refuses DELETE; the guard is lifted for a demo reset only
    session.flush()


def load(session: Session, now: datetime, seed: int = 2009) -> list[DemoLogin]:
    """Fill an empty database with the cable's picture; returns the demo logins."""
    rng = random.Random(seed)
    today = now.date()
    founded = now - timedelta(days=3 * 365)  # ILLUSTRATIVE: every shelter open for three years

    for code, name, kind, mou in ORGANISATIONS:
        accounts.create_organisation(session, None, founded, code=code, name=name, kind=kind, mou_in_force=mou,
                                     mou_since=founded.date() if mou else None)
    shelters: dict[str, Shelter] = {}
    for (code, name, operator, kind, capacity, region, lat, lon, sexes, ages, children, offered, languages,
         security) in SHELTERS:
        shelters[code] = services.create_shelter(session, None, founded, code, {
            "name": name, "operator": operator, "kind": kind, "capacity": capacity, "region": region,
            "lat": lat, "lon": lon, "address": f"(illustrative) {name}, {region}",
            "telephone": f"+383 00 000 {len(shelters) + 1:03d}",  # ILLUSTRATIVE: no such number
            "sexes": sexes, "ages": ages,
            "children_capacity": children, "services": offered, "languages": languages, "security": security,
        })
    logins = []
    users: dict[str, User] = {}
    for username, role, org, managed, note in USERS:
        password = DEMO_PASSWORD.format(username)
        users[username] = accounts.create_user(
            session, None, founded, username=username, password=password, role=role, organisation_code=org,
            shelters=[shelters[c] for c in managed])
        logins.append(DemoLogin(username, role, password, note))

    def new_case(identified_on, **extra) -> Case:  # noqa: ANN001
        nationality = rng.choice(NATIONALITIES)
        values = {
            "sex": "female" if rng.random() < 0.85 else "male",
            "age": rng.randint(18, 34) if rng.random() < 0.8 else rng.randint(14, 17),
            "nationality": nationality, "languages": LANGUAGE_OF[nationality],
            "exploitation": [rng.choice(["sexual", "sexual", "labour", "begging"])],
            "needs": rng.sample(["medical", "psychological", "legal"], k=rng.randint(0, 2)),
            "risk": rng.choice(["low", "medium", "medium", "high"]),
            "trafficker_regions": [rng.choice(REGIONS)], "region": rng.choice(REGIONS),
            "identified_on": identified_on,
        } | extra
        return services.create_case(session, users["police"], datetime.combine(today, time(12), now.tzinfo), values)

    # 32 identified in the 12 months that ended a year ago, 24 in the last 12 months.
    older = [new_case(today - timedelta(days=365 + 1 + rng.randrange(364))) for _ in range(32)]
    recent_days = sorted((rng.randrange(1, 365) for _ in range(24)), reverse=True)
    recent = [new_case(today - timedelta(days=d)) for d in recent_days]

    for cases, column in ((older, 2), (recent, 3)):
        units = [(unit, method) for unit, method, *counts in IDENTIFYING_UNITS for _ in range(counts[column - 2])]
        for case, (unit, method) in zip(cases, units, strict=True):
            case.identifying_unit, case.identification_method = unit, method

    # PVPT: 4 residents of 5 beds, admitted 40-200 days ago (adults, no accompanying children).
    for case in sorted(recent, key=lambda c: c.identified_on)[:4]:
        case.children = 0
        case.birth_year = min(case.birth_year, case.identified_on.year - 18)
        admitted = datetime.combine(case.identified_on + timedelta(days=2), time(15), now.tzinfo)
        admitted = min(admitted, now - timedelta(days=40))
        services.admit_case(session, users["manager"], now, shelters["PVPT"], case, admitted)

    # HAH: two minors long ago; the last left 143 days ago. ISF: never used.
    for case, (admit_days, stay_days) in zip(older[:2], [(400, 60), (300, 157)], strict=True):
        case.children = 0
        case.birth_year = case.identified_on.year - 16
        # Never before the victim was identified (the records refuse it).
        admitted = max(now - timedelta(days=admit_days), datetime.combine(case.identified_on, time(15), now.tzinfo))
        services.admit_case(session, users["secretariat"], admitted, shelters["HAH"], case, admitted)
        stay = services.open_stay(session, case)
        services.discharge_stay(session, users["secretariat"], now, stay, "reintegrated",
                                discharged_at=admitted + timedelta(days=stay_days))

    # Most older cases went home; a few declined shelter (the reasons the secretariat needs).
    for case in older[2:]:
        case.status = "declined_shelter" if rng.random() < 0.5 else "discharged"
        if case.status == "discharged":
            case.resolution = rng.choice(["repatriated", "reintegrated"])
    for case in recent[4:]:
        case.status = rng.choice(["declined_shelter", "declined_shelter", "awaiting_placement", "discharged"])

    # PVPT confirmed this morning; the empty shelters stopped confirming (ILLUSTRATIVE).
    services.confirm_headcount(session, users["manager"], now - timedelta(hours=3), shelters["PVPT"], 4)
    services.confirm_headcount(session, None, now - timedelta(days=3, hours=2), shelters["ISF"], 0)
    services.confirm_headcount(session, None, now - timedelta(days=19), shelters["HAH"], 0)
    session.flush()
    for extend in EXTENSIONS:
        extend(session, now, users, shelters)
    session.flush()
    return logins

"""The shelters invariants of `flask check`: a consistent state passes, and each invariant, broken
alone with SQL that goes around the services, is reported alone.

Each way of breaking one is a function registered with `@breaks(code, says)`; one test builds the
consistent state once and tries them all, each in its own transaction rolled back afterwards (both
databases roll back DDL too, so a dropped guard comes back), and names every one that was not reported
exactly as expected. One state per backend instead of one per invariant keeps the suite fast."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, text, update

from accounts import audit
from extensions import db
from shelters import services
from shelters.checks import shelter_problems
from shelters.models import CapacityChange, Case, Reservation, Shelter, Stay


@dataclass
class World:
    roomy: Shelter       # capacity 4: one open stay of a mother and child, one live hold
    busy: Shelter        # capacity 3: one discharged and one open stay, a confirmed headcount
    shrunk: Shelter      # capacity lowered from 2 to 1 under two residents: an accepted overflow
    open_stay: Stay      # in busy
    closed_stay: Stay    # in busy
    released: Reservation
    waiting: Case        # identified, no stay


@pytest.fixture
def world(make, now) -> World:
    t0 = now - timedelta(hours=3)
    s = db.session

    def at(minutes: int) -> datetime:
        return t0 + timedelta(minutes=minutes)

    roomy = make.shelter("ROOMY", capacity=4, created_at=at(0))
    busy = make.shelter("BUSY", capacity=3, created_at=at(0))
    shrunk = make.shelter("SHRUNK", capacity=2, created_at=at(0))
    cases = [make.case(identified_on=t0.date()) for _ in range(5)]
    mother = make.case(children=1, identified_on=t0.date())
    waiting = make.case(identified_on=t0.date())
    closed = services.admit_case(s, None, at(10), busy, cases[0])
    services.discharge_stay(s, None, at(20), closed, "reintegrated")
    open_stay = services.admit_case(s, None, at(30), busy, cases[1])
    services.admit_case(s, None, at(40), roomy, mother)
    services.hold_beds(s, None, at(50), roomy, 1, now + timedelta(hours=1))
    services.hold_beds(s, None, at(51), busy, 1, at(55))  # ran out, never released: not counted
    released = services.hold_beds(s, None, at(52), busy, 1, now + timedelta(hours=1))
    services.release_hold(s, at(53), released, "cancelled")
    services.confirm_headcount(s, None, at(60), busy, 1)
    services.confirm_headcount(s, None, at(61), busy, 5)  # a mismatch confirms nothing
    services.admit_case(s, None, at(10), shrunk, cases[2])
    services.admit_case(s, None, at(11), shrunk, cases[3])
    services.update_shelter(s, None, at(70), shrunk, shrunk.version, {"capacity": 1}, accept_overflow=True)
    s.commit()
    return World(roomy, busy, shrunk, open_stay, closed, released, waiting)


Break = Callable[["World", datetime, str], None]
BREAKS: list[tuple[str, str, str, Break]] = []  # (name, the one code expected, text it must say, how)


def breaks(code: str, says: str = "") -> Callable[[Break], Break]:
    def register(how: Break) -> Break:
        BREAKS.append((how.__name__, code, says, how))
        return how
    return register


def raw_stay(case: Case, shelter: Shelter, beds: int, at: datetime) -> int:
    """A stay inserted past the services, with its audit event, so only the invariant under test breaks."""
    stay_id = db.session.execute(insert(Stay).values(case_id=case.id, shelter_id=shelter.id, beds=beds,
                                                     admitted_at=at).returning(Stay.id)).scalar_one()
    db.session.execute(update(Case).where(Case.id == case.id).values(status="placed"))
    audit.record(db.session, actor=None, action="stay.admit", object_type="case", object_id=case.code, now=at,
                 detail={"shelter": shelter.code, "stay": stay_id, "beds": beds})
    return stay_id


@breaks("two_open_stays", "has 2 open stays")
def a_second_open_stay(world: World, now: datetime, backend: str) -> None:
    db.session.execute(text("DROP INDEX uq_stays_one_open_per_case"))
    raw_stay(world.open_stay.case, world.roomy, 1, now)


@breaks("discharge_before_admission", "before its admission")
def a_discharge_before_the_admission(world: World, now: datetime, backend: str) -> None:
    db.session.execute(text("PRAGMA ignore_check_constraints = ON" if backend == "sqlite"
                            else "ALTER TABLE stays DROP CONSTRAINT ck_stays_discharge_after_admission"))
    db.session.execute(update(Stay).where(Stay.id == world.closed_stay.id)
                       .values(discharged_at=world.closed_stay.admitted_at - timedelta(days=1)))


@breaks("admission_before_identification", "its case was identified on")
def an_admission_before_identification(world: World, now: datetime, backend: str) -> None:
    db.session.execute(update(Case).where(Case.id == world.open_stay.case_id)
                       .values(identified_on=(now + timedelta(days=2)).date()))


@breaks("admission_before_opening", "its shelter opened on")
def an_admission_before_the_shelter_opened(world: World, now: datetime, backend: str) -> None:
    db.session.execute(update(Shelter).where(Shelter.id == world.roomy.id)
                       .values(opened_on=(now + timedelta(days=2)).date()))


@breaks("half_discharged", "a discharge time but no reason")
def a_discharge_without_its_reason(world: World, now: datetime, backend: str) -> None:
    db.session.execute(update(Stay).where(Stay.id == world.closed_stay.id).values(discharge_reason=None))


@breaks("stay_beds", "takes 1 beds, its case needs 2")
def a_stay_taking_the_wrong_number_of_beds(world: World, now: datetime, backend: str) -> None:
    db.session.execute(update(Case).where(Case.id == world.open_stay.case_id).values(children=1))


@breaks("case_status", "has an open stay but is discharged")
def a_resident_not_marked_placed(world: World, now: datetime, backend: str) -> None:
    db.session.execute(update(Case).where(Case.id == world.open_stay.case_id).values(status="discharged"))


@breaks("case_status", "is placed but has no open stay")
def a_placed_case_without_a_stay(world: World, now: datetime, backend: str) -> None:
    db.session.execute(update(Case).where(Case.id == world.waiting.id).values(status="placed"))


@breaks("half_released", "a release time but no reason")
def a_hold_released_without_a_reason(world: World, now: datetime, backend: str) -> None:
    db.session.execute(update(Reservation).where(Reservation.id == world.released.id).values(release_reason=None))


@breaks("hold_times", "not after it was taken")
def a_hold_ending_before_it_starts(world: World, now: datetime, backend: str) -> None:
    db.session.execute(update(Reservation).where(Reservation.id == world.released.id)
                       .values(held_until=Reservation.created_at))


@breaks("overbooked", "shelter BUSY has 4 beds occupied and 0 held against 3 usable")
def a_double_booked_bed(world: World, now: datetime, backend: str) -> None:
    # BUSY: 1 of 3 beds taken; a family of three admitted past the lock takes 4 of 3.
    raw_stay(world.waiting, world.busy, 1, now)
    db.session.execute(update(Case).where(Case.id == world.waiting.id).values(children=2))
    db.session.execute(update(Stay).where(Stay.case_id == world.waiting.id).values(beds=3))


@breaks("overbooked", "taken after its capacity last changed")
def a_bed_taken_in_an_overflowing_shelter(world: World, now: datetime, backend: str) -> None:
    raw_stay(world.waiting, world.shrunk, 1, now)


@breaks("overbooked", "no accepted overflow explains it")
def an_overflow_nobody_accepted(world: World, now: datetime, backend: str) -> None:
    # Capacity lowered under the residents behind the services' back: no audit event reports the overflow.
    db.session.execute(update(Shelter).where(Shelter.id == world.busy.id).values(capacity=0))
    db.session.execute(insert(CapacityChange).values(shelter_id=world.busy.id, capacity=0, out_of_service=0,
                                                     effective_at=now - timedelta(minutes=1)))


@breaks("capacity_history", "its history last says 4")
def capacity_not_in_its_history(world: World, now: datetime, backend: str) -> None:
    db.session.execute(update(Shelter).where(Shelter.id == world.roomy.id).values(capacity=6))


@breaks("headcount_stamp", "its headcounts say never")
def a_headcount_stamp_without_its_headcount(world: World, now: datetime, backend: str) -> None:
    db.session.execute(update(Shelter).where(Shelter.id == world.roomy.id).values(last_headcount_at=now))


@breaks("shelter_version", "has version 0")
def a_version_counter_below_one(world: World, now: datetime, backend: str) -> None:
    db.session.execute(update(Shelter).where(Shelter.id == world.roomy.id).values(version=0))


@breaks("unaudited", "has no stay.admit audit event")
def an_admission_without_its_audit_event(world: World, now: datetime, backend: str) -> None:
    db.session.execute(insert(Stay).values(case_id=world.waiting.id, shelter_id=world.roomy.id, beds=1,
                                           admitted_at=now))
    db.session.execute(update(Case).where(Case.id == world.waiting.id).values(status="placed"))


@breaks("unaudited", "is discharged but has no stay.discharge audit event")
def a_discharge_without_its_audit_event(world: World, now: datetime, backend: str) -> None:
    db.session.execute(update(Stay).where(Stay.id == world.open_stay.id)
                       .values(discharged_at=now, discharge_reason="other"))
    db.session.execute(update(Case).where(Case.id == world.open_stay.case_id).values(status="discharged"))


@breaks("unaudited", "has no shelter.hold audit event")
def a_hold_without_its_audit_event(world: World, now: datetime, backend: str) -> None:
    db.session.execute(insert(Reservation).values(shelter_id=world.roomy.id, beds=1, created_at=now,
                                                  held_until=now + timedelta(minutes=5)))


@breaks("unaudited", "case VOT-26-RAWRAW has no case.create audit event")
def a_case_without_its_audit_event(world: World, now: datetime, backend: str) -> None:
    db.session.execute(insert(Case).values(code="VOT-26-RAWRAW", sex="female", birth_year=2000, nationality="MD",
                                           identified_on=now.date(), status="identified"))


def test_each_invariant_broken_alone_is_reported_alone(world, now, backend):
    assert shelter_problems(db.session, now) == []
    wrong = []
    for name, code, says, how in BREAKS:
        db.session.commit()
        try:
            how(world, now, backend)
            problems = shelter_problems(db.session, now)
        finally:
            db.session.rollback()
            if backend == "sqlite":
                db.session.execute(text("PRAGMA ignore_check_constraints = OFF"))
                db.session.rollback()
        if [p.split(":", 1)[0] for p in problems] != [code] or says not in problems[0]:
            wrong.append(f"{name}: expected one {code} saying {says!r}, got {problems}")
    assert wrong == []
    assert len(BREAKS) == 20
    assert shelter_problems(db.session, now) == []  # every break was rolled back


def test_the_demo_passes_flask_check(app, runner):
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    result = runner.invoke(args=["check"])
    assert result.exit_code == 0, result.output
    assert "all invariants hold" in result.output

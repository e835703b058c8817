"""The placement invariants of `flask check`: requests in every state pass, and each invariant,
broken alone with SQL that goes around the services, is reported alone.

As in tests/shelters/test_checks.py: each way of breaking one is registered with `@breaks(code)` and
returns the text the problem must say; one test builds the requests once and tries every break in its
own rolled-back transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, update

from accounts import audit
from errors import Conflict
from extensions import db
from placement import services
from placement.checks import placement_problems
from placement.models import PlacementEvent, PlacementRequest
from shelters import services as shelter_services
from shelters.checks import shelter_problems
from shelters.models import Reservation, Stay


@dataclass
class Requests:
    open: PlacementRequest
    reserved: PlacementRequest
    accepted: PlacementRequest
    admitted: PlacementRequest
    cancelled: PlacementRequest
    rejected: PlacementRequest
    expired: PlacementRequest
    transfer: PlacementRequest


@pytest.fixture
def requests(make, now, settings) -> Requests:
    s = db.session
    t0 = now - timedelta(hours=5)
    near = make.shelter("NEAR", capacity=8, created_at=t0)
    far = make.shelter("FAR", capacity=4, created_at=t0)
    officer = make.user("police")
    manager = make.manager(near, far)

    def request(at, *, transfer=False, case=None):
        case = case or make.case(officer, identified_on=t0.date())
        return services.create_request(s, officer, at, case, settings, transfer=transfer)

    opened = request(t0)
    expired = request(t0)
    services.reserve(s, officer, t0, expired, "NEAR", settings)
    services.expire_holds(s, t0 + settings.hold + timedelta(minutes=1))
    recent = now - timedelta(minutes=10)
    reserved = request(recent)
    services.reserve(s, officer, recent, reserved, "NEAR", settings)
    accepted = request(recent)
    services.reserve(s, officer, recent, accepted, "NEAR", settings)
    services.accept(s, manager, recent, accepted, settings)
    admitted = request(recent)
    services.reserve(s, officer, recent, admitted, "NEAR", settings)
    services.accept(s, manager, recent, admitted, settings)
    services.admit(s, manager, recent, admitted)
    cancelled = request(recent)
    services.reserve(s, officer, recent, cancelled, "NEAR", settings)
    services.cancel(s, officer, recent, cancelled)
    rejected = request(recent)
    services.reserve(s, officer, recent, rejected, "FAR", settings)
    services.reject(s, manager, recent, rejected, "no room for her needs")
    resident = make.case(officer, identified_on=t0.date())
    shelter_services.admit_case(s, None, t0, far, resident)
    transfer = request(recent, transfer=True, case=resident)
    services.reserve(s, officer, recent, transfer, "NEAR", settings)
    services.accept(s, manager, recent, transfer, settings)
    services.admit(s, manager, recent, transfer)
    s.commit()
    return Requests(opened, reserved, accepted, admitted, cancelled, rejected, expired, transfer)


Break = Callable[["Requests", datetime], str]
BREAKS: list[tuple[str, str, Break]] = []  # (name, the one code expected, how: returns the text it must say)


def breaks(code: str) -> Callable[[Break], Break]:
    def register(how: Break) -> Break:
        BREAKS.append((how.__name__, code, how))
        return how
    return register


@breaks("request_events")
def a_timeline_that_skips_a_state(requests: Requests, now: datetime) -> str:
    cancelled = db.session.scalars(
        PlacementEvent.__table__.select().with_only_columns(PlacementEvent.id)
        .where(PlacementEvent.request_id == requests.cancelled.id, PlacementEvent.to_status == "cancelled")).one()
    db.session.execute(update(PlacementEvent).where(PlacementEvent.id == cancelled).values(from_status="open"))
    return f"request {requests.cancelled.id} event {cancelled} leaves open"


@breaks("request_events")
def a_status_its_events_never_reached(requests: Requests, now: datetime) -> str:
    db.session.execute(update(PlacementRequest).where(PlacementRequest.id == requests.cancelled.id)
                       .values(status="declined"))
    return "its last event says cancelled"


@breaks("request_events")
def an_illegal_transition(requests: Requests, now: datetime) -> str:
    # open -> reserved -> cancelled rewritten as open -> expired -> cancelled: a hold that expired unheld.
    events = PlacementEvent.request_id == requests.cancelled.id
    db.session.execute(update(PlacementEvent).where(events, PlacementEvent.to_status == "reserved")
                       .values(to_status="expired"))
    db.session.execute(update(PlacementEvent).where(events, PlacementEvent.to_status == "cancelled")
                       .values(from_status="expired"))
    return "open -> expired, which is no legal transition"


@breaks("request_hold")
def a_reserved_request_whose_hold_was_released(requests: Requests, now: datetime) -> str:
    db.session.execute(update(Reservation).where(Reservation.id == requests.reserved.reservation_id)
                       .values(released_at=now, release_reason="cancelled"))
    return f"request {requests.reserved.id} is reserved but its hold"


@breaks("request_hold")
def a_hold_of_the_wrong_size(requests: Requests, now: datetime) -> str:
    db.session.execute(update(Reservation).where(Reservation.id == requests.accepted.reservation_id)
                       .values(beds=2))
    return f"request {requests.accepted.id} holds 2 beds, its case needs 1"


@breaks("orphan_hold")
def a_hold_no_live_request_holds(requests: Requests, now: datetime) -> str:
    # The cancelled request's hold, unreleased again: a bed held for nobody.
    db.session.execute(update(Reservation).where(Reservation.id == requests.cancelled.reservation_id)
                       .values(released_at=None, release_reason=None))
    return f"hold {requests.cancelled.reservation_id} "


@breaks("orphan_hold")
def a_hold_taken_outside_any_request(requests: Requests, now: datetime) -> str:
    shelter_services.hold_beds(db.session, None, now, requests.reserved.shelter, 1, now + timedelta(hours=1))
    return "no reserved or accepted request holds it"


@breaks("housed_hold")
def a_bed_held_for_a_case_housed_elsewhere(requests: Requests, now: datetime) -> str:
    # Written past the services, which cancel a request whose case is admitted directly.
    db.session.execute(insert(Stay).values(case_id=requests.accepted.case_id, shelter_id=requests.rejected.shelter_id,
                                           beds=1, admitted_at=now))
    return f"request {requests.accepted.id} holds a bed for a case already in a shelter"


@breaks("request_stay")
def an_admitted_request_without_its_stay(requests: Requests, now: datetime) -> str:
    db.session.execute(update(PlacementRequest).where(PlacementRequest.id == requests.admitted.id)
                       .values(stay_id=None))
    return f"request {requests.admitted.id} is admitted but names no stay"


@breaks("request_stay")
def an_admission_that_did_not_consume_its_hold(requests: Requests, now: datetime) -> str:
    db.session.execute(update(Reservation).where(Reservation.id == requests.admitted.reservation_id)
                       .values(release_reason="cancelled"))
    return "not consumed by the admission"


@breaks("request_stay")
def a_transfer_that_left_the_old_stay_open(requests: Requests, now: datetime) -> str:
    db.session.execute(update(PlacementRequest).where(PlacementRequest.id == requests.transfer.id)
                       .values(transfer_from_stay_id=requests.admitted.stay_id))
    return f"transfer request {requests.transfer.id} is admitted but the old stay"


@breaks("unaudited")
def a_transition_without_its_audit_event(requests: Requests, now: datetime) -> str:
    audit.record(db.session, actor=None, action="placement.cancelled", object_type="placement",
                 object_id=requests.open.id, now=now)
    return f"request {requests.open.id} has 1 timeline events but 2 audit events"


def test_each_invariant_broken_alone_is_reported_alone(requests, now):
    assert {r.status for r in vars(requests).values()} == {
        "open", "reserved", "accepted", "admitted", "cancelled", "rejected", "expired"}
    assert placement_problems(db.session, now) == []
    assert shelter_problems(db.session, now) == []
    wrong = []
    for name, code, how in BREAKS:
        db.session.commit()
        try:
            says = how(requests, now)
            problems = placement_problems(db.session, now)
        finally:
            db.session.rollback()
        if [p.split(":", 1)[0] for p in problems] != [code] or says not in problems[0]:
            wrong.append(f"{name}: expected one {code} saying {says!r}, got {problems}")
    assert wrong == []
    assert len(BREAKS) == 12
    assert placement_problems(db.session, now) == []  # every break was rolled back


def test_a_direct_admission_closes_the_open_request(make, now, settings):
    """Found by `flask check`: a case admitted directly while its request was open, then declined, was
    marked declined_shelter though it had a bed. The admission now cancels the request, so it cannot be
    declined afterwards, and the case stays placed."""
    shelter = make.shelter("DIRECT", capacity=2)
    officer = make.user("police")
    case = make.case(officer)
    request = services.create_request(db.session, officer, now, case, settings)
    shelter_services.admit_case(db.session, None, now, shelter, case)
    with pytest.raises(Conflict):
        services.decline(db.session, officer, now, request, "stays_with_family_or_friends")
    db.session.commit()
    assert (request.status, case.status) == ("cancelled", "placed")
    assert shelter_problems(db.session, now) == []
    assert placement_problems(db.session, now) == []

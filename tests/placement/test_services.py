"""Placement requests: the state machine, holds, transfers, the batch, races for the last bed."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from errors import AlreadyDone, Conflict, Invalid, ShelterFull
from extensions import db
from placement import services
from placement.models import PlacementRequest
from shelters import figures
from shelters.models import Reservation, Stay


@pytest.fixture
def officer(make):
    return make.user("police")


def test_request_ranks_and_explains(make, officer, now, settings):
    make.shelter("OPEN1", capacity=3, services=["psychological", "medical"])
    make.shelter("NOPSY", capacity=3, services=["medical"])
    make.stay(make.shelter("FULL1", capacity=1))
    case = make.case(officer, needs=["psychological"])
    request = services.create_request(db.session, officer, now, case, settings)
    assert [s["shelter"] for s in request.suggestions] == ["OPEN1"]
    reasons = {e["shelter"]: e["reasons"] for e in request.excluded}
    assert reasons["NOPSY"] == ["no psychological care"]
    assert reasons["FULL1"] == ["no free bed: 1 of 1 taken"]
    assert case.status == "awaiting_placement"


def test_one_live_request_per_case(make, officer, now, settings):
    make.shelter()
    case = make.case(officer)
    services.create_request(db.session, officer, now, case, settings)
    with pytest.raises(AlreadyDone):
        services.create_request(db.session, officer, now, case, settings)


def test_full_flow_reserve_accept_admit(make, officer, now, settings):
    shelter = make.shelter(capacity=2)
    manager = make.manager(shelter)
    request = services.create_request(db.session, officer, now, make.case(officer), settings)
    services.reserve(db.session, officer, now, request, shelter.code, settings)
    assert figures.occupancy(db.session, now)[shelter.id].reserved == 1
    services.accept(db.session, manager, now, request, settings)
    stay = services.admit(db.session, manager, now, request)
    db.session.commit()
    occ = figures.occupancy(db.session, now)[shelter.id]
    assert (occ.occupied, occ.reserved) == (1, 0)
    assert request.status == "admitted" and request.stay_id == stay.id
    assert [e.to_status for e in request.events] == ["open", "reserved", "accepted", "admitted"]
    assert all(e.at == now for e in request.events)


@pytest.mark.parametrize("action", ["accept", "admit"])
def test_illegal_transitions_are_409(make, officer, now, settings, action):
    shelter = make.shelter()
    manager = make.manager(shelter)
    request = services.create_request(db.session, officer, now, make.case(officer), settings)
    with pytest.raises(Conflict) as err:
        if action == "accept":
            services.accept(db.session, manager, now, request, settings)
        else:
            services.admit(db.session, manager, now, request)
    assert err.value.code == "illegal_transition"


def test_double_accept_is_409(make, officer, now, settings):
    shelter = make.shelter()
    manager = make.manager(shelter)
    request = services.create_request(db.session, officer, now, make.case(officer), settings)
    services.reserve(db.session, officer, now, request, shelter.code, settings)
    services.accept(db.session, manager, now, request, settings)
    with pytest.raises(Conflict):
        services.accept(db.session, manager, now, request, settings)


def test_rejection_frees_the_bed_and_allows_another_reservation(make, officer, now, settings):
    first, second = make.shelter(capacity=1), make.shelter(capacity=1)
    request = services.create_request(db.session, officer, now, make.case(officer), settings)
    services.reserve(db.session, officer, now, request, first.code, settings)
    with pytest.raises(Invalid):
        services.reject(db.session, make.manager(first), now, request, "  ")
    services.reject(db.session, make.manager(first), now, request, "no female staff on duty tonight")
    assert figures.occupancy(db.session, now).get(first.id, figures.Occupancy()).reserved == 0
    services.reserve(db.session, officer, now, request, second.code, settings)
    assert request.status == "reserved" and request.shelter_id == second.id


def test_reservation_on_a_full_or_ineligible_shelter(make, officer, now, settings):
    full = make.shelter(capacity=1)
    make.stay(full)
    men_only = make.shelter(sexes=["male"])
    request = services.create_request(db.session, officer, now, make.case(officer), settings)
    with pytest.raises(ShelterFull):
        services.reserve(db.session, officer, now, request, full.code, settings)
    with pytest.raises(Conflict) as err:
        services.reserve(db.session, officer, now, request, men_only.code, settings)
    assert err.value.code == "not_eligible"
    assert request.status == "open"


def test_holds_expire_and_free_their_beds(make, officer, now, settings):
    shelter = make.shelter(capacity=1)
    request = services.create_request(db.session, officer, now, make.case(officer), settings)
    services.reserve(db.session, officer, now, request, shelter.code, settings)
    later = now + settings.hold + timedelta(seconds=1)
    assert services.expire_holds(db.session, now) == 0
    assert services.expire_holds(db.session, later) == 1
    assert services.expire_holds(db.session, later) == 0
    assert request.status == "expired"
    assert figures.occupancy(db.session, later).get(shelter.id, figures.Occupancy()).reserved == 0


def test_decline_records_the_reason(make, officer, now, settings):
    make.shelter()
    request = services.create_request(db.session, officer, now, make.case(officer), settings)
    with pytest.raises(Invalid):
        services.decline(db.session, officer, now, request, "other")
    services.decline(db.session, officer, now, request, "fear_of_traffickers")
    assert (request.status, request.reason, request.case.status) == ("declined", "fear_of_traffickers",
                                                                      "declined_shelter")
    with pytest.raises(Conflict):
        services.cancel(db.session, officer, now, request)


def test_transfer_moves_a_resident_in_one_transaction(make, officer, now, settings):
    old, new = make.shelter("OLD", capacity=2), make.shelter("NEW", capacity=2)
    case = make.case(officer)
    old_stay = make.stay(old, case)
    with pytest.raises(AlreadyDone):
        services.create_request(db.session, officer, now, case, settings)
    request = services.create_request(db.session, officer, now, case, settings, transfer=True)
    assert "OLD" not in [s["shelter"] for s in request.suggestions]
    services.reserve(db.session, officer, now, request, "NEW", settings)
    manager = make.manager(new)
    services.accept(db.session, manager, now, request, settings)
    new_stay = services.admit(db.session, manager, now, request)
    db.session.commit()
    assert old_stay.discharge_reason == "transferred" and new_stay.shelter_id == new.id
    assert db.session.scalar(select(func.count()).select_from(Stay).where(Stay.discharged_at.is_(None))) == 1


def test_batch_places_emergencies_first_under_capacity(make, officer, now, settings):
    shelter = make.shelter(capacity=1)
    routine = services.create_request(db.session, officer, now, make.case(officer), settings, urgency="routine")
    emergency = services.create_request(db.session, officer, now, make.case(officer), settings,
                                        urgency="emergency")
    outcome = services.run_batch(db.session, make.user("secretariat"), now, settings)
    assert outcome.reserved == {emergency.id: shelter.code}
    assert outcome.unplaced == [routine.id]
    assert outcome.result.optimal


def test_concurrent_reservations_for_the_last_bed(app, make, officer, now, settings):
    """Real threads and connections: eight officers reserve the last bed at once; one wins."""
    code = make.shelter(capacity=1).code
    request_ids = [services.create_request(db.session, officer, now, make.case(officer), settings).id
                   for _ in range(8)]
    db.session.commit()  # end this thread's transaction: on SQLite it holds the write lock
    outcomes: list[str] = []
    barrier = threading.Barrier(len(request_ids))

    def reserve(request_id: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                request = db.session.get(PlacementRequest, request_id)
                services.reserve(db.session, request.requested_by, now, request, code, settings)
                db.session.commit()
                outcomes.append("reserved")
            except ShelterFull:
                db.session.rollback()
                outcomes.append("409")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=reserve, args=(rid,)) for rid in request_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["409"] * 7 + ["reserved"]
    live = db.session.scalar(select(func.count()).select_from(Reservation).where(Reservation.released_at.is_(None)))
    assert live == 1


def test_a_direct_admission_cancels_the_request_and_frees_its_hold(make, officer, now, settings):
    held_at, admitted_at = make.shelter("HELD1", capacity=1), make.shelter("DIRECT", capacity=1)
    case = make.case(officer)
    request = services.create_request(db.session, officer, now, case, settings)
    services.reserve(db.session, officer, now, request, held_at.code, settings)
    db.session.commit()
    make.stay(admitted_at, case)  # the case walks in elsewhere, not through its request
    occupancy = figures.occupancy(db.session, now)
    assert held_at.id not in occupancy or occupancy[held_at.id].reserved == 0
    assert request.status == "cancelled" and request.reservation.release_reason == "cancelled"
    assert (request.events[-1].note, request.events[-1].shelter_code) == ("admitted directly", "DIRECT")
    assert case.status == "placed"

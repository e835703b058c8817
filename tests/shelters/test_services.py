"""The rules that keep shelter data whole, on every backend."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from errors import AlreadyDone, Conflict, Invalid, ShelterFull, ShelterNotOpen, StaleVersion
from extensions import db
from shelters import figures, services
from shelters.models import CapacityChange, Headcount, Reservation, Stay


def test_admission_takes_beds_and_places_the_case(make, now):
    shelter = make.shelter(capacity=3)
    case = make.case(children=1)
    stay = services.admit_case(db.session, None, now, shelter, case)
    db.session.commit()
    occ = figures.occupancy(db.session, now)[shelter.id]
    assert (stay.beds, occ.occupied, occ.residents) == (2, 2, 1)
    assert case.status == "placed"


def test_admission_in_the_future_is_refused(make, now):
    shelter, case = make.shelter(), make.case()
    with pytest.raises(Invalid) as err:
        services.admit_case(db.session, None, now, shelter, case, now + timedelta(minutes=5))
    assert err.value.fields == {"admitted_at": "in the future"}


def test_backdated_admission_is_allowed(make, now):
    days_ago = (now - timedelta(days=3)).date()
    shelter, case = make.shelter(opened_on=days_ago), make.case(identified_on=days_ago)
    stay = services.admit_case(db.session, None, now, shelter, case, now - timedelta(days=3))
    assert stay.admitted_at == now - timedelta(days=3)


def test_no_second_open_stay_for_a_case(make, now):
    first, second, case = make.shelter(), make.shelter(), make.case()
    make.stay(first, case)
    with pytest.raises(AlreadyDone):
        services.admit_case(db.session, None, now, second, case)


@pytest.mark.parametrize("status", ["closed", "suspended"])
def test_no_admission_into_a_shelter_that_is_not_open(make, now, status):
    shelter = make.shelter(status=status)
    with pytest.raises(ShelterNotOpen):
        services.admit_case(db.session, None, now, shelter, make.case())


def test_no_admission_into_a_full_shelter(make, now):
    shelter = make.shelter(capacity=2, out_of_service=1)
    make.stay(shelter)
    with pytest.raises(ShelterFull) as err:
        services.admit_case(db.session, None, now, shelter, make.case())
    assert "No free bed: 1 of 1 taken." in err.value.message


def test_accompanying_children_need_beds_too(make, now):
    shelter = make.shelter(capacity=2, children_capacity=2)
    with pytest.raises(ShelterFull) as err:
        services.admit_case(db.session, None, now, shelter, make.case(children=2))
    assert "2 free, 3 needed" in err.value.message


def test_held_beds_are_not_free_but_their_own_reservation_may_use_them(make, now):
    shelter = make.shelter(capacity=1)
    hold = Reservation(shelter_id=shelter.id, beds=1, created_at=now, held_until=now + timedelta(hours=2))
    db.session.add(hold)
    db.session.commit()
    with pytest.raises(ShelterFull):
        services.admit_case(db.session, None, now, shelter, make.case())
    db.session.rollback()
    stay = services.admit_case(db.session, None, now, shelter, make.case(), reservation=hold)
    assert stay.beds == 1 and hold.release_reason == "admitted"


def test_expired_holds_free_their_beds(make, now):
    shelter = make.shelter(capacity=1)
    db.session.add(Reservation(shelter_id=shelter.id, beds=1, created_at=now - timedelta(hours=3),
                               held_until=now - timedelta(hours=1)))
    db.session.commit()
    assert services.admit_case(db.session, None, now, shelter, make.case()).beds == 1


def test_discharge_needs_a_known_reason_and_a_note_for_other(make, now):
    stay = make.stay(make.shelter())
    with pytest.raises(Invalid) as err:
        services.discharge_stay(db.session, None, now, stay, "escaped")
    assert "reason" in err.value.fields
    with pytest.raises(Invalid) as err:
        services.discharge_stay(db.session, None, now, stay, "other")
    assert "note" in err.value.fields
    services.discharge_stay(db.session, None, now, stay, "other", "moved in with family abroad")
    assert stay.discharge_reason == "other" and stay.case.status == "discharged"


def test_discharge_twice_is_a_conflict(make, now):
    stay = make.stay(make.shelter())
    services.discharge_stay(db.session, None, now, stay, "repatriated")
    db.session.commit()
    with pytest.raises(AlreadyDone):
        services.discharge_stay(db.session, None, now, stay, "repatriated")


def test_discharge_before_admission_or_in_the_future_is_refused(make, now):
    stay = make.stay(make.shelter(opened_on=(now - timedelta(days=1)).date()), admitted_at=now - timedelta(days=1))
    with pytest.raises(Invalid):
        services.discharge_stay(db.session, None, now, stay, "reintegrated", discharged_at=now - timedelta(days=2))
    with pytest.raises(Invalid):
        services.discharge_stay(db.session, None, now, stay, "reintegrated", discharged_at=now + timedelta(hours=1))


def test_stale_edit_is_refused(make, now):
    shelter = make.shelter()
    read_version = shelter.version
    services.update_shelter(db.session, None, now, shelter, read_version, {"out_of_service": 1})
    db.session.commit()
    with pytest.raises(StaleVersion) as err:
        services.update_shelter(db.session, None, now, shelter, read_version, {"out_of_service": 2})
    assert err.value.details == {"current_version": read_version + 1}


def test_capacity_below_occupancy_needs_the_overflow_reported(make, now):
    shelter = make.shelter(capacity=3)
    make.stay(shelter), make.stay(shelter)
    with pytest.raises(Conflict) as err:
        services.update_shelter(db.session, None, now, shelter, shelter.version, {"out_of_service": 2})
    assert err.value.code == "capacity_below_occupancy"
    assert err.value.details == {"occupied": 2, "usable": 1, "overflow": 1}
    db.session.rollback()
    result = services.update_shelter(db.session, None, now, shelter, shelter.version, {"out_of_service": 2},
                                     accept_overflow=True)
    assert result.overflow == 1 and shelter.out_of_service == 2


def test_capacity_changes_are_kept_as_history(make, now):
    shelter = make.shelter(capacity=5)
    services.update_shelter(db.session, None, now, shelter, shelter.version, {"capacity": 7, "name": "Renamed"})
    services.update_shelter(db.session, None, now, shelter, shelter.version, {"name": "Renamed again"})
    rows = db.session.scalars(select(CapacityChange.capacity).where(CapacityChange.shelter_id == shelter.id)
                              .order_by(CapacityChange.id)).all()
    assert rows == [5, 7]


def test_out_of_service_cannot_exceed_capacity(make, now):
    shelter = make.shelter(capacity=3)
    with pytest.raises(Invalid):
        services.update_shelter(db.session, None, now, shelter, shelter.version, {"out_of_service": 4})


def test_headcount_that_disagrees_is_recorded_but_confirms_nothing(make, now):
    shelter = make.shelter()
    make.stay(shelter)
    version = shelter.version
    count = services.confirm_headcount(db.session, None, now, shelter, 3)
    db.session.commit()
    assert (count.reported, count.recorded, count.matches) == (3, 1, False)
    assert shelter.last_headcount_at is None
    assert db.session.scalar(select(func.count()).select_from(Headcount)) == 1
    services.confirm_headcount(db.session, None, now, shelter, 1)
    db.session.commit()
    assert shelter.last_headcount_at == now
    assert shelter.version == version, "a confirmation must not make an open edit form stale"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"age": 20, "birth_year": 2000}, "age"),
        ({}, "age"),
        ({"age": 200}, "age"),
        ({"age": 20, "nationality": "Moldova"}, "nationality"),
        ({"age": 20, "sex": "x"}, "sex"),
        ({"age": 20, "needs": ["spa"]}, "needs"),
        ({"age": 20, "children": -1}, "children"),
        ({"age": 20, "risk": "extreme"}, "risk"),
    ],
)
def test_case_profile_is_validated(app, now, values, field):
    base = {"sex": "female", "nationality": "MD"}
    with pytest.raises(Invalid) as err:
        services.create_case(db.session, None, now, base | values)
    assert field in err.value.fields


def test_case_identified_in_the_future_is_refused(app, now):
    with pytest.raises(Invalid) as err:
        services.create_case(db.session, None, now, {"sex": "male", "age": 30, "nationality": "AL",
                                                      "identified_on": (now + timedelta(days=1)).date()})
    assert "identified_on" in err.value.fields


def test_case_codes_are_pseudonymous_and_unique(make):
    codes = {make.case().code for _ in range(20)}
    assert len(codes) == 20
    assert all(code.startswith("VOT-") and len(code) == 13 for code in codes)


def test_concurrent_admissions_never_take_the_last_bed_twice(app, make, now):
    """Real threads, real connections: eight managers admit eight cases into one free bed."""
    shelter = make.shelter(capacity=1)
    shelter_id = shelter.id
    case_ids = [make.case().id for _ in range(8)]
    db.session.commit()  # end this thread's transaction: on SQLite it holds the write lock
    results: list[str] = []
    barrier = threading.Barrier(len(case_ids))

    def admit(case_id: int) -> None:
        with app.app_context():
            from shelters.models import Case, Shelter

            barrier.wait()
            try:
                services.admit_case(db.session, None, now, db.session.get(Shelter, shelter_id),
                                    db.session.get(Case, case_id))
                db.session.commit()
                results.append("admitted")
            except ShelterFull:
                db.session.rollback()
                results.append("full")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=admit, args=(cid,)) for cid in case_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == ["admitted"] + ["full"] * 7
    assert db.session.scalar(select(func.count()).select_from(Stay).where(Stay.shelter_id == shelter_id)) == 1

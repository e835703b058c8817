"""Placement requests: suggestions, reservations, the shelter's decision, admission, batch assignment.

Two layers, as everywhere in the engine: these functions gather candidates and
figures with queries; `placement.engine` and `placement.batch` decide on plain
values. Every transition is timestamped, attributed and audited; an illegal one
raises Conflict (409).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, exists, literal, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts import audit
from accounts.models import User
from errors import AlreadyDone, Conflict, Invalid, ShelterFull
from i18n import N_, lazy_pgettext
from i18n import lazy_gettext as _l
from placement import batch, engine
from placement.geography import region_centres
from placement.models import (
    ACTIVE,
    DECLINE_REASONS,
    HOLDING,
    REJECT_REASONS,
    WAITING,
    PlacementEvent,
    PlacementRequest,
    RequestStatus,
    Urgency,
)
from shelters import figures, retention
from shelters import services as shelter_services
from shelters.models import Case, CaseStatus, Reservation, Shelter, Stay

REJECT_REASON_MAX = 500
REJECT_NOTE_MAX = 1000


@dataclass(frozen=True)
class Settings:
    """What the engine and the holds need from configuration."""

    weights: engine.Weights
    hold: timedelta
    batch_time_limit_s: float = 10.0

    @classmethod
    def from_config(cls, config: Any) -> Settings:
        return cls(
            weights=engine.Weights(
                distance=config["SAFEHAVEN_WEIGHT_DISTANCE"],
                language=config["SAFEHAVEN_WEIGHT_LANGUAGE"],
                services=config["SAFEHAVEN_WEIGHT_SERVICES"],
                utilisation=config["SAFEHAVEN_WEIGHT_UTILISATION"],
                max_distance_km=float(config["SAFEHAVEN_MAX_DISTANCE_KM"]),
            ),
            hold=timedelta(minutes=config["SAFEHAVEN_RESERVATION_HOLD_MINUTES"]),
            batch_time_limit_s=float(config["SAFEHAVEN_BATCH_TIME_LIMIT_S"]),
        )


# --- gathering ---------------------------------------------------------------------------------------------


def candidates(session: Session, now: datetime, shelters: Sequence[Shelter] | None = None) -> list[engine.Candidate]:
    """Every shelter (or those given) as the engine sees it, with live figures."""
    if shelters is None:
        return list(candidate_table(session, now).candidates)
    return [
        engine.Candidate(
            code=v.shelter.code, name=v.shelter.name, status=v.shelter.status, region=v.shelter.region,
            lat=v.shelter.lat, lon=v.shelter.lon, sexes=frozenset(v.shelter.sexes), ages=v.shelter.ages,
            children_capacity=v.shelter.children_capacity, services=frozenset(v.shelter.services),
            languages=frozenset(v.shelter.languages), security=v.shelter.security, usable=v.shelter.usable,
            occupied=v.occupancy.occupied, held=v.occupancy.reserved, utilisation=v.utilisation_30d or 0.0,
        )
        for v in shelter_services.shelter_views(session, now, shelters)
    ]


_CHUNK_ROWS = 500


def candidate_table(session: Session, now: datetime) -> engine.CandidateTable:
    """Every shelter as the engine's columns, with live figures, read as plain columns.

    The same figures as `shelter_services.shelter_views` (shelters.figures is their one definition);
    only the loading differs: at 10,000 shelters, building and tracking ORM objects, or even one
    `Candidate` per shelter, cost more than the queries themselves, and so did decoding the same few
    JSON lists of sexes, services and languages once per shelter, so each distinct list is decoded
    once and the rows go to the engine as columns (bench/suggest.py, docs/performance.md).
    """
    result = session.execute(select(
        Shelter.id, Shelter.code, Shelter.name, Shelter.status, Shelter.region, Shelter.lat, Shelter.lon,
        cast(Shelter.sexes, Text), Shelter.ages, Shelter.children_capacity, cast(Shelter.services, Text),
        cast(Shelter.languages, Text), Shelter.security, Shelter.capacity, Shelter.out_of_service,
    ))
    # Read in chunks straight into columns: no row outlives its chunk, so 10,000 rows do not all survive
    # into the garbage collector's oldest generation (whose full passes were the API's p95).
    columns: list[list[Any]] = [[] for _ in range(15)]
    for chunk in result.partitions(_CHUNK_ROWS):
        for column, values in zip(columns, zip(*chunk)):
            column.extend(values)
    (ids, codes, names, status, regions, lats, lons, sexes, ages, children_capacity, services_, languages,
     security, capacity, out_of_service) = columns
    occupancy = figures.occupancy(session, now)
    utilisation = figures.utilisation(session, now, 30)
    empty = figures.Occupancy()
    held = [occupancy.get(sid, empty) for sid in ids]
    ratios = [utilisation.get(sid) for sid in ids]
    return engine.CandidateTable.of_columns(
        code=codes, name=names, status=status, region=regions, lat=lats, lon=lons, sexes=_json_sets(sexes),
        ages=ages, children_capacity=children_capacity, services=_json_sets(services_),
        languages=_json_sets(languages), security=security,
        usable=[c - o for c, o in zip(capacity, out_of_service)],
        occupied=[occ.occupied for occ in held], held=[occ.reserved for occ in held],
        utilisation=[(u.ratio or 0.0) if u is not None else 0.0 for u in ratios],
    )


def _json_sets(texts: Sequence[str]) -> list[frozenset[str]]:
    """JSON lists as frozensets, each distinct text decoded once (one shared frozenset per text)."""
    decoded = {text: frozenset(json.loads(text)) for text in set(texts)}
    return [decoded[text] for text in texts]


def _centres(session: Session, table: engine.CandidateTable | None = None) -> dict[str, tuple[float, float]]:
    """Region centres (placement.geography); from `table`'s shelters when given, saving a query."""
    if table is not None:
        return region_centres(zip(table.column("region"), table.column("lat"), table.column("lon")))
    return region_centres(session.execute(select(Shelter.region, Shelter.lat, Shelter.lon)))


def profile(case: Case, request: PlacementRequest, now: datetime, centres: dict[str, tuple[float, float]]
            ) -> engine.Profile:
    """The engine's view of a victim: the case's profile with the request's location and exclusions."""
    where = request.region or case.region
    return engine.Profile(
        sex=case.sex, minor=case.is_minor_on(now.date()), children=case.children, needs=frozenset(case.needs),
        languages=frozenset(case.languages), risk=case.risk, trafficker_regions=frozenset(case.trafficker_regions),
        location=centres.get(where) if where else None, exclude=frozenset(request.exclude or ()),
    )


def rank(session: Session, now: datetime, request: PlacementRequest, settings: Settings) -> engine.Ranking:
    """Rank every shelter for the request's case now (placement.engine.rank_shelters)."""
    table = candidate_table(session, now)
    centres = _centres(session, table)
    return engine.rank_shelters(profile(request.case, request, now, centres), table, settings.weights, centres)


def ranking_json(ranking: engine.Ranking) -> tuple[str, str]:
    """(suggestions, excluded) as a request stores and shows them: JSON text (`engine.Ranking.as_json_text`)."""
    return ranking.as_json_text()


# --- transitions -------------------------------------------------------------------------------------------


# Told of every transition, in its transaction, after it is written: (session, now, request, from_status).
# The outbox (alerts/notify.py) listens here, so placement never imports what notifies.
TRANSITION_LISTENERS: list[Callable[[Session, datetime, PlacementRequest, str | None], None]] = []


def _transition(session: Session, actor: User | None, now: datetime, request: PlacementRequest, to: str,
                note: str | None = None, *, shelter: Shelter | None = None, reason: str | None = None) -> None:
    """Move the request to `to`, timestamped, attributed and audited; the event names `shelter` (default: the
    request's own) and, for a rejection, its `reason` code. Notes never name a shelter: pages show the event's
    shelter only to who may know it."""
    shelter = shelter or request.shelter
    from_status = request.status
    event = PlacementEvent(request_id=request.id, at=now, actor_id=actor.id if actor else None,
                           from_status=from_status, to_status=to,
                           shelter_code=shelter.code if shelter else None, reason=reason, note=note)
    session.add(event)
    request.status = to
    request.updated_at = now
    session.flush()
    audit.record(session, actor=actor, action=f"placement.{to}", object_type="placement", object_id=request.id,
                 now=now, detail={"case": request.case.code,
                                  "shelter": request.shelter.code if request.shelter else None})
    for listener in TRANSITION_LISTENERS:
        listener(session, now, request, from_status)


# A refused transition reads in the page's language (the API's in English): the state, then what was refused.
_STATE_WORDS = {
    RequestStatus.OPEN: lazy_pgettext("request status", "open"),
    RequestStatus.RESERVED: lazy_pgettext("request status", "reserved"),
    RequestStatus.ACCEPTED: lazy_pgettext("request status", "accepted"),
    RequestStatus.ADMITTED: lazy_pgettext("request status", "admitted"),
    RequestStatus.REJECTED: lazy_pgettext("request status", "rejected"),
    RequestStatus.DECLINED: lazy_pgettext("request status", "declined"),
    RequestStatus.EXPIRED: lazy_pgettext("request status", "expired"),
    RequestStatus.CANCELLED: lazy_pgettext("request status", "cancelled"),
}
_CANNOT = {
    "reserved": N_("Request %(id)s is %(status)s; it cannot be reserved."),
    "accepted": N_("Request %(id)s is %(status)s; it cannot be accepted."),
    "rejected": N_("Request %(id)s is %(status)s; it cannot be rejected."),
    "admitted": N_("Request %(id)s is %(status)s; it cannot be admitted."),
    "declined": N_("Request %(id)s is %(status)s; it cannot be declined."),
    "cancelled": N_("Request %(id)s is %(status)s; it cannot be cancelled."),
}


def _require(request: PlacementRequest, allowed: Sequence[str], action: str) -> None:
    if request.status not in allowed:
        raise Conflict(_l(_CANNOT[action], id=request.id, status=_STATE_WORDS.get(request.status, request.status)),
                       code="illegal_transition", fields={"status": request.status})


@dataclass(frozen=True)
class ShownRanking:
    """A new request's ranking as stored and shown: the suggestions and the exclusions as JSON text
    (`engine.Ranking.as_json_text`), how many shelters were suggested, the exclusion summary, and the ranking
    itself."""

    suggestions: str
    excluded: str
    suggested: int
    why_empty: dict[str, int]
    ranking: engine.Ranking  # for an answer shown otherwise (an officer's, in distance bands)


def create_request(
    session: Session,
    actor: User,
    now: datetime,
    case: Case,
    settings: Settings,
    *,
    urgency: str = Urgency.URGENT,
    region: str | None = None,
    exclude: Sequence[str] = (),
    transfer: bool = False,
) -> PlacementRequest:
    """`open_request`'s request (its stored ranking is read back from the database when read)."""
    return open_request(session, actor, now, case, settings, urgency=urgency, region=region, exclude=exclude,
                        transfer=transfer)[0]


def open_request(
    session: Session,
    actor: User,
    now: datetime,
    case: Case,
    settings: Settings,
    *,
    urgency: str = Urgency.URGENT,
    region: str | None = None,
    exclude: Sequence[str] = (),
    transfer: bool = False,
) -> tuple[PlacementRequest, ShownRanking]:
    """Ask a bed for `case`; ranks every shelter now and stores the ranking as shown, which it returns.

    The ranking is encoded once: the same text is stored on the request and can be sent as the answer
    (at 10,000 shelters, a dictionary per shelter encoded twice cost more than ranking them).
    A transfer moves a resident: the case must have an open stay, which the
    admission will close (reason: transferred). Raises Invalid (urgency,
    unknown excluded codes), AlreadyDone (a live request exists, or the case is
    already in a shelter and this is not a transfer).
    """
    if urgency not in set(Urgency):
        raise Invalid(_l("Urgency must be one of %(values)s.", values=", ".join(Urgency)),
                      fields={"urgency": "unknown"})
    exclude = list(dict.fromkeys(exclude))
    if exclude:
        shelter_services.get_shelters(session, exclude)  # Invalid naming unknown codes
    stay = shelter_services.open_stay(session, case)
    if stay is not None and not transfer:
        raise AlreadyDone(_l("Case %(code)s is already staying in a shelter; request a transfer instead.",
                             code=case.code), code="case_already_placed", fields={"case_code": "has an open stay"})
    if stay is None and transfer:
        raise Invalid(_l("Case %(code)s is in no shelter; nothing to transfer.", code=case.code),
                      fields={"transfer": "no stay"})
    if active_request(session, case) is not None:
        raise _live_request_exists(case)
    request = PlacementRequest(case=case, requested_by=actor, urgency=urgency, region=region, exclude=exclude,
                               status=RequestStatus.OPEN, created_at=now, updated_at=now,
                               transfer_from=stay if transfer else None)
    if transfer and stay is not None and stay.shelter.code not in exclude:
        request.exclude = [*exclude, stay.shelter.code]  # not back where they are
    ranking = rank(session, now, request, settings)
    suggestions, excluded = ranking.as_json_text()
    scores = ranking.scores()
    shown = ShownRanking(suggestions, excluded, len(scores), {} if scores else ranking.exclusion_summary(), ranking)
    request.suggestions = _json_value(session, shown.suggestions)
    request.excluded = _json_value(session, shown.excluded)
    session.add(request)
    try:
        session.flush()
    except IntegrityError as exc:
        raise _live_request_exists(case) from exc
    session.expire(request, ["suggestions", "excluded"])  # stored as text: read back as values when read
    session.add(PlacementEvent(request_id=request.id, at=now, actor_id=actor.id, from_status=None,
                               to_status=RequestStatus.OPEN))
    if case.status == CaseStatus.IDENTIFIED:
        case.status = CaseStatus.AWAITING_PLACEMENT
    audit.record(session, actor=actor, action="placement.open", object_type="placement", object_id=request.id,
                 now=now, detail={"case": case.code, "urgency": urgency, "suggested": shown.suggested})
    return request, shown


def _json_value(session: Session, text: str) -> Any:
    """JSON text to store in a JSON column as it is, rather than a value the column would encode again."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(literal(text, Text), JSONB)
    return literal(text, Text)  # SQLite keeps JSON as text


def _live_request_exists(case: Case) -> AlreadyDone:
    return AlreadyDone(_l("Case %(code)s already has a live placement request.", code=case.code),
                       code="request_exists", fields={"case_code": "has a live request"})


def active_request(session: Session, case: Case) -> PlacementRequest | None:
    return session.scalar(select(PlacementRequest).where(
        PlacementRequest.case_id == case.id,
        PlacementRequest.status.in_([RequestStatus.OPEN, *HOLDING, RequestStatus.REJECTED, RequestStatus.EXPIRED]),
    ))


def expire_if_due(session: Session, now: datetime, request: PlacementRequest) -> bool:
    """Release a request's hold when it ran out (the scheduler does this every minute; reads do it too)."""
    hold = request.reservation
    if request.status in HOLDING and hold is not None and hold.held_until <= now:
        shelter_services.release_hold(session, now, hold, "expired")
        _transition(session, None, now, request, RequestStatus.EXPIRED, "the hold ran out")
        return True
    return False


def expire_holds(session: Session, now: datetime) -> int:
    """Expire every request whose hold ran out; returns how many. Idempotent."""
    due = session.scalars(
        select(PlacementRequest).join(Reservation, PlacementRequest.reservation_id == Reservation.id)
        .where(PlacementRequest.status.in_(HOLDING), Reservation.held_until <= now)
        .order_by(PlacementRequest.id)
    ).all()
    return sum(expire_if_due(session, now, request) for request in due)


def reserve(session: Session, actor: User, now: datetime, request: PlacementRequest, shelter_code: str,
            settings: Settings) -> PlacementRequest:
    """Hold a bed (1 + accompanying children) at a shelter for this request, atomically.

    The shelter is re-checked against every hard constraint with figures read
    under its write lock: a shelter that filled up since the suggestion is
    ShelterFull (409), one that no longer fits is Conflict `not_eligible`
    (409) with the reasons.
    """
    expire_if_due(session, now, request)
    _require(request, WAITING, "reserved")
    shelter = shelter_services.get_shelter(session, shelter_code)
    centres = _centres(session)
    victim = profile(request.case, request, now, centres)
    (candidate,) = candidates(session, now, [shelter])
    reasons = [r for r in engine.hard_reasons(victim, candidate) if r.code != "no_free_beds"]
    if reasons:
        raise Conflict(_l("%(shelter)s does not fit this case: %(reasons)s.", shelter=shelter.code,
                          reasons="; ".join(r.message for r in reasons)),
                       code="not_eligible", fields={"shelter": "not eligible"},
                       details={"reasons": [r.message for r in reasons], "codes": [r.code for r in reasons],
                                "values": [dict(r.values) for r in reasons]})
    hold = shelter_services.hold_beds(session, actor, now, shelter, engine.beds_needed(victim), now + settings.hold,
                                      case=request.case)
    request.shelter = shelter
    request.reservation = hold
    _transition(session, actor, now, request, RequestStatus.RESERVED)
    return request


def accept(session: Session, actor: User, now: datetime, request: PlacementRequest, settings: Settings
           ) -> PlacementRequest:
    """The shelter accepts: the bed stays held for the victim's journey (the hold is renewed)."""
    expire_if_due(session, now, request)
    _require(request, (RequestStatus.RESERVED,), "accepted")
    assert request.reservation is not None
    request.reservation.held_until = now + settings.hold
    _transition(session, actor, now, request, RequestStatus.ACCEPTED)
    return request


def reject(session: Session, actor: User, now: datetime, request: PlacementRequest, reason: str,
           note: str | None = None) -> PlacementRequest:
    """The shelter refuses, with a REJECT_REASONS code ('other' needs a note); the bed is freed and the
    requester may reserve elsewhere. A `reason` that is no code (the contract's free text, from clients written
    before the codes) is kept as the note under the code 'other'."""
    reason = (reason or "").strip()
    note = (note or "").strip() or None
    if not reason:
        raise Invalid(_l("reason must be one of %(values)s", values=", ".join(REJECT_REASONS)),
                      fields={"reason": "required"})
    if reason not in REJECT_REASONS:
        if len(reason) > REJECT_REASON_MAX:
            raise Invalid(_l("a reason of 1 to %(max)s characters is required", max=REJECT_REASON_MAX),
                          fields={"reason": "too long"})
        reason, note = "other", reason if note is None else f"{reason} · {note}"
    if reason == "other" and not note:
        raise Invalid(_l("say why in the note"), fields={"note": "required for other"})
    if note and len(note) > REJECT_NOTE_MAX:
        raise Invalid(_l("the note is too long"), fields={"note": f"at most {REJECT_NOTE_MAX} characters"})
    expire_if_due(session, now, request)
    _require(request, HOLDING, "rejected")
    _release(session, now, request, "rejected")
    request.reason, request.note = reason, note
    _transition(session, actor, now, request, RequestStatus.REJECTED, note, reason=reason)
    return request


def admit(session: Session, actor: User, now: datetime, request: PlacementRequest) -> Stay:
    """The victim arrived: open the stay, consuming the hold (the request becomes admitted as the admission
    consumes it, `_on_admission`); for a transfer, close the old stay (reason: transferred) in the same
    transaction."""
    expire_if_due(session, now, request)
    _require(request, (RequestStatus.ACCEPTED,), "admitted")
    assert request.shelter is not None and request.reservation is not None
    if request.transfer_from is not None and request.transfer_from.is_open:
        shelter_services.discharge_stay(session, actor, now, request.transfer_from, "transferred",
                                        f"placement request {request.id}")
    return shelter_services.admit_case(session, actor, now, request.shelter, request.case,
                                       reservation=request.reservation)


def decline(session: Session, actor: User, now: datetime, request: PlacementRequest, reason: str,
            note: str | None = None) -> PlacementRequest:
    """The victim declined shelter: why matters to the secretariat ('other' needs a note)."""
    if reason not in DECLINE_REASONS:
        raise Invalid(_l("Reason must be one of %(values)s.", values=", ".join(DECLINE_REASONS)),
                      fields={"reason": "unknown"})
    note = (note or "").strip() or None
    if reason == "other" and not note:
        raise Invalid(_l("Say why in the note."), fields={"note": "required for other"})
    if note and len(note) > 1000:
        raise Invalid(_l("The note is too long."), fields={"note": "at most 1000 characters"})
    _require(request, (*WAITING, *HOLDING), "declined")
    _release(session, now, request, "declined")
    request.reason, request.note = reason, note
    # A resident (a transfer) keeps its bed and stays `placed`.
    if request.transfer_from is None and shelter_services.open_stay(session, request.case) is None:
        request.case.status = CaseStatus.DECLINED_SHELTER
    _transition(session, actor, now, request, RequestStatus.DECLINED, note or reason)
    return request


def cancel(session: Session, actor: User, now: datetime, request: PlacementRequest, note: str | None = None
           ) -> PlacementRequest:
    """Withdraw a request that is not admitted yet; frees any held bed."""
    _require(request, (*WAITING, *HOLDING), "cancelled")
    _release(session, now, request, "cancelled")
    _transition(session, actor, now, request, RequestStatus.CANCELLED, note)
    return request


def _release(session: Session, now: datetime, request: PlacementRequest, reason: str) -> None:
    if request.status in HOLDING and request.reservation is not None:
        shelter_services.release_hold(session, now, request.reservation, reason)


def _on_admission(session: Session, actor: User | None, now: datetime, stay: Stay,
                  reservation: Reservation | None) -> None:
    """Every admission, through a request or straight onto a shelter's board, settles the case's live request.

    One that consumed the request's hold admits the request. Any other admission makes the request pointless:
    it is cancelled and the bed it held elsewhere freed, so no shelter keeps a bed for someone housed already.
    """
    request = active_request(session, stay.case)
    if request is None:
        return
    if reservation is not None and request.reservation_id == reservation.id:
        request.stay = stay
        _transition(session, actor, now, request, RequestStatus.ADMITTED)
        return
    _release(session, now, request, "cancelled")
    _transition(session, actor, now, request, RequestStatus.CANCELLED, "admitted directly", shelter=stay.shelter)


if _on_admission not in shelter_services.ADMISSION_LISTENERS:
    shelter_services.ADMISSION_LISTENERS.append(_on_admission)


def _requests_hold_case(cutoff: datetime) -> ColumnElement[bool]:
    """A case with a live placement request, or one changed since `cutoff`, is not anonymised yet."""
    return exists().where(PlacementRequest.case_id == Case.id,
                          or_(PlacementRequest.status.in_(ACTIVE), PlacementRequest.updated_at >= cutoff))


if _requests_hold_case not in retention.CASE_HOLDS:
    retention.CASE_HOLDS.append(_requests_hold_case)


# --- batch -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchOutcome:
    result: batch.BatchResult
    reserved: dict[int, str]          # request id -> shelter code
    unplaced: list[int]               # waiting requests the optimum leaves without a bed


@dataclass(frozen=True)
class BatchPlan:
    """The assignment a batch would make now, before anything is reserved: what the secretariat previews."""

    result: batch.BatchResult
    waiting: list[PlacementRequest]   # the waiting requests, by id
    requests: list[batch.BatchRequest]  # the same, as the solver saw them (options: the shelters that fit)
    free_beds: dict[str, int]         # shelter code -> free beds before the assignment
    state: str                        # fingerprint of the waiting requests and free beds the plan rests on


def _batch_state(waiting: Sequence[PlacementRequest], free_beds: Mapping[str, int]) -> str:
    """A digest of what a batch decides on: each waiting request as it stands and every shelter's free beds.
    Equal digests mean an assignment made on one is still right for the other."""
    text = json.dumps({"waiting": [[r.id, r.status, r.urgency, r.updated_at.isoformat() if r.updated_at else None]
                                   for r in waiting],
                       "free": sorted(free_beds.items())}, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def plan_batch(session: Session, now: datetime, settings: Settings) -> BatchPlan:
    """The optimal assignment of every waiting request (emergencies first, then as many as possible, then the
    highest total score, under every shelter's free beds), reserving nothing. Expire due holds first
    (`expire_due_holds`) so that the plan rests on the state an apply will find."""
    waiting = list(session.scalars(select(PlacementRequest).where(PlacementRequest.status.in_(WAITING))
                                   .order_by(PlacementRequest.id)))
    pool = candidate_table(session, now)
    centres = _centres(session, pool)
    batch_requests = []
    for request in waiting:
        ranking = engine.rank_shelters(profile(request.case, request, now, centres), pool, settings.weights, centres)
        batch_requests.append(batch.BatchRequest(
            id=request.id, beds=1 + request.case.children, urgent=request.urgency == Urgency.EMERGENCY,
            options=ranking.scores()))
    free_beds = dict(zip(pool.codes, pool.free.tolist()))
    result = batch.batch_assign(batch_requests, free_beds, time_limit_s=settings.batch_time_limit_s)
    return BatchPlan(result, waiting, batch_requests, free_beds, _batch_state(waiting, free_beds))


def expire_due_holds(session: Session, now: datetime) -> None:
    """Release every hold past its time, so a batch sees those requests waiting again. Flushes."""
    for request in session.scalars(select(PlacementRequest).where(PlacementRequest.status.in_(HOLDING))):
        expire_if_due(session, now, request)
    session.flush()


def run_batch(session: Session, actor: User, now: datetime, settings: Settings, *, expected_state: str | None = None,
              assignment: Mapping[int, str] | None = None) -> BatchOutcome:
    """Assign every waiting request at once, optimally (`plan_batch`), and reserve what it assigns.

    With `expected_state` and `assignment` (a previewed plan's `state` and assignment), apply exactly that
    assignment, and only while the waiting requests and free beds are still those it was made on: raises
    Conflict (409) when they moved since the preview, Invalid when the assignment breaks the rules.
    """
    expire_due_holds(session, now)
    plan = plan_batch(session, now, settings)
    result, waiting, chosen = plan.result, plan.waiting, plan.result.assignment
    if expected_state is not None:
        if plan.state != expected_state:
            raise Conflict(_l("The waiting requests or the free beds changed since the preview: check the new "
                              "preview before applying it."), fields={"state": "stale"})
        chosen = dict(assignment or {})
        problems = batch.check_assignment(plan.requests, plan.free_beds, chosen)
        if problems:
            raise Invalid(_l("The previewed assignment no longer fits: preview it again."),
                          fields={"assignment": "; ".join(problems[:3])})
    reserved: dict[int, str] = {}
    requests = {r.id: r for r in waiting}
    for request_id, code in sorted(chosen.items()):
        try:
            with session.begin_nested():
                reserve(session, actor, now, requests[request_id], code, settings)
            reserved[request_id] = code
        except (ShelterFull, Conflict):  # a bed taken since the figures were read: left for the next run
            continue
    audit.record(session, actor=actor, action="placement.batch", object_type="placement", object_id="batch",
                 now=now, detail={"waiting": len(waiting), "reserved": len(reserved), "objective": result.objective,
                                  "optimal": result.optimal, "gap": result.gap, "previewed": expected_state is not None})
    return BatchOutcome(result, reserved, [r.id for r in waiting if r.id not in reserved])

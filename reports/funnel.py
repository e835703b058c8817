"""Why a shelter stands empty: its placement funnel and a what-if, pure, over plain values.

`reports.evidence` gathers, for one shelter and a period, what each placement request stored when it was
made (the ranking as shown: this shelter's place among the suggestions, or its exclusion reasons with their
values) and what happened to it afterwards (its timeline, the victim's reason for declining, the stay it
opened). This module counts, without a database or Flask, so it is tested on fixed data and benchmarked alone.
Nothing is recomputed from today's shelters: a request is judged by the ranking it stored.

The funnel's steps, each a number of requests:
  made      the period's requests whose stored ranking names this shelter (suggested or excluded);
  eligible  ... where it was suggested (no hard constraint excluded it);
  top 3     ... where it was among the first three suggestions;
  chosen    ... where a bed was reserved at it (whatever its rank: an officer may choose lower down);
  accepted  ... where it accepted the reservation;
  admitted  ... where the victim was admitted to it from this request;
  stayed    ... where that stay lasted beyond `STAYED_DAYS` days (or is still open after them).
At each step, what stopped the rest: exclusion tallies (each reason with its values, and how often it was the
only reason), the term that kept it out of the top three or decided for the shelter chosen instead, the
shelter's rejections, the victims' declines with their reasons, expired holds and cancellations, and the early
leavers' discharge reasons.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from placement import engine

STAYED_DAYS = 7
TOP = 3
# A term decides when it is the largest part of the gap between the shelter and the one preferred to it; when
# the one preferred scored no more, the officer's choice decided.
OFFICER_CHOICE = "officer_choice"


@dataclass(frozen=True)
class Entry:
    """A shelter's place in a stored ranking: its code, score and terms."""

    shelter: str
    score: int
    terms: Mapping[str, int] = field(hash=False)


@dataclass(frozen=True)
class Event:
    """One transition of a request, as stored: to which state, from which, and at which shelter; a rejection's
    reason code (REJECT_REASONS)."""

    to_status: str
    from_status: str | None
    shelter: str | None
    reason: str | None = None


@dataclass(frozen=True)
class StayRecord:
    admitted_at: datetime
    discharged_at: datetime | None
    discharge_reason: str | None


@dataclass(frozen=True)
class RequestTrail:
    """One request as it bears on one shelter: what its stored ranking said of the shelter, and what followed.

    rank: the shelter's 0-based place among the suggestions, None if excluded or absent; entry: its score and
    terms there; reasons: (code, values) of each reason that excluded it, None if not excluded; third: the
    third suggestion (what a shelter ranked lower had to beat); others: stored entries of the other shelters a
    bed was reserved at, by code; decline_reason: the victim's reason where the request was declined;
    stay: the stay this request opened at this shelter, if any.
    """

    request_id: int
    created_at: datetime
    rank: int | None = None
    entry: Entry | None = None
    reasons: tuple[tuple[str, Mapping[str, Any]], ...] | None = None
    third: Entry | None = None
    others: Mapping[str, Entry] = field(default_factory=dict, hash=False)
    events: tuple[Event, ...] = ()
    decline_reason: str | None = None
    stay: StayRecord | None = None


@dataclass(frozen=True)
class ReasonTally:
    """How many requests one exclusion reason (a code with its values) removed the shelter from, and in how
    many of them it was the only reason."""

    code: str
    values: Mapping[str, Any] = field(hash=False)
    requests: int = 0
    only_reason: int = 0


@dataclass(frozen=True)
class Funnel:
    shelter: str
    made: int
    eligible: int
    top3: int
    chosen: int
    accepted: int
    admitted: int
    stayed: int
    exclusions: tuple[ReasonTally, ...]  # most requests first
    excluded_by_code: Mapping[str, int] = field(hash=False)  # code -> requests (a request once per code)
    ranked_lower: Mapping[str, int] = field(hash=False)  # eligible, not in the top 3: deciding term -> requests
    passed_over: Mapping[str, int] = field(hash=False)  # eligible, another chosen: deciding term -> requests
    never_placed: int = 0  # eligible, no bed reserved anywhere from the request
    rejected: Mapping[str, int] = field(hash=False, default_factory=dict)  # reject reason code -> rejections
    declined: Mapping[str, int] = field(hash=False, default_factory=dict)  # victim's reason -> requests
    expired: int = 0  # holds at this shelter that ran out
    cancelled: int = 0  # requests cancelled while holding a bed here
    left_early: Mapping[str, int] = field(hash=False, default_factory=dict)  # discharge reason -> stays
    too_recent: int = 0  # admitted less than STAYED_DAYS ago and still there

    def steps(self) -> list[tuple[str, int]]:
        """(step, requests) in funnel order."""
        return [("made", self.made), ("eligible", self.eligible), ("top3", self.top3), ("chosen", self.chosen),
                ("accepted", self.accepted), ("admitted", self.admitted), ("stayed", self.stayed)]


def _values_key(values: Mapping[str, Any]) -> str:
    return json.dumps(dict(values), sort_keys=True)


def deciding_term(mine: Mapping[str, int], theirs: Mapping[str, int], my_score: int, their_score: int) -> str:
    """The soft term that did most to put the other shelter ahead (its largest lead, first in `TERMS` order on a
    tie); `OFFICER_CHOICE` when the other scored no more (an officer chose it anyway, or the code order)."""
    if their_score < my_score or (their_score == my_score and dict(mine) == dict(theirs)):
        return OFFICER_CHOICE
    leads = [(theirs.get(term, 0) - mine.get(term, 0), -i, term) for i, term in enumerate(engine.TERMS)]
    lead, _, term = max(leads)
    return term if lead > 0 else OFFICER_CHOICE


def _sorted(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))


def shelter_funnel(shelter: str, trails: Iterable[RequestTrail], now: datetime) -> Funnel:
    """The funnel of `shelter` over `trails` (the period's requests), judged at `now` for the stays.

    A request counts once per step and once per reason (code and values) it gives; `made` counts only requests
    whose stored ranking named the shelter. Pure: the same trails, the same funnel.
    """
    made = eligible = top3 = chosen = accepted = admitted = stayed = 0
    never_placed = expired = cancelled = too_recent = 0
    tallies: dict[tuple[str, str], list[Any]] = {}
    by_code: Counter[str] = Counter()
    ranked_lower: Counter[str] = Counter()
    passed_over: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    declined: Counter[str] = Counter()
    left_early: Counter[str] = Counter()
    for trail in trails:
        if trail.reasons is not None:
            made += 1
            distinct = {(code, _values_key(values)): (code, values) for code, values in trail.reasons}
            for key, (code, values) in distinct.items():
                tally = tallies.setdefault(key, [code, dict(values), 0, 0])
                tally[2] += 1
                if len(distinct) == 1:
                    tally[3] += 1
            by_code.update({code for code, _ in trail.reasons})
        elif trail.rank is not None:
            made += 1
            eligible += 1
            if trail.rank < TOP:
                top3 += 1
            elif trail.entry is not None and trail.third is not None:
                ranked_lower[deciding_term(trail.entry.terms, trail.third.terms, trail.entry.score,
                                           trail.third.score)] += 1
        else:
            continue  # the shelter was not among the candidates (not registered yet)

        reserved_here = any(e.to_status == "reserved" and e.shelter == shelter for e in trail.events)
        if reserved_here:
            chosen += 1
        elif trail.rank is not None:
            elsewhere = next((e.shelter for e in trail.events if e.to_status == "reserved" and e.shelter), None)
            if elsewhere is None:
                never_placed += 1
            else:
                other = trail.others.get(elsewhere)
                if other is None or trail.entry is None:
                    passed_over[OFFICER_CHOICE] += 1
                else:
                    passed_over[deciding_term(trail.entry.terms, other.terms, trail.entry.score, other.score)] += 1
        if not reserved_here:
            continue
        here = [e for e in trail.events if e.shelter == shelter]
        if any(e.to_status == "accepted" for e in here):
            accepted += 1
        for e in here:
            if e.to_status == "rejected":
                rejected[e.reason or "other"] += 1
            elif e.to_status == "expired":
                expired += 1
            elif e.to_status == "declined" and e.from_status in ("reserved", "accepted"):
                declined[trail.decline_reason or "other"] += 1
            elif e.to_status == "cancelled" and e.from_status in ("reserved", "accepted"):
                cancelled += 1
        if any(e.to_status == "admitted" for e in here):
            admitted += 1
            stay = trail.stay
            if stay is not None:
                end = stay.discharged_at
                if end is not None and end - stay.admitted_at <= timedelta(days=STAYED_DAYS):
                    left_early[stay.discharge_reason or "other"] += 1
                elif end is None and now - stay.admitted_at <= timedelta(days=STAYED_DAYS):
                    too_recent += 1
                else:
                    stayed += 1
    exclusions = tuple(sorted((ReasonTally(code, values, n, only) for code, values, n, only in tallies.values()),
                              key=lambda t: (-t.requests, t.code, _values_key(t.values))))
    return Funnel(shelter, made, eligible, top3, chosen, accepted, admitted, stayed, exclusions, _sorted(by_code),
                  _sorted(ranked_lower), _sorted(passed_over), never_placed, _sorted(rejected), _sorted(declined),
                  expired, cancelled, _sorted(left_early), too_recent)


# --- what if the shelter changed ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A changed profile of the shelter: sexes it would take in addition, the age group it would take (None:
    unchanged), services it would add, high security, and beds it would add."""

    takes_sexes: frozenset[str] = frozenset()
    ages: str | None = None
    adds_services: frozenset[str] = frozenset()
    high_security: bool = False
    extra_beds: int = 0

    def apply(self, candidate: engine.Candidate) -> engine.Candidate:
        """The shelter as it would be after the change."""
        return replace(candidate, sexes=candidate.sexes | self.takes_sexes,
                       ages=self.ages or candidate.ages, services=candidate.services | self.adds_services,
                       security="high" if self.high_security else candidate.security,
                       usable=candidate.usable + self.extra_beds)


@dataclass(frozen=True)
class Replay:
    """One stored request for the what-if: the victim as the engine saw them, the shelter's stored reasons
    (None: it was suggested), its stored rank and entry, and the best stored suggestion other than this shelter."""

    profile: engine.Profile
    reasons: tuple[tuple[str, Mapping[str, Any]], ...] | None
    rank: int | None
    best_other: Entry | None
    entry: Entry | None = None


@dataclass(frozen=True)
class WhatIf:
    requests: int
    eligible_before: int
    eligible_after: int
    first_before: int
    first_after: int

    @property
    def more_eligible(self) -> int:
        return self.eligible_after - self.eligible_before

    @property
    def more_first(self) -> int:
        return self.first_after - self.first_before


def _lifted(code: str, values: Mapping[str, Any], change: Change, profile: engine.Profile) -> bool:
    """Whether the change removes this stored reason."""
    if code == "sex":
        return values.get("sex", profile.sex) in change.takes_sexes
    if code == "age":
        group = values.get("group", "minors" if profile.minor else "adults")
        return change.ages == "all" or change.ages == group
    if code == "service":
        return values.get("service") in change.adds_services
    if code == "security":
        return change.high_security
    if code == "no_free_beds":
        free = values.get("free")
        return isinstance(free, int) and change.extra_beds > 0 and free + change.extra_beds >= engine.beds_needed(
            profile)
    return False


def what_if(candidate: engine.Candidate, change: Change, replays: Sequence[Replay], weights: engine.Weights,
            region_centres: Mapping[str, tuple[float, float]] | None = None) -> WhatIf:
    """How many of the stored requests the changed shelter would have been eligible for and ranked first in.

    Eligibility replays the stored reasons: a request becomes eligible when the change lifts every reason that
    excluded the shelter (a status, a trafficker region, a requester's exclusion or too few beds for the
    children are not lifted by it). Where the shelter was suggested, its stored score moves by what the change
    adds to the engine's `score_terms` (so no change, no move); where it was excluded, it scores the engine's
    `score_terms` for the victim and the changed shelter (`candidate` carries the utilisation to score with).
    It ranks first when it beats the best other stored suggestion, ties going to the lower code, as the engine
    orders them. No live state changes: the stored rankings are read only.
    """
    changed = change.apply(candidate)
    eligible_before = eligible_after = first_before = first_after = 0
    for replay in replays:
        was_eligible = replay.reasons is None and replay.rank is not None
        if was_eligible:
            eligible_before += 1
            if replay.rank == 0:
                first_before += 1
        now_eligible = was_eligible or (replay.reasons is not None and all(
            _lifted(code, values, change, replay.profile) for code, values in replay.reasons))
        if not now_eligible:
            continue
        eligible_after += 1
        score = sum(engine.score_terms(replay.profile, changed, weights, region_centres).values())
        if was_eligible and replay.entry is not None:
            score = replay.entry.score + score - sum(
                engine.score_terms(replay.profile, candidate, weights, region_centres).values())
        best = replay.best_other
        if best is None or score > best.score or (score == best.score and changed.code < best.shelter):
            first_after += 1
    return WhatIf(len(replays), eligible_before, eligible_after, first_before, first_after)

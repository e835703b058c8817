"""The proof an integrator would ask for: a client generated from the live /api/v1/openapi.json with
openapi-python-client drives the main workflows against a real HTTP server, and openapi-core checks every
request and every answer (errors included) against the same document.

The client is generated once per test session (it takes a couple of seconds); each test serves the app on a
port of its own.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import werkzeug
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import (
    WerkzeugOpenAPIRequest,
    WerkzeugOpenAPIResponse,
)
from werkzeug.serving import make_server
from werkzeug.test import EnvironBuilder

from alerts import services as alert_services
from alerts.rules import Decision
from extensions import db

PACKAGE = "safe_haven_client"
_GENERATED: dict[str, Any] = {}


def _generate(document_text: str, folder: Path) -> Any:
    """Generate the client package from the document (once per session) and import it."""
    if "package" not in _GENERATED:
        spec = folder / "openapi.json"
        spec.write_text(document_text)
        tool = Path(sys.executable).with_name("openapi-python-client")
        subprocess.run([str(tool), "generate", "--path", str(spec), "--meta", "none",
                        "--output-path", str(folder / PACKAGE)], check=True, capture_output=True, timeout=300)
        sys.path.insert(0, str(folder))
        _GENERATED["package"] = importlib.import_module(PACKAGE)
    return _GENERATED["package"]


class _api:  # noqa: N801 - reads as the generated package's `api.<tag>` module
    """`_api("shelters").create_case` -> the generated module of that operation."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __getattr__(self, operation: str) -> Any:
        return importlib.import_module(f"{PACKAGE}.api.{self.tag}.{operation}")


def _models() -> Any:
    return importlib.import_module(f"{PACKAGE}.models")


class Checker:
    """openapi-core over every exchange the generated client makes."""

    def __init__(self, document: dict) -> None:
        self.openapi = OpenAPI.from_dict(document)
        self.checked: list[str] = []

    def __call__(self, response: httpx.Response) -> None:
        response.read()
        sent = response.request
        url = urlsplit(str(sent.url))
        request = EnvironBuilder(method=sent.method, base_url=f"{url.scheme}://{url.netloc}", path=url.path,
                                 query_string=url.query, headers=list(sent.headers.items()),
                                 data=sent.content).get_request()
        answer = werkzeug.Response(response.content, status=response.status_code,
                                   headers=[(k, v) for k, v in response.headers.items()
                                            if k.lower() not in ("content-length", "transfer-encoding")])
        self.openapi.validate_request(WerkzeugOpenAPIRequest(request))
        self.openapi.validate_response(WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(answer))
        self.checked.append(f"{sent.method} {url.path} -> {response.status_code}")


def _end_test_transaction(_request: httpx.Request) -> None:
    # Reading a factory's row after its commit begins a (write-locking, on SQLite) transaction in the test's own
    # session; the server's requests, in another thread with another session, must not wait behind it.
    db.session.commit()


@pytest.fixture
def served(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture
def integrator(client, served, tmp_path_factory, make):
    """integrator(user) -> a generated AuthenticatedClient for that user, every exchange checked."""
    document_text = client.get("/api/v1/openapi.json").get_data(as_text=True)
    package = _generate(document_text, tmp_path_factory.mktemp("generated"))
    checker = Checker(client.get("/api/v1/openapi.json").get_json())

    def for_user(user) -> Any:  # noqa: ANN001
        return package.AuthenticatedClient(base_url=served, token=make.token(user), raise_on_unexpected_status=True,
                                           httpx_args={"event_hooks": {"request": [_end_test_transaction],
                                                                       "response": [checker]}})

    for_user.checked = checker.checked  # type: ignore[attr-defined]
    return for_user


def test_police_request_to_discharge(integrator, make):
    m = _models()
    shelters, placement = _api("shelters"), _api("placement")
    pvpt = make.shelter("PVPT", capacity=5, address="(test) Rruga 1")
    officer, manager = make.user("police"), make.manager(pvpt)
    police, board = integrator(officer), integrator(manager)

    created = shelters.create_case.sync_detailed(client=police, body=m.CaseIn(
        sex=m.Sex.FEMALE, nationality="MD", age=22, languages=["ro"], region="Prishtinë"))
    assert created.status_code == 201 and created.headers["Location"].endswith(created.parsed.case_code)
    case_code = created.parsed.case_code

    request = placement.create_placement.sync_detailed(client=police, body=m.PlacementIn(
        case_code=case_code, urgency=m.Urgency.EMERGENCY))
    assert request.status_code == 201
    assert request.parsed.status == m.PlacementStatus.OPEN and request.parsed.suggestions[0].shelter == "PVPT"
    request_id = request.parsed.id

    reserved = placement.reserve_placement.sync(request_id, client=police, body=m.ReserveIn(shelter="PVPT"))
    assert reserved.status == m.PlacementStatus.RESERVED and reserved.expires_at is not None
    refused = placement.accept_placement.sync_detailed(request_id, client=police)
    assert refused.status_code == 403 and refused.parsed.error.code == "role_required"
    assert refused.parsed.error.roles == [m.Role.SHELTER_MANAGER]

    listed = placement.list_placements.sync(client=board, status=m.PlacementStatus.RESERVED)
    assert [p.id for p in listed.placements] == [request_id] and listed.next_cursor is None
    assert placement.accept_placement.sync(request_id, client=board).status == m.PlacementStatus.ACCEPTED
    assert placement.get_placement.sync(request_id, client=police).address == "(test) Rruga 1"
    admitted = placement.admit_placement.sync(request_id, client=board)
    assert admitted.status == m.PlacementStatus.ADMITTED and admitted.stay_id

    again = placement.admit_placement.sync_detailed(request_id, client=board)
    assert again.status_code == 409 and again.parsed.error.code
    stay = shelters.discharge_stay.sync(admitted.stay_id, client=board, body=m.DischargeIn(
        reason=m.DischargeReason.REINTEGRATED, note="back with family"))
    assert stay.discharged_at is not None
    case = shelters.get_case.sync(case_code, client=police)
    assert case.status == m.CaseStatus.DISCHARGED
    assert len(integrator.checked) == 11  # every exchange above, checked


def test_headcount_mismatch_and_a_full_shelter(integrator, make):
    m = _models()
    shelters, placement = _api("shelters"), _api("placement")
    tiny = make.shelter("TINY", capacity=1)
    make.stay(tiny)
    manager = integrator(make.manager(tiny))

    mismatch = shelters.confirm_headcount.sync_detailed("TINY", client=manager, body=m.HeadcountIn(occupied=0))
    assert mismatch.status_code == 409
    error = mismatch.parsed.error
    assert (error.code, error.recorded, error.reported) == ("headcount_mismatch", 1, 0)
    assert shelters.confirm_headcount.sync("TINY", client=manager, body=m.HeadcountIn(occupied=1)).recorded == 1

    officer = make.user("police")
    police = integrator(officer)
    request_id = placement.create_placement.sync(client=police, body=m.PlacementIn(
        case_code=make.case(officer).code)).id
    full = placement.reserve_placement.sync_detailed(request_id, client=police, body=m.ReserveIn(shelter="TINY"))
    assert full.status_code == 409 and full.parsed.error.code == "shelter_full" and full.parsed.error.needed == 1
    missing = shelters.get_shelter.sync_detailed("NOPE", client=police)
    assert missing.status_code == 404 and missing.parsed.error.code == "not_found"


def test_batch_assignment_and_paging(integrator, make):
    m = _models()
    placement, shelters = _api("placement"), _api("shelters")
    make.shelter("BIG", capacity=10)
    officer = make.user("police")
    police, secretariat = integrator(officer), integrator(make.user("secretariat"))
    ids = [placement.create_placement.sync(client=police, body=m.PlacementIn(case_code=make.case(officer).code)).id
           for _ in range(3)]
    batch = placement.assign_placements_in_batch.sync(client=secretariat)
    assert batch.placed == 3 and set(batch.assignment.additional_properties) == {str(i) for i in ids}

    pages, cursor = [], m_unset()
    while True:
        page = placement.list_placements.sync_detailed(client=secretariat, limit=2, cursor=cursor)
        pages.append([p.id for p in page.parsed.placements])
        if page.parsed.next_cursor is None:
            break
        assert page.headers["Link"].endswith('rel="next"')
        cursor = page.parsed.next_cursor
    assert pages == [sorted(ids, reverse=True)[:2], sorted(ids, reverse=True)[2:]]
    listed = shelters.list_shelters.sync(client=police, has_free_beds=True)
    assert [s.code for s in listed.shelters] == ["BIG"] and listed.shelters[0].reserved == 3


def m_unset():  # noqa: ANN201
    return importlib.import_module(f"{PACKAGE}.types").UNSET


def test_alert_review(integrator, make, now):
    m = _models()
    alerts = _api("alerts")
    make.shelter("PVPT", capacity=5)
    alert_services.upsert(db.session, now - timedelta(days=1), [
        Decision("unused_facility", "shelter", "PVPT", "warning", "PVPT unused for 20 days", {"days_unused": 20},
                 shelter="PVPT")], ["unused_facility"])
    db.session.commit()
    secretariat = integrator(make.user("secretariat"))
    listed = alerts.list_alerts.sync(client=secretariat)
    (alert,) = listed.alerts
    assert alert.kind == m.AlertKind.UNUSED_FACILITY and alert.severity == m.AlertSeverity.WARNING
    assert alerts.acknowledge_alert.sync(alert.id, client=secretariat).status == m.AlertStatus.ACKNOWLEDGED
    noted = alerts.comment_alert.sync_detailed(alert.id, client=secretariat, body=m.NoteIn(note="called the NGO"))
    assert noted.status_code == 201 and noted.headers["Location"] == f"/api/v1/alerts/{alert.id}"
    resolved = alerts.resolve_alert.sync(alert.id, client=secretariat, body=m.NoteIn(note="capacity moved"))
    assert resolved.status == m.AlertStatus.RESOLVED
    twice = alerts.resolve_alert.sync_detailed(alert.id, client=secretariat, body=m.NoteIn(note="again"))
    assert twice.status_code == 409
    assert [a.id for a in alerts.list_alerts.sync(client=secretariat, status=m.ListAlertsStatus.ALL).alerts] == [alert.id]
    unknown = alerts.get_alert.sync_detailed(alert.id + 1000, client=secretariat)
    assert unknown.status_code == 404 and unknown.parsed.error.code == "not_found"


def test_the_checker_refuses_an_answer_the_document_does_not_describe(integrator, make, served):
    """openapi-core really reads the answers: a shelter list without its `next_cursor` is caught."""
    integrator(make.user("police"))
    checker = Checker(make_document(served))
    request = httpx.Request("GET", f"{served}/api/v1/shelters", headers={"Authorization": "Bearer x"})
    lying = httpx.Response(200, json={"shelters": []}, request=request)
    with pytest.raises(Exception, match="next_cursor|required"):
        checker(lying)


def make_document(served: str) -> dict:
    return httpx.get(f"{served}/api/v1/openapi.json").json()


def test_every_other_reader_and_writer(integrator, make):
    """The rest of the surface through the generated client, each answer checked: shelters as each role reads
    them (partners: region groups), a stale version, residents, statistics, accounts."""
    m = _models()
    shelters, accounts, alerts = _api("shelters"), _api("accounts"), _api("alerts")
    for code in ("AA", "BB", "CC"):
        make.shelter(code, capacity=4, region="Prishtinë")
    secretariat = integrator(make.user("secretariat"))
    created = shelters.create_shelter.sync_detailed(client=secretariat, body=m.ShelterCreate(
        code="NEW", name="New", region="Pejë", capacity=3, address="(test) Rruga 2"))
    assert created.status_code == 201 and created.parsed.address == "(test) Rruga 2"
    stale = shelters.patch_shelter.sync_detailed("NEW", client=secretariat, body=m.ShelterPatch(
        version=created.parsed.version + 5, capacity=6))
    assert stale.status_code == 409 and stale.parsed.error.current_version == created.parsed.version
    patched = shelters.patch_shelter.sync("NEW", client=secretariat, body=m.ShelterPatch(
        version=created.parsed.version, status=m.ShelterStatus.SUSPENDED))
    assert patched.status == m.ShelterStatus.SUSPENDED
    assert shelters.list_residents.sync("AA", client=secretariat).residents == []
    assert alerts.get_utilisation.sync(client=secretariat, days=7).days == 7
    partner = integrator(make.user("partner"))
    seen = shelters.list_shelters.sync(client=partner)
    assert seen.shelters == [] and isinstance(seen.regions, list) and seen.next_cursor is None
    assert alerts.get_utilisation.sync(client=partner).regions is not m_unset()
    assert shelters.get_shelter.sync_detailed("AA", client=partner).status_code == 403

    admin = integrator(make.user("admin"))
    org = accounts.create_organisation.sync(client=admin, body=m.OrganisationIn(
        code="NGO-1", name="An NGO", kind=m.OrganisationKind.NGO))
    assert org.kind == m.OrganisationKind.NGO
    user = accounts.create_user.sync_detailed(client=admin, body=m.UserIn(
        username="new.officer", password="a long enough passphrase 7", role=m.Role.POLICE, organisation="NGO-1"))
    assert user.status_code == 201 and user.headers["Location"] == "/api/v1/users/new.officer"
    assert accounts.get_user.sync("new.officer", client=admin).organisation == "NGO-1"
    assert [o.code for o in accounts.list_organisations.sync(client=admin).organisations] == ["NGO-1"]
    assert "new.officer" in [u.username for u in accounts.list_users.sync(client=admin, limit=500).users]
    assert accounts.get_me.sync(client=admin).role == m.Role.ADMIN
    duplicate = accounts.create_organisation.sync_detailed(client=admin, body=m.OrganisationIn(
        code="NGO-1", name="Again", kind=m.OrganisationKind.NGO))
    assert duplicate.status_code == 409

"""The OpenAPI document (api_document.py) describes the API as an integrator's tools need it described."""

from __future__ import annotations

import re

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

import api_document

METHODS = ("get", "post", "patch", "put", "delete")


@pytest.fixture
def document(client):
    return client.get("/api/v1/openapi.json").get_json()


def _operations(document):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def test_the_document_is_valid_openapi(document):
    validate(document)
    assert document["servers"] and document["servers"][0]["url"]
    bearer = document["components"]["securitySchemes"]["bearerAuth"]
    assert bearer["scheme"] == "bearer" and "users token" in bearer["description"]


def test_operation_ids_read_like_method_names(document):
    ids = [op["operationId"] for _, op in _operations(document)]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)+", i) for i in ids), ids


def test_every_operation_declares_its_refusals_with_the_one_error_shape(document):
    error_refs = {"#/components/responses/" + name for name in api_document.RESPONSE_NAMES.values()}
    for where, op in _operations(document):
        statuses = set(op["responses"])
        assert {"400", "401", "429"} <= statuses, where
        if "{" in where:
            assert "404" in statuses, where
        if where.startswith(("POST", "PATCH")):
            assert {"409", "413", "415", "422"} <= statuses, where
        for status, response in op["responses"].items():
            if status.startswith("2"):
                continue
            if "$ref" in response:
                assert response["$ref"] in error_refs, where
            else:
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    headcount = document["paths"]["/api/v1/shelters/{code}/headcount"]["post"]["responses"]["409"]
    assert "`recorded`" in headcount["description"] and "`reported`" in headcount["description"]
    assert "default" not in str(document["paths"])[:0]  # flask-smorest's DEFAULT_ERROR is gone:
    assert all("default" not in op["responses"] for _, op in _operations(document))


def test_201_declares_location_and_401_the_challenge(document):
    for where, op in _operations(document):
        if "201" in op["responses"]:
            assert "Location" in op["responses"]["201"]["headers"], where
    assert "WWW-Authenticate" in document["components"]["responses"]["Unauthorized"]["headers"]
    assert "Retry-After" in document["components"]["responses"]["TooManyRequests"]["headers"]


def test_outputs_list_required_fields_and_enums(document):
    schemas = document["components"]["schemas"]
    shelter = schemas["ShelterOut"]
    assert {"code", "status", "capacity", "available", "version"} <= set(shelter["required"])
    assert "address" not in shelter["required"] and "residents" not in shelter["required"]
    assert shelter["properties"]["status"] == {"$ref": "#/components/schemas/ShelterStatus"}
    assert schemas["PlacementOut"]["properties"]["urgency"] == {"$ref": "#/components/schemas/Urgency"}
    assert schemas["AlertOut"]["properties"]["kind"] == {"$ref": "#/components/schemas/AlertKind"}


def test_one_enum_per_concept(document):
    """No enum of a known concept is spelled out again anywhere; each refers to its component."""
    concepts = {frozenset(values): name for name, (values, _) in api_document.ENUMS.items()}
    found = []

    def walk(node, where):
        if isinstance(node, dict):
            values = node.get("enum")
            if values and where.split("/")[-1] not in api_document.ENUMS:
                name = concepts.get(frozenset(v for v in values if v is not None))
                if name and node.get("x-enum") != name:
                    found.append((where, name))
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}/{i}")

    walk(document, "#")
    assert found == []


def test_every_schema_has_a_description_and_a_valid_example(document):
    schemas = document["components"]["schemas"]
    registry = Registry().with_resource("urn:doc", Resource.from_contents(document, default_specification=DRAFT4))
    problems = []
    for name, schema in schemas.items():
        if not schema.get("description"):
            problems.append(f"{name} has no description")
        if "example" not in schema:
            problems.append(f"{name} has no example")
            continue
        validator = OAS30Validator({"$ref": f"urn:doc#/components/schemas/{name}"}, registry=registry)
        problems += [f"{name}: {e.message}" for e in validator.iter_errors(schema["example"])]
    assert problems == []

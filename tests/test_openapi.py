"""The whole API held to its own OpenAPI document, property-based (schemathesis, in process).

For every operation of ``/schema/openapi.json`` schemathesis generates requests from the
documented parameters and bodies, their bounds included (``domain/bounds.py``), sends them to the
application through ASGI, signed in as an admin and as a site agent, and checks each answer:
no server error, a status the operation documents, a body that matches the documented schema
(``ErrorBody`` for every refusal, ``http/openapi.py``). Each operation runs in a test of its own,
on the normal per-test database (conftest), with the small world of ``build_world``.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from conftest import World, run
from pass_numerique.asgi import create_app
from pass_numerique.domain.accounts import authentication
from pass_numerique.http.errors import ErrorBody

EXAMPLES_PER_OPERATION = 5
ROLES = ("admin", "site_agent")
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_asgi("/schema/openapi.json", create_app())
# The same examples at each run, so a failure in CI is one anyone can replay.
schema.config.generation.update(max_examples=EXAMPLES_PER_OPERATION, deterministic=True, database="none")


@pytest.fixture
def signed_in(world: World) -> list[dict[str, str]]:
    """Bearer tokens of the world's admin (everything) and site agent (its site, refused elsewhere)."""
    tokens = [run(authentication.create_token(world.by_role(role), "schemathesis")) for role in ROLES]
    return [{"Authorization": f"Bearer {issued.token}"} for issued in tokens]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_the_api_answers_as_its_openapi_document_says(
    case: schemathesis.Case, signed_in: list[dict[str, str]]
) -> None:
    # One database per operation for both accounts: the world costs more to build than the calls.
    for headers in signed_in:
        case.call_and_validate(headers=headers, checks=CHECKS)


def test_every_refusal_is_documented_with_the_one_error_body(client) -> None:
    document = client.get("/schema/openapi.json").json()
    assert set(document["components"]["schemas"]["ErrorBody"]["properties"]) == set(
        ErrorBody.__struct_fields__
    )
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            for status, response in responses.items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
            if operation.get("parameters") or operation.get("requestBody"):
                assert {"404", "422"} <= set(responses), (method, path)
            if path != "/api/v1/auth/login" and path not in ("/api/v1/keys", "/api/v1/public/statistics"):
                assert {"401", "403"} <= set(responses), (method, path)
    assert {"401", "429"} <= set(document["paths"]["/api/v1/auth/login"]["post"]["responses"])
    # A download documents each of its formats, not one JSON string.
    export = document["paths"]["/api/v1/sites/export"]["get"]["responses"]["200"]["content"]
    assert set(export) == {"text/csv", "application/json"}
    assert export["application/json"]["schema"]["type"] == "array"


def _unbounded(schema: dict, components: dict, where: str, seen: frozenset[str] = frozenset()) -> list[str]:
    """Where ``schema`` lets through an input the database could not store: an integer without a
    maximum, a string without a maximum length or the NUL pattern, a list without a maximum size."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return [] if name in seen else _unbounded(components[name], components, where, seen | {name})
    found = []
    # An optional value is documented as oneOf [value, null] with its bounds beside the oneOf.
    bounds = {key: schema[key] for key in ("maximum", "maxLength", "pattern", "maxItems") if key in schema}
    for option in schema.get("oneOf", []) + schema.get("anyOf", []):
        found += _unbounded({**bounds, **option}, components, where, seen)
    kind = schema.get("type")
    if kind == "integer" and "maximum" not in schema:
        found.append(where)
    free_text = kind == "string" and not ({"enum", "format", "const"} & set(schema))
    if free_text and ("maxLength" not in schema or schema.get("pattern") != "^[^\x00]*$"):
        found.append(where)
    # Litestar leaves out a list item's own bounds (msgspec still checks them): not looked at.
    if kind == "array" and "maxItems" not in schema:
        found.append(where)
    for name, field in schema.get("properties", {}).items():
        found += _unbounded(field, components, f"{where}.{name}", seen)
    return found


def test_every_parameter_and_body_field_is_bounded_in_the_document(client) -> None:
    document = client.get("/schema/openapi.json").json()
    components = document["components"]["schemas"]
    unbounded = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                where = f"{method.upper()} {path} {parameter['in']} {parameter['name']}"
                unbounded += _unbounded(parameter["schema"], components, where)
            for content in operation.get("requestBody", {}).get("content", {}).values():
                unbounded += _unbounded(content["schema"], components, f"{method.upper()} {path} body")
    assert unbounded == [], "\n".join(unbounded)

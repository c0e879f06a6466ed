"""An error never echoes what the caller sent: a marker string in every field of every body, every
query and path parameter, as a value, inside a list, as a key, never comes back in an error."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from tests.support import call_admin, issue
from tokengate.emulator import SecretsManagerEmulator
from tokengate_core.admin.api import (
    INVALID_VALUE,
    UNDECLARED_KEY,
    ImportClientRequest,
    IssueClientRequest,
    LeakReportRequest,
    UpdateClientRequest,
    validation_details,
)

pytestmark = pytest.mark.usefixtures("emulator")
CLIENTS = "/admin/tenants/acme/clients"
MARKER = "ECHO7f3a9c"

#: Each body, where it is sent ({client} is a live client's id), and a valid instance of it.
BODIES: list[tuple[type[BaseModel], str, str, dict[str, Any]]] = [
    (IssueClientRequest, "POST", CLIENTS, {"client_name": "fine"}),
    (UpdateClientRequest, "PATCH", CLIENTS + "/{client}", {"enabled": True}),
    (
        ImportClientRequest,
        "POST",
        "/admin/imports",
        {"tenant": "acme", "client_name": "imported", "token": "Kx9v-q2Lm.Zr4T_w8", "allow_weak": True},
    ),
    (LeakReportRequest, "POST", "/admin/leaks", {"tokens": ["not-ours"]}),
]
#: A valid value of each object-valued field, so that a marker can be put in each of its fields.
OBJECTS: dict[str, dict[str, Any]] = {
    "rate_limit": {"requests_per_second": 1, "burst": 1},
    "quota": {"limit": 1, "period": "day"},
}
QUERIES: list[tuple[str, list[str]]] = [
    (CLIENTS, ["limit", "next_token", "status", "name"]),
    (CLIENTS + "/{client}/usage", ["granularity", "from", "to"]),
]


def _object_schema(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any] | None:
    """The object a property holds (through a $ref, or an anyOf with null), if it holds one."""
    for option in [schema, *schema.get("anyOf", [])]:
        if "$ref" in option:
            return dict(defs[option["$ref"].rsplit("/", 1)[-1]])
    return None


def field_paths(model: type[BaseModel]) -> list[tuple[str, ...]]:
    """Every field of the body, nested objects' fields included, read from its JSON schema: a field
    added later is covered without touching this test."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    paths: list[tuple[str, ...]] = []
    for name, prop in schema["properties"].items():
        paths.append((name,))
        nested = _object_schema(prop, defs)
        if nested is not None:
            assert name in OBJECTS, f"give a valid {name} in OBJECTS"
            paths += [(name, inner) for inner in nested["properties"]]
    return paths


CASES = [(model, path) for model, *_ in BODIES for path in field_paths(model)]


def shapes(text: str) -> list[Any]:
    """The marker as a value of every JSON shape a field might be sent."""
    return [
        text,
        [text],
        [text] * 3,
        {text: text},
        {"k": text},
        text * 200,
        [{"k": text}],
        f"{text}/33",
        f"10.0.0.1/{text}",
    ]


surrounded = st.builds(lambda before, after: f"{before}{MARKER}{after}", st.text(max_size=8), st.text(max_size=8))


def assert_not_echoed(response: Any) -> None:
    assert response.status < 500, response.body
    if response.status >= 400:
        assert MARKER not in json.dumps(response.body, ensure_ascii=False), response.body


def client_id() -> str:
    found = call_admin("GET", CLIENTS, query={"name": "target"}).body["items"]
    return str(found[0]["client_id"]) if found else issue("acme", "target")[0]


def send(model: type[BaseModel], body: dict[str, Any]) -> Any:
    method, path = next((m, p) for mod, m, p, _ in BODIES if mod is model)
    return call_admin(method, path.format(client=client_id()) if "{client}" in path else path, body)


def with_value(model: type[BaseModel], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(next(valid for mod, _, _, valid in BODIES if mod is model))
    if len(path) == 2:
        body[path[0]] = copy.deepcopy(OBJECTS[path[0]])
        body[path[0]][path[1]] = value
    else:
        body[path[0]] = value
    return body


def test_the_marker_in_every_field_of_every_body_in_every_shape_is_never_echoed() -> None:
    for model, path in CASES:
        for value in shapes(MARKER):
            assert_not_echoed(send(model, with_value(model, path, value)))
        # Two hundred of it, where a field holds one value or at most 100, fails every field's
        # validation: the 422 names the field, and only the field.
        response = send(model, with_value(model, path, [MARKER] * 200))
        assert response.status == 422, (path, response.body)
        assert_not_echoed(response)
        assert any(path[-1] in detail["loc"] for detail in response.body["details"]), (path, response.body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), text=surrounded)
def test_the_marker_amid_any_text_in_any_field_is_never_echoed(
    emulator: SecretsManagerEmulator, data: st.DataObject, text: str
) -> None:
    model, path = data.draw(st.sampled_from(CASES))
    assert_not_echoed(send(model, with_value(model, path, data.draw(st.sampled_from(shapes(text))))))


def test_a_key_the_api_does_not_declare_is_not_echoed() -> None:
    for model, *_ in BODIES:
        for body in (
            with_value(model, (MARKER,), 1),
            with_value(model, ("rate_limit",), {**OBJECTS["rate_limit"], MARKER: 1}),
        ):
            response = send(model, body)
            assert response.status == 422, response.body
            assert_not_echoed(response)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), text=surrounded)
def test_no_query_or_path_parameter_is_echoed_in_an_error(
    emulator: SecretsManagerEmulator, data: st.DataObject, text: str
) -> None:
    path, names = data.draw(st.sampled_from(QUERIES))
    name = data.draw(st.sampled_from(names))
    assert_not_echoed(call_admin("GET", path.format(client=client_id()), query={name: text}))
    tenant_path = data.draw(st.sampled_from([f"/admin/tenants/{text}/clients", f"{CLIENTS}/{text}"]))
    assert_not_echoed(call_admin("GET", tenant_path))


def test_the_marker_is_not_in_any_declared_name() -> None:
    """Else a 422 could show it legitimately, as a field's name."""
    assert MARKER not in json.dumps(call_admin("GET", "/admin/openapi.json").body)


def test_a_message_that_would_quote_the_input_is_replaced() -> None:
    """A validator added later that puts the value in its message still cannot echo it."""
    errors: list[dict[str, Any]] = [
        {
            "loc": ("body", "scopes", 3),
            "msg": f"Value error, {MARKER} is no scope",
            "input": MARKER,
            "type": "value_error",
        },
        {"loc": ("body", "quota"), "msg": "Input should be a valid dictionary", "input": {"k": [MARKER]}, "type": "t"},
    ]
    details = validation_details(errors, frozenset({"body", "scopes"}))
    assert details == [
        {"loc": ["body", "scopes", 3], "msg": INVALID_VALUE, "type": "value_error"},
        {"loc": ["body", UNDECLARED_KEY], "msg": "Input should be a valid dictionary", "type": "t"},
    ]

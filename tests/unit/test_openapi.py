"""The OpenAPI document, built from route tables made here: every operation a route allows at
its concrete path, valid shapes (no colliding templates, unique ids), examples that pass the
schemas they illustrate. Redocly lints the same document in `make lint`."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import jsonschema
import pytest

from gateway_api.app import create_app
from gateway_api.openapi import examples
from gateway_api.openapi.document import build
from gateway_core.routes import Operation, RouteTable, build_table, load_routes
from support.gateway import dev_settings, route
from support.procs import ROOT

SHIPPED = load_routes(ROOT / "k8s" / "routes")
TALLY = load_routes(ROOT / "tests" / "support" / "routes")
POLYGLOT = load_routes(ROOT / "tests" / "support" / "polyglot_routes")
PROBES = {"/", "/livez", "/readyz"}
ARG = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}


def spec_for(*tables: RouteTable) -> dict[str, Any]:
    table = build_table([r for t in tables for r in t.routes.values()])
    return create_app(dev_settings(), routes=table).openapi()


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m.upper(), p): op for p, item in spec["paths"].items() for m, op in item.items()}


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A validator for ``schema`` that resolves refs into the document."""
    return {**schema, "components": spec["components"]}


def test_every_operation_of_the_shipped_and_test_routes() -> None:
    ops = operations(spec_for(SHIPPED, TALLY))
    assert set(ops) == {
        ("GET", "/"), ("GET", "/livez"), ("GET", "/readyz"),
        ("GET", "/workflows"), ("GET", "/workflows/count"),
        ("POST", "/workflows/shopping"), ("POST", "/workflows/shopping/async"),
        ("POST", "/workflows/orders"), ("POST", "/workflows/orders/async"),
        ("POST", "/workflows/orders/signal-with-start/approve"),
        ("POST", "/workflows/orders/update-with-start/add_item"),
        ("GET", "/workflows/{workflow_id}/events"),
        ("GET", "/workflows/{workflow_id}/callbacks"),
        ("POST", "/workflows/{workflow_id}/callbacks/redeliver"),
        ("POST", "/workflows/{workflow_id}/signals/approve"),
        ("POST", "/workflows/{workflow_id}/queries/progress"),
        ("GET", "/workflows/{workflow_id}/queries/progress"),
        ("POST", "/workflows/{workflow_id}/updates/add_item"),
        ("GET", "/workflows/{workflow_id}/updates/add_item/{update_id}"),
        ("POST", "/workflows/tally"), ("POST", "/workflows/tally/async"),
        ("POST", "/workflows/tally/signal-with-start/add"),
        ("POST", "/workflows/tally/signal-with-start/finish"),
        ("POST", "/workflows/tally/update-with-start/set_total"),
        ("GET", "/workflows/{workflow_id}"), ("GET", "/workflows/{workflow_id}/status"),
        ("GET", "/workflows/{workflow_id}/result"),
        ("POST", "/workflows/{workflow_id}/cancel"), ("POST", "/workflows/{workflow_id}/terminate"),
        ("POST", "/workflows/{workflow_id}/signals/add"),
        ("POST", "/workflows/{workflow_id}/signals/finish"),
        ("POST", "/workflows/{workflow_id}/queries/total_now"),
        ("GET", "/workflows/{workflow_id}/queries/total_now"),  # no argument: GET too
        ("POST", "/workflows/{workflow_id}/queries/exceeds"),
        ("POST", "/workflows/{workflow_id}/updates/set_total"),
        ("GET", "/workflows/{workflow_id}/updates/set_total/{update_id}"),
        # orders serves schedules
        ("POST", "/workflows/orders/schedules"), ("GET", "/schedules"),
        ("GET", "/schedules/{schedule_id}"), ("PUT", "/schedules/{schedule_id}"),
        ("DELETE", "/schedules/{schedule_id}"), ("POST", "/schedules/{schedule_id}/pause"),
        ("POST", "/schedules/{schedule_id}/unpause"), ("POST", "/schedules/{schedule_id}/trigger"),
        ("POST", "/schedules/{schedule_id}/backfill"),
    }  # fmt: skip
    assert ops["POST", "/workflows/tally/signal-with-start/add"]["operationId"] == (
        "tally.signal_with_start.add"
    )
    assert ops["POST", "/workflows/{workflow_id}/updates/set_total"]["tags"] == ["route: tally"]


@pytest.mark.parametrize(
    "tables",
    [(SHIPPED,), (SHIPPED, TALLY), (SHIPPED, POLYGLOT), ()],
    ids=["shipped", "tally", "polyglot", "none"],
)
def test_the_document_is_well_formed(tables) -> None:
    spec = spec_for(*tables) if tables else build(create_app(dev_settings()), None, [{"url": "/"}])
    ids = [op["operationId"] for op in operations(spec).values()]
    assert len(ids) == len(set(ids)), ids
    templates = [re.sub(r"\{[^}]*\}", "{}", p) for p in spec["paths"]]
    assert len(templates) == len(set(templates)), "two paths differ only in parameter names"
    assert spec["servers"] == [{"url": "/"}]
    tags = {t["name"] for t in spec["tags"]}
    for (method, path), op in operations(spec).items():
        where = f"{method} {path}"
        assert op["summary"], where
        assert op["tags"], where
        assert set(op["tags"]) <= tags, where
        if path in PROBES:
            assert op["security"] == [], where
            continue
        assert op["security"] == [{"bearer": []}, {"apiKey": []}], where
        assert "401" in op["responses"], where
        for status, response in op["responses"].items():
            if status[0] in "45":
                assert response["content"] == {
                    "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                }, (where, status)
    assert "HTTPValidationError" not in spec["components"]["schemas"]


async def test_a_root_path_is_the_server() -> None:
    app = create_app(dev_settings(), routes=SHIPPED)
    transport = httpx.ASGITransport(app=app, root_path="/gateway")
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        spec = (await client.get("/gateway/openapi.json")).json()
    assert spec["servers"] == [{"url": "/gateway"}]


def test_workflow_ids_are_constrained_to_the_prefixes_of_the_routes_allowing_it() -> None:
    closed = route("closed", "W", "q", operations=[Operation.START, Operation.TERMINATE])
    open_ = route("open", "W", "q")
    spec = spec_for(build_table([closed, open_]))
    ops = operations(spec)

    def id_schema(method: str, path: str) -> dict[str, Any]:
        params = ops[method, path]["parameters"]
        return next(p["schema"] for p in params if p["name"] == "workflow_id")

    status = id_schema("GET", "/workflows/{workflow_id}/status")
    assert status["pattern"] == "^open-"
    assert jsonschema.Draft202012Validator(status).is_valid("open-123")
    assert not jsonschema.Draft202012Validator(status).is_valid("closed-123")
    terminate = id_schema("POST", "/workflows/{workflow_id}/terminate")
    assert terminate["pattern"] == "^(?:closed-|open-)"
    # `closed` allows no sync start; nobody declares a message: none are documented.
    assert ("POST", "/workflows/closed") not in ops
    assert ("POST", "/workflows/closed/async") in ops
    assert not [p for p in spec["paths"] if "/signals/" in p or "{name}" in p]


def test_a_message_two_routes_declare_is_one_operation_with_either_schema() -> None:
    other = {"type": "object", "required": ["s"], "properties": {"s": {"type": "string"}}}
    a = route("a", "W", "q", signals=[{"name": "poke", "input_schema": ARG}])
    b = route("b", "W", "q", signals=[{"name": "poke", "input_schema": other}])
    spec = spec_for(build_table([a, b]))
    op = spec["paths"]["/workflows/{workflow_id}/signals/poke"]["post"]
    body = op["requestBody"]["content"]["application/json"]
    assert body["schema"] == {
        "anyOf": [
            {"$ref": "#/components/schemas/a.signal.poke"},
            {"$ref": "#/components/schemas/b.signal.poke"},
        ]
    }
    assert op["requestBody"]["required"] is True
    assert op["tags"] == ["workflows"]
    pattern = next(p for p in op["parameters"] if p["name"] == "workflow_id")["schema"]["pattern"]
    assert pattern == "^(?:a-|b-)"
    assert "/workflows/a/signal-with-start/poke" in spec["paths"]
    assert "/workflows/b/signal-with-start/poke" in spec["paths"]


def test_bodies_are_the_route_schemas_with_examples_that_pass_them() -> None:
    spec = spec_for(SHIPPED, TALLY)
    checked = 0
    for (method, path), op in operations(spec).items():
        content = op.get("requestBody", {}).get("content", {}).get("application/json")
        if content is None or path.endswith("/terminate"):
            continue
        assert "example" in content, f"{method} {path}"
        validator = jsonschema.Draft202012Validator(resolve(spec, content["schema"]))
        assert validator.is_valid(content["example"]), f"{method} {path}"
        checked += 1
    assert checked == 22  # tally 10, orders 6, orders' schedules 6
    shopping = spec["paths"]["/workflows/shopping"]["post"]["requestBody"]["content"]
    assert shopping["application/json"]["example"] == {"items": [{"fruit": "APPLE", "amount": 1}]}
    # A signal without an argument takes no body; with-start then takes only the input.
    assert "requestBody" not in spec["paths"]["/workflows/{workflow_id}/signals/finish"]["post"]
    finish = spec["paths"]["/workflows/tally/signal-with-start/finish"]["post"]["requestBody"]
    assert finish["content"]["application/json"]["schema"]["required"] == ["input"]


def test_positional_bodies_are_arrays_with_prefix_items_in_every_operation() -> None:
    """A route (and messages) with arguments: positional: the body is the array schema the API
    enforces, in the plain start, the with-start ones and the messages, with examples that
    pass; OpenAPI 3.1 takes JSON Schema 2020-12's prefixItems as it is."""
    spec = spec_for(SHIPPED, POLYGLOT)
    assert spec["openapi"].startswith("3.1")
    schemas = spec["components"]["schemas"]
    component = schemas["parcels.input"]
    assert component["type"] == "array"
    assert [item["type"] for item in component["prefixItems"]] == ["string", "integer", "boolean"]
    assert (component["items"], component["minItems"]) == (False, 3)
    weigh = schemas["parcels.update.weigh"]
    assert weigh["prefixItems"][1]["maximum"] == 2**63 - 1  # its own bounds, kept
    paths = spec["paths"]
    body = paths["/workflows/parcels"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/parcels.input"
    }
    assert "JSON array: the workflow's arguments, in order" in body["description"]
    with_start = paths["/workflows/parcels/update-with-start/weigh"]["post"]["requestBody"]
    content = with_start["content"]["application/json"]
    assert content["schema"]["properties"] == {
        "input": {"$ref": "#/components/schemas/parcels.input"},
        "arg": {"$ref": "#/components/schemas/parcels.update.weigh"},
    }
    assert content["example"] == {"input": ["example", 1, False], "arg": ["example", 1]}
    label = paths["/workflows/{workflow_id}/queries/label"]["post"]["requestBody"]
    assert label["content"]["application/json"]["example"] == ["example", False]
    assert "/workflows/{workflow_id}/queries/label" in paths  # POST only: it takes arguments
    assert "get" not in paths["/workflows/{workflow_id}/queries/label"]
    structs = paths["/workflows/structs"]["post"]["requestBody"]["description"]
    assert "proto JSON of `google.protobuf.Struct`, sent as `json/protobuf`" in structs
    for (method, path), op in operations(spec).items():
        content = op.get("requestBody", {}).get("content", {}).get("application/json")
        if content is not None and "example" in content:
            validator = jsonschema.Draft202012Validator(resolve(spec, content["schema"]))
            assert validator.is_valid(content["example"]), f"{method} {path}"


def test_integers_show_the_bounds_the_api_enforces() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"},
                                               "m": {"type": "integer", "minimum": 0}}}  # fmt: skip
    spec = spec_for(build_table([route("ints", "W", "q", input_schema=schema)]))
    properties = spec["components"]["schemas"]["ints.input"]["properties"]
    assert properties == {
        "n": {"type": "integer", "minimum": -(2**53 - 1), "maximum": 2**53 - 1},
        "m": {"type": "integer", "minimum": 0, "maximum": 2**53 - 1},
    }


def test_a_protobuf_answer_names_its_type_in_an_optional_member() -> None:
    spec = spec_for(SHIPPED)
    for name in ("WorkflowResponse", "QueryResponse", "UpdateResponse"):
        model = spec["components"]["schemas"][name]
        assert "result_type" in model["properties"], name
        assert "result_type" not in model.get("required", []), name


def test_local_refs_of_a_route_schema_point_into_its_component() -> None:
    schema = {
        "type": "object",
        "required": ["line"],
        "properties": {"line": {"$ref": "#/$defs/line"}},
        "$defs": {"line": {"type": "string", "minLength": 3}},
    }
    spec = spec_for(build_table([route("refs", "W", "q", input_schema=schema)]))
    component = spec["components"]["schemas"]["refs.input"]
    assert component["properties"]["line"] == {"$ref": "#/components/schemas/refs.input/$defs/line"}
    body = spec["paths"]["/workflows/refs"]["post"]["requestBody"]["content"]["application/json"]
    assert body["example"] == {"line": "example"}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "object"}, {}),
        ({"type": "integer", "minimum": 3}, 3),
        ({"type": "integer", "maximum": -2}, -2),
        ({"type": "number", "exclusiveMinimum": 0}, 1),
        ({"type": "string", "minLength": 9}, "exampleex"),
        ({"type": "string", "maxLength": 2}, "ex"),
        ({"type": "string", "format": "date"}, "2025-01-01"),
        ({"enum": ["b", "a"]}, "b"),
        ({"type": ["null", "boolean"]}, False),
        ({"type": "array", "minItems": 2, "items": {"const": 1}}, [1, 1]),
        (
            {"type": "array", "minItems": 2, "prefixItems": [{"type": "string"}, {"const": 2}]},
            ["example", 2],
        ),
        (
            {"type": "array", "minItems": 3, "prefixItems": [{"const": 0}], "items": {"const": 1}},
            [0, 1, 1],
        ),
        ({"examples": [{"chosen": True}], "type": "object"}, {"chosen": True}),
        ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, 1),
        (
            {"allOf": [{"required": ["a"], "properties": {"a": {"type": "integer"}}}]},
            {"a": 1},
        ),
    ],
)
def test_minimal_examples(schema, expected) -> None:
    assert examples.example(schema, jsonschema.Draft202012Validator(schema).is_valid) == (
        True,
        expected,
    )


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "pattern": "^[0-9]+$"},  # cannot be guessed: left out
        {"$ref": "https://example.com/elsewhere"},
        {"not": {"type": "object"}, "type": "object"},
    ],
)
def test_no_example_rather_than_a_wrong_one(schema) -> None:
    valid = jsonschema.Draft202012Validator(schema).is_valid
    assert examples.example(schema, valid) == (False, None)


async def test_documents_are_cached_with_an_etag_and_one_per_route() -> None:
    app = create_app(dev_settings(), routes=load_routes(ROOT / "k8s" / "routes"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        first = await client.get("/openapi.json")
        assert first.status_code == 200
        etag = first.headers["etag"]
        again = await client.get("/openapi.json", headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        one = await client.get("/workflows/orders/openapi.json")
        assert one.status_code == 200
        paths = one.json()["paths"]
        assert "/workflows/orders" in paths
        assert not any(p.startswith("/workflows/shopping") for p in paths)
        assert one.headers["etag"] != etag
        cached = await client.get(
            "/workflows/orders/openapi.json", headers={"If-None-Match": one.headers["etag"]}
        )
        assert cached.status_code == 304
        missing = await client.get("/workflows/nope/openapi.json")
        assert missing.status_code == 404
        assert missing.json()["code"] == "route-not-found"


SCHEDULE_BY_ID = {
    ("GET", "/schedules/{schedule_id}"), ("PUT", "/schedules/{schedule_id}"),
    ("DELETE", "/schedules/{schedule_id}"), ("POST", "/schedules/{schedule_id}/pause"),
    ("POST", "/schedules/{schedule_id}/unpause"), ("POST", "/schedules/{schedule_id}/trigger"),
    ("POST", "/schedules/{schedule_id}/backfill"),
}  # fmt: skip


def unresolved(spec: dict[str, Any]) -> set[str]:
    """The ``$ref``s of ``spec`` that name no schema of its components."""
    refs = set(re.findall(r'"\$ref": "([^"]*)"', json.dumps(spec)))
    return {r for r in refs if r.removeprefix("#/components/schemas/")
            not in spec["components"]["schemas"]}  # fmt: skip


async def test_a_routes_document_has_its_schedule_operations_when_it_lists_schedule() -> None:
    """``/workflows/<path>/openapi.json``: a route listing ``schedule`` has every schedule
    operation, with its own prefix and input only (another route serves schedules too); a
    route that does not list it has none."""
    nightly = route("nightly", "W", "q", operations=["start", "schedule"], input_schema=ARG)
    table = build_table([*SHIPPED.routes.values(), nightly])
    assert not table.routes["shopping"].allows(Operation.SCHEDULE)
    app = create_app(dev_settings(), routes=table)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        orders = (await client.get("/workflows/orders/openapi.json")).json()
        shopping = (await client.get("/workflows/shopping/openapi.json")).json()

    ops = operations(orders)
    assert {k for k in ops if "schedule" in k[1]} == {
        ("POST", "/workflows/orders/schedules"), ("GET", "/schedules"), *SCHEDULE_BY_ID,
    }  # fmt: skip
    assert "schedules" in {t["name"] for t in orders["tags"]}
    for key in SCHEDULE_BY_ID:
        (schedule_id,) = [p for p in ops[key]["parameters"] if p["name"] == "schedule_id"]
        pattern = schedule_id["schema"]["pattern"]
        assert re.search(pattern, "order-nightly"), key
        assert not re.search(pattern, "nightly-x"), key
    for key in (("POST", "/workflows/orders/schedules"), ("PUT", "/schedules/{schedule_id}")):
        body = ops[key]["requestBody"]["content"]["application/json"]["schema"]
        assert body["properties"]["input"]["$ref"] == "#/components/schemas/orders.input", key
    assert "nightly.input" not in orders["components"]["schemas"]
    assert unresolved(orders) == set()

    assert not [k for k in operations(shopping) if "schedule" in k[1]]
    assert "schedules" not in {t["name"] for t in shopping["tags"]}
    assert unresolved(shopping) == set()


def test_prefix_index_finds_overlaps_both_ways() -> None:
    from gateway_core.routes import PrefixIndex

    index = PrefixIndex({"order-": "a", "shop-eu-": "b"})
    assert index.conflict("order-eu-") == ("order-", "a")
    assert index.conflict("shop-") == ("shop-eu-", "b")
    assert index.conflict("orders-") is None
    index.remove("order-")
    assert index.conflict("order-eu-") is None
    assert index.lengths() == (8,)


def _served(app) -> dict[str, Any]:
    """What the app sends at /openapi.json: the document assembled from per-route parts."""
    return app.openapi()


@pytest.mark.parametrize(
    "tables",
    [
        [],
        [SHIPPED],
        [SHIPPED, TALLY],
        [SHIPPED, TALLY, POLYGLOT],
    ],
    ids=["empty", "shipped", "messages", "polyglot"],
)
def test_the_assembled_document_is_the_one_built_whole(tables) -> None:
    table = build_table([r for t in tables for r in t.routes.values()])
    app = create_app(dev_settings(), routes=table)
    assert _served(app) == build(app, table, [{"url": "/"}])


def test_a_route_at_a_fixed_operations_path_shares_its_item() -> None:
    # POST /workflows/count (the route's start) beside GET /workflows/count (the count).
    table = build_table([*SHIPPED.routes.values(), route("count", "W", "q")])
    app = create_app(dev_settings(), routes=table)
    served = _served(app)
    assert served == build(app, table, [{"url": "/"}])
    assert set(served["paths"]["/workflows/count"]) == {"get", "post"}


async def test_a_changed_route_is_documented_again_and_only_it() -> None:
    from gateway_api.openapi import document
    from gateway_api.route_store import RouteStore

    table = build_table([*SHIPPED.routes.values(), *TALLY.routes.values()])
    app = create_app(dev_settings(), routes=table)
    store = RouteStore(None, table=table)
    documents = document.Documents(app, store)
    first = documents.full("")
    documented: list[str] = []
    original = document._part

    def counting(route, starts):
        documented.append(route.spec.path)
        return original(route, starts)

    document._part = counting
    try:
        store.table = table.changed([route("second", "W", "q", signals=[{"name": "poke"}])])
        second = documents.full("")
    finally:
        document._part = original
    assert documented == ["second"]
    assert second.etag != first.etag
    assert json.loads(second.body) == build(app, store.table, [{"url": "/"}])
    assert documents.full("") is second  # cached per table version

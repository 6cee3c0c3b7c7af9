"""Route documents: loading, validation of the documents, and of request bodies."""

from __future__ import annotations

import http.server
import inspect
import threading
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from temporalio import workflow
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from gateway_core.errors import RouteConfigError
from gateway_core.routes import (
    DEFAULT_OPERATIONS,
    SWITCHES,
    Access,
    IdConflictPolicy,
    IdReusePolicy,
    MessageKind,
    Operation,
    StrictValidator,
    WorkflowIdError,
    build_table,
    compiled,
    dump_table,
    load_routes,
    parse_documents,
)
from gateway_workflows.registry import WORKFLOWS
from gateway_workflows.shop.models import MAX_AMOUNT, MAX_LINES, Fruit
from support.procs import ROOT

SHIPPED = ROOT / "k8s" / "routes"

ROUTE = """
apiVersion: temporal-gateway.dev/v1alpha1
kind: WorkflowRoute
metadata: {{name: {name}}}
spec:
  path: {path}
  workflowType: W
  taskQueue: q
{extra}
"""


def doc(name: str = "r", path: str = "r", extra: str = "") -> str:
    return ROUTE.format(name=name, path=path, extra=extra)


@pytest.fixture(scope="module")
def shopping():
    route = load_routes(SHIPPED).get("shopping")
    assert route is not None
    return route


@pytest.fixture(scope="module")
def orders():
    route = load_routes(SHIPPED).get("orders")
    assert route is not None
    return route


def test_the_shipped_routes_are_shopping_and_orders() -> None:
    table = load_routes(SHIPPED)
    assert list(table.routes) == ["orders", "shopping"]
    assert [route.name for route in table.routes.values()] == ["orders", "shopping"]


def test_shipped_route_serves_the_seed_shopping_endpoints(shopping) -> None:
    assert shopping.spec.workflow_type == "ShoppingWorkflow"
    assert shopping.spec.task_queue == "shopping-task-queue"
    assert shopping.spec.workflow_id.prefix == "shopping-workflow-"
    # The default list: the seed's four, and describe, events, list, cancel and terminate
    # (schedules are opt-in); it declares no signals, queries or updates, so those answer 404
    # by name.
    assert set(shopping.spec.operations) == set(DEFAULT_OPERATIONS)
    assert shopping.spec.signals == shopping.spec.queries == shopping.spec.updates == ()


def test_shipped_orders_route_serves_every_operation_and_message(orders) -> None:
    assert orders.spec.workflow_type == "OrderWorkflow"
    assert orders.spec.task_queue == "shopping-task-queue"
    assert orders.spec.id_prefix == "order-"
    assert set(orders.spec.operations) == set(SWITCHES)  # schedules too
    assert all(orders.allows(operation) for operation in Operation)
    assert [m.name for m in orders.spec.signals] == ["approve"]
    assert [m.name for m in orders.spec.queries] == ["progress"]
    assert [m.name for m in orders.spec.updates] == ["add_item"]
    authorization = orders.spec.authorization
    for access in Access:
        requirement = authorization.requirement(access)
        assert requirement is not None, access
        assert requirement.scopes == (f"orders:{access.value}",)


def item_schemas(shopping, orders) -> dict[str, dict]:
    """Every JSON Schema of an order line in the shipped routes."""
    return {
        "shopping.items": shopping.spec.input_schema["properties"]["items"],
        "orders.items": orders.spec.input_schema["properties"]["items"],
        "orders.add_item": {"items": orders.spec.updates[0].input_schema},
    }


def test_shipped_schemas_list_exactly_the_fruits_the_workflows_know(shopping, orders) -> None:
    for where, schema in item_schemas(shopping, orders).items():
        assert schema["items"]["properties"]["fruit"]["enum"] == [f.value for f in Fruit], where


def test_shipped_schemas_have_the_limits_the_workflows_check(shopping, orders) -> None:
    for where, schema in item_schemas(shopping, orders).items():
        amount = schema["items"]["properties"]["amount"]
        assert (amount["minimum"], amount["maximum"]) == (1, MAX_AMOUNT), where
    for where in ("shopping.items", "orders.items"):
        assert item_schemas(shopping, orders)[where]["maxItems"] == MAX_LINES, where
    lines = item_schemas(shopping, orders)
    assert lines["orders.add_item"]["items"] == lines["shopping.items"]["items"]


@pytest.mark.parametrize("path", ["orders", "shopping"])
def test_shipped_messages_are_handlers_of_the_workflow(path) -> None:
    """What a route declares, the workflow it starts must handle, with an argument exactly
    when the route gives the message an inputSchema."""
    route = load_routes(SHIPPED).routes[path]
    [defn] = [
        workflow._Definition.must_from_class(cls)
        for cls in WORKFLOWS
        if workflow._Definition.must_from_class(cls).name == route.spec.workflow_type
    ]
    handlers = {
        MessageKind.SIGNAL: defn.signals,
        MessageKind.QUERY: defn.queries,
        MessageKind.UPDATE: defn.updates,
    }
    for kind, by_name in handlers.items():
        declared = {m.name: m.input_schema is not None for m in route.spec.messages(kind)}
        handled = {
            name: len(inspect.signature(h.fn).parameters) > 1  # self, then the argument
            for name, h in by_name.items()
            if name is not None and not name.startswith("__")  # built-in handlers
        }
        assert declared == handled, kind


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"customer": "alice", "items": [{"fruit": "APPLE", "amount": 5}]}, []),
        ({"items": [{"fruit": "APPLE", "amount": 5}]}, ["customer"]),
        ({"customer": "", "items": [{"fruit": "APPLE", "amount": 5}]}, ["customer"]),
        ({"customer": "a" * 65, "items": [{"fruit": "APPLE", "amount": 5}]}, ["customer"]),
        ({"customer": "alice", "items": []}, ["items"]),
        ({"customer": "alice", "items": [{"fruit": "KIWI", "amount": 5}]}, ["items[0].fruit"]),
        ({"customer": "alice", "items": [{"fruit": "APPLE", "amount": 1}] * 101}, ["items"]),
        ({"customer": "alice", "items": [{"fruit": "APPLE", "amount": 1}], "x": 1}, ["x"]),
    ],
)
def test_order_bodies_are_checked_field_by_field(orders, body, errors) -> None:
    assert [e.field for e in orders.validate(body)] == errors


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"approver": "bob"}, []),
        ({}, ["approver"]),
        ({"approver": ""}, ["approver"]),
        ({"approver": "b" * 65}, ["approver"]),
        ({"approver": "bob", "role": "boss"}, ["role"]),
    ],
)
def test_approve_bodies_are_checked_field_by_field(orders, body, errors) -> None:
    approve = orders.message(MessageKind.SIGNAL, "approve")
    assert [e.field for e in approve.validate(body)] == errors


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"items": [{"fruit": "APPLE", "amount": 5}]}, []),
        ({"items": [{"fruit": "KIWI", "amount": 5}]}, ["items[0].fruit"]),
        ({"items": [{"fruit": "APPLE", "amount": 0}]}, ["items[0].amount"]),
        ({"items": [{"fruit": "APPLE", "amount": -3}]}, ["items[0].amount"]),
        ({"items": [{"fruit": "APPLE", "amount": 2.5}]}, ["items[0].amount"]),
        ({"items": [{"fruit": "APPLE", "amount": 5.0}]}, ["items[0].amount"]),
        ({"items": [{"fruit": "APPLE", "amount": "5"}]}, ["items[0].amount"]),
        ({"items": [{"fruit": "APPLE", "amount": True}]}, ["items[0].amount"]),
        ({"items": []}, ["items"]),
        ({}, ["items"]),
        ({"items": [{"fruit": "APPLE"}]}, ["items[0].amount"]),
        ({"items": [{"fruit": "APPLE", "amount": 1}], "coupon": "X"}, ["coupon"]),
        ({"items": [{"fruit": "APPLE", "amount": 1, "color": "red"}]}, ["items[0].color"]),
        ({"items": [{"fruit": "APPLE", "amount": 1}] * 101}, ["items"]),
        ([], ["body"]),
        ("items", ["body"]),
    ],
)
def test_request_bodies_are_checked_field_by_field(shopping, body, errors) -> None:
    assert [e.field for e in shopping.validate(body)] == errors


def test_every_error_is_reported_not_only_the_first(shopping) -> None:
    body = {"items": [{"fruit": "KIWI", "amount": 0}], "x": 1}
    assert [e.field for e in shopping.validate(body)] == ["items[0].amount", "items[0].fruit", "x"]


def test_missing_field_is_named_with_a_clear_message(shopping) -> None:
    [error] = shopping.validate({"items": [{"amount": 1}]})
    assert (error.field, error.message) == ("items[0].fruit", "field required")


def test_defaults_are_explicit_temporal_policies() -> None:
    [route] = parse_documents(doc(), source="t")
    assert (
        route.spec.workflow_id.reuse_policy.to_temporal() is WorkflowIDReusePolicy.REJECT_DUPLICATE
    )
    assert route.spec.workflow_id.conflict_policy.to_temporal() is WorkflowIDConflictPolicy.FAIL
    assert route.spec.sync_wait_seconds == 30


@pytest.mark.parametrize("policy", list(IdReusePolicy))
def test_every_reuse_policy_maps_to_temporal(policy) -> None:
    assert isinstance(policy.to_temporal(), WorkflowIDReusePolicy)


@pytest.mark.parametrize("policy", list(IdConflictPolicy))
def test_every_conflict_policy_maps_to_temporal(policy) -> None:
    assert isinstance(policy.to_temporal(), WorkflowIDConflictPolicy)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (doc(path="Bad_Path"), "spec.path"),
        (doc(extra="  syncWaitSeconds: 0"), "spec.syncWaitSeconds"),
        (doc(extra="  syncWaitSeconds: 301"), "spec.syncWaitSeconds"),
        (doc(extra="  operations: []"), "spec.operations"),
        (doc(extra="  operations: [explode]"), "spec.operations.0"),
        (doc(extra="  workflowId: {prefix: 'a b'}"), "spec.workflowId.prefix"),
        (doc(extra="  workflowId: {reusePolicy: Sometimes}"), "spec.workflowId.reusePolicy"),
        (doc(extra="  unknownField: 1"), "spec.unknownField"),
        (doc(extra="  inputSchema: {type: objekt}"), "spec.inputSchema.type"),
        (doc(extra="  inputSchema: {minItems: -1}"), "spec.inputSchema.minItems"),
    ],
)
def test_invalid_route_documents_name_the_field(text, field) -> None:
    with pytest.raises(RouteConfigError) as info:
        parse_documents(text, source="routes.yaml")
    assert info.value.field == field
    assert "routes.yaml" in str(info.value)


def test_two_routes_cannot_claim_one_path(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(doc(name="a", path="same"))
    (tmp_path / "b.yaml").write_text(doc(name="b", path="same"))
    with pytest.raises(RouteConfigError, match="claimed by routes 'a' and 'b'"):
        load_routes(tmp_path)


def _routes(*pairs: tuple[str, str | None]) -> list:
    """Routes named and pathed ``path``, with the given id prefix (None: the default)."""
    return [
        route
        for path, prefix in pairs
        for route in parse_documents(
            doc(name=path, path=path,
                extra="" if prefix is None else f"  workflowId: {{prefix: '{prefix}'}}"),
            source="t",
        )
    ]  # fmt: skip


@pytest.mark.parametrize(
    "pairs",
    [
        [("a", "order-"), ("b", "order-")],  # equal
        [("a", "order-"), ("b", "order-eu-")],  # the second starts with the first
        [("a", "order-eu-"), ("b", "order-")],  # and the other way round
        [("a", "o"), ("b", "order-")],
        [("order", None), ("b", "order-x-")],  # a default prefix (path and dash) overlaps too
        [("x", "p-"), ("y", "q-"), ("z", "p-1")],  # any two of several
    ],
)
def test_overlapping_id_prefixes_are_refused(pairs) -> None:
    with pytest.raises(RouteConfigError, match="overlaps") as info:
        build_table(_routes(*pairs))
    assert info.value.field == "spec.workflowId.prefix"


def test_the_route_of_a_workflow_is_the_one_whose_prefix_it_has() -> None:
    # Prefixes that share a start but where neither is a prefix of the other.
    table = build_table(
        _routes(("orders", "order-"), ("eu", "ordeu-"), ("refunds", None), ("x", "order:"))
    )
    for workflow_id, path in [
        ("order-123", "orders"),
        ("order-", "orders"),
        ("ordeu-9", "eu"),
        ("refunds-abc", "refunds"),
        ("order:1", "x"),
    ]:
        found = table.for_workflow_id(workflow_id)
        assert found is not None, workflow_id
        assert found.spec.path == path, workflow_id
    for workflow_id in ("order", "orde", "refunds", "Order-1", "xorder-1", "", "shopping-1"):
        assert table.for_workflow_id(workflow_id) is None, workflow_id


def test_malformed_yaml_and_missing_files_are_config_errors(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("spec: [unclosed")
    with pytest.raises(RouteConfigError, match="invalid YAML"):
        load_routes(tmp_path / "bad.yaml")
    with pytest.raises(RouteConfigError, match="cannot read"):
        load_routes(tmp_path / "missing.yaml")


def test_other_kinds_in_the_stream_are_ignored() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n" + doc()
    assert [r.name for r in parse_documents(text, source="t")] == ["r"]


def test_table_version_depends_on_content_not_on_file_order(tmp_path: Path) -> None:
    (tmp_path / "1.yaml").write_text(doc(name="a", path="a") + "---\n" + doc(name="b", path="b"))
    one = load_routes(tmp_path)
    (tmp_path / "1.yaml").write_text(doc(name="b", path="b") + "---\n" + doc(name="a", path="a"))
    two = load_routes(tmp_path)
    assert one.version == two.version
    assert list(one.routes) == ["a", "b"]
    (tmp_path / "1.yaml").write_text(doc(name="a", path="a"))
    assert load_routes(tmp_path).version != one.version


ORDER = """  inputSchema:
    type: object
    required: [order_id]
    properties: {order_id: {type: [string, integer]}}
  workflowId: {prefix: order-, template: "%s"}
"""


def order_route(template: str):
    [route] = parse_documents(doc(extra=ORDER % template), source="t")
    return route


@pytest.mark.parametrize(
    ("template", "body", "key", "expected"),
    [
        ("{body.order_id}", {"order_id": "A-17"}, None, "order-A-17"),
        ("{body.order_id}", {"order_id": 17}, "ignored", "order-17"),
        ("{idempotencyKey}", {"order_id": 1}, "k1", "order-k1"),
        ("{body.order_id}.{idempotencyKey}", {"order_id": 1}, "k1", "order-1.k1"),
    ],
)
def test_workflow_id_templates(template, body, key, expected) -> None:
    assert order_route(template).workflow_id(body, key) == (expected, True)


def test_without_template_the_key_or_a_random_id() -> None:
    [route] = parse_documents(doc(extra="  workflowId: {prefix: p-}"), source="t")
    assert route.workflow_id({}, "key") == ("p-key", True)
    first, deterministic = route.workflow_id({}, None)
    assert first.startswith("p-")
    assert not deterministic
    assert route.workflow_id({}, None)[0] != first


@pytest.mark.parametrize(
    ("template", "body", "key", "field"),
    [
        ("{idempotencyKey}", {"order_id": 1}, None, "header.Idempotency-Key"),
        ("{body.order_id}", {"order_id": "has space"}, None, "order_id"),
        ("{body.order_id}", {"order_id": True}, None, "order_id"),
        ("{body.order_id}", {"order_id": {"a": 1}}, None, "order_id"),
        ("{body.order_id}", {"order_id": "x" * 129}, None, "order_id"),
    ],
)
def test_workflow_id_template_errors_name_the_field(template, body, key, field) -> None:
    with pytest.raises(WorkflowIdError) as info:
        order_route(template).workflow_id(body, key)
    assert [e.field for e in info.value.errors] == [field]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (ORDER % "fixed", "without a placeholder"),
        (ORDER % "{body.other}", "inputSchema must require"),
        ("  runTimeoutSeconds: 60\n  executionTimeoutSeconds: 30\n", "must not exceed"),
    ],
)
def test_route_rules_beyond_field_types(extra, message) -> None:
    with pytest.raises(RouteConfigError, match=message):
        parse_documents(doc(extra=extra), source="t")


def test_pattern_properties_are_not_unknown_fields() -> None:
    schema = (
        "  inputSchema: {type: object, additionalProperties: false,"
        " properties: {a: {type: string}}, patternProperties: {'^x-': {type: string}}}\n"
    )
    [route] = parse_documents(doc(extra=schema), source="t")
    assert [e.field for e in route.validate({"a": "1", "x-trace": "2", "b": "3"})] == ["b"]


def test_table_round_trips_through_its_yaml(tmp_path: Path) -> None:
    table = load_routes(SHIPPED)
    (tmp_path / "table.yaml").write_text(dump_table(table))
    again = load_routes(tmp_path / "table.yaml")
    assert again.version == table.version
    assert list(again.routes) == list(table.routes)
    for path, route in table.routes.items():
        assert again.routes[path].spec == route.spec, path


def _official_error(schema: Any) -> tuple[list[Any], str] | None:
    try:
        StrictValidator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return list(exc.absolute_path), exc.message
    return None


def _flat_error(schema: Any) -> tuple[list[Any], str] | None:
    try:
        compiled.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return list(exc.absolute_path), exc.message
    return None


def _every_route_schema() -> list[Any]:
    found = []
    folders = ["k8s/routes", "tests/support/routes", "tests/support/polyglot_routes"]
    folders += [f"examples/workers/{lang}" for lang in ("go", "java", "typescript")]
    for folder in folders:
        for route in load_routes(ROOT / folder).routes.values():
            found.append(route.spec.input_schema)
            found.extend(
                m.input_schema for kind in MessageKind for m in route.spec.messages(kind)
                if m.input_schema is not None
            )  # fmt: skip
    return found


@pytest.mark.parametrize(
    "schema",
    [
        *_every_route_schema(),
        True,
        False,
        {},
        {"$defs": {"a": {"type": "string"}}, "$ref": "#/$defs/a"},
        {"type": "strin"},
        {"type": ["string", 5]},
        {"properties": {"a": {"type": 5}}},
        {"items": {"minLength": -1}},
        {"required": "a"},
        {"required": ["a", "a"]},
        {"$defs": {"x": {"enum": 3}}},
        {"prefixItems": [{"type": "nope"}]},
        {"additionalProperties": {"pattern": 3}},
        {"pattern": "("},
        {"minimum": "3"},
        {"anyOf": []},
        {"allOf": [{"not": {"maxItems": 1.5}}]},
        {"if": {"const": 1}, "then": 7},
        {"dependentRequired": {"a": [1]}},
        {"dependentSchemas": {"a": {"minProperties": -2}}},
        {"unevaluatedProperties": {"type": "x"}},
        {"contentSchema": {"multipleOf": 0}},
        {"$id": 3},
        {"$anchor": "not an anchor"},
        {"definitions": {"a": {"type": 1}}},
        {"dependencies": {"a": {"type": 1}}},
        {"format": 1},
        {"examples": 1},
        7,
        "string",
    ],
)
def test_the_flattened_meta_schema_judges_as_the_official_one(schema) -> None:
    # The operator checks every route's schemas with it (six times faster); what it refuses,
    # and the error it names, must be the official meta-schema's.
    assert compiled._META_CHECK is not None, "flattened: this jsonschema's vocabularies fit"
    assert _flat_error(schema) == _official_error(schema)


# --- what a table of thousands of routes holds per route ------------------------------------


def test_equal_route_models_share_one_fields_set_which_stays_theirs(orders) -> None:
    # A table of 2,000 routes held 8 MiB of equal "fields given" sets, one per model.
    again = load_routes(SHIPPED).get("orders")
    assert again is not None
    assert again is not orders
    one, two = orders.spec.authorization, again.spec.authorization
    assert one is not two
    assert one == two
    assert one.model_fields_set is two.model_fields_set
    assert one.start.model_fields_set is two.read.model_fields_set  # Requirement({scopes})
    # What pydantic reads the set for is unchanged...
    assert one.start.model_dump(exclude_unset=True) == {"scopes": ("orders:start",)}
    # ...and nothing can add to a shared set: the models are frozen, a copy has its own.
    with pytest.raises(ValueError, match="frozen"):
        one.start.groups = ("g",)  # type: ignore[misc]
    copied = one.start.model_copy(update={"groups": ("g",)})
    assert copied.model_fields_set == {"scopes", "groups"}
    assert two.read.model_fields_set == {"scopes"}
    assert one.start.model_dump(exclude_unset=True) == {"scopes": ("orders:start",)}


def test_a_route_grants_its_authorization_blocks_own_tuples(orders) -> None:
    # No set of its own per route and kind: the caller's sets test the block's tuples.
    requirement = orders.spec.authorization.read
    assert orders.grants[Access.READ] == (requirement.scopes, requirement.groups)
    assert orders.grants[Access.READ][0] is requirement.scopes


def test_a_schema_is_compiled_on_its_first_use_and_once(orders) -> None:
    route = load_routes(SHIPPED).get("orders")
    assert route is not None
    approve = route.message(MessageKind.SIGNAL, "approve")
    assert route.validator._validator is None
    assert approve.validator._validator is None
    assert route.validate({"customer": "a", "items": []}) == orders.validate(
        {"customer": "a", "items": []}
    )
    built = route.validator._validator
    assert built is not None
    assert approve.validator._validator is None
    route.validate({})
    assert route.validator._validator is built


# --- a route's schema never makes the gateway fetch a URL ------------------------------------


@pytest.fixture
def url_server():
    """A server on loopback that answers any GET with a schema, and records each path."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"type": "integer"}')

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()
    server.server_close()


def test_a_ref_to_a_url_is_refused_and_never_fetched(url_server) -> None:
    # jsonschema fetches a remote $ref by default: a route's author could make every API pod
    # call any address, at every validation.
    url, hits = url_server
    text = doc(extra=f"  inputSchema: {{properties: {{n: {{$ref: '{url}/x'}}}}}}")
    with pytest.raises(RouteConfigError) as refused:
        parse_documents(text, source="r.yaml")
    assert refused.value.field == "spec.inputSchema.properties.n.$ref"
    assert "fetches no URL" in str(refused.value)
    # A validator made without the check (the API trusts the operator's) does not fetch either:
    # the lookup happens, and is refused.
    check = compiled.SchemaCheck({"$ref": f"{url}/y"})
    with pytest.raises(Exception, match="Unresolvable"):
        list(check.iter_errors(1))
    assert hits == []


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ("{$ref: '#/$defs/missing'}", "spec.inputSchema.$ref"),
        ("{items: {$ref: 'other.json'}}", "spec.inputSchema.items.$ref"),
        ("{$defs: {a: {$dynamicRef: '#nowhere'}}}", "spec.inputSchema.$defs.a.$dynamicRef"),
    ],
)
def test_a_ref_that_does_not_resolve_is_refused_naming_it(schema, field) -> None:
    with pytest.raises(RouteConfigError) as refused:
        parse_documents(doc(extra=f"  inputSchema: {schema}"), source="r.yaml")
    assert refused.value.field == field


def test_refs_within_the_schema_resolve() -> None:
    schema = ("{$defs: {sku: {type: string, maxLength: 8}}, type: object,"
              " properties: {a: {$ref: '#/$defs/sku'}, b: {$ref: '#'}}}")  # fmt: skip
    route = build_table(parse_documents(doc(extra=f"  inputSchema: {schema}"), source="r.yaml"))
    validated = route.get("r")
    assert validated is not None
    assert validated.validate({"a": "ABC"}) == []
    assert [e.field for e in validated.validate({"a": "TOO-LONG-SKU"})] == ["a"]

"""The operation table is complete: every Operation has a row and a handler registered at the
row's method and path (the kind of access each needs: ``test_authorization``)."""

from __future__ import annotations

import pytest
from fastapi.openapi.utils import get_openapi

from gateway_api.app import create_app
from gateway_core.routes import (
    DEFAULT_OPERATIONS,
    OPERATIONS,
    Addressed,
    Operation,
    WorkflowRouteSpec,
    build_table,
)
from support.gateway import dev_settings


def _registered() -> dict[str, list[tuple[str, str]]]:
    """Operation value to the (method, path) pairs registered for it, from each handler's
    ``x-gateway-operation`` (FastAPI's own document, not the per-route one of ``openapi``)."""
    app = create_app(dev_settings(), routes=build_table([]))
    spec = get_openapi(title=app.title, version=app.version, routes=app.routes)
    found: dict[str, list[tuple[str, str]]] = {}
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if "x-gateway-operation" in operation:
                found.setdefault(operation["x-gateway-operation"], []).append(
                    (method.upper(), path)
                )
    return found


REGISTERED = _registered()


def test_every_operation_has_a_row() -> None:
    assert set(OPERATIONS) == set(Operation)


@pytest.mark.parametrize("operation", list(Operation), ids=str)
def test_every_operation_has_a_handler_at_its_rows_method_and_path(operation) -> None:
    row = OPERATIONS[operation]
    assert (row.method, row.path) in REGISTERED.get(operation.value, [])


def test_no_handler_claims_an_operation_that_does_not_exist() -> None:
    assert set(REGISTERED) <= {o.value for o in Operation}


@pytest.mark.parametrize("operation", list(Operation), ids=str)
def test_a_rows_path_names_what_it_addresses(operation) -> None:
    row = OPERATIONS[operation]
    assert ("{route_path}" in row.path) is (row.addressed is Addressed.ROUTE)
    assert ("{workflow_id}" in row.path) is (row.addressed is Addressed.WORKFLOW)
    assert row.by_id is (row.addressed is Addressed.WORKFLOW)


def test_a_route_without_operations_serves_the_frozen_default_list() -> None:
    spec = WorkflowRouteSpec(path="p", workflow_type="W", task_queue="q")
    assert spec.operations == DEFAULT_OPERATIONS
    assert set(DEFAULT_OPERATIONS) <= set(Operation)
    assert len(set(DEFAULT_OPERATIONS)) == len(DEFAULT_OPERATIONS) == 16


def test_the_second_forms_of_query_and_update() -> None:
    assert ("GET", "/workflows/{workflow_id}/queries/{name}") in REGISTERED["query"]
    assert ("GET", "/workflows/{workflow_id}/updates/{name}/{update_id}") in REGISTERED["update"]

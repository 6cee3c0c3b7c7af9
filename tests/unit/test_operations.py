"""The operation table is complete: every Operation has a row and a handler registered at the
row's method and path (the kind of access each needs: ``test_authorization``)."""

from __future__ import annotations

import pytest
from fastapi.openapi.utils import get_openapi

from gateway_api.api.operations import OPERATIONS
from gateway_api.app import create_app
from gateway_core.routes import Operation, build_table
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


def test_by_id_rows_address_one_workflow_and_starts_a_route() -> None:
    starts = {
        Operation.START, Operation.SYNC_START, Operation.SIGNAL_WITH_START,
        Operation.UPDATE_WITH_START,
    }  # fmt: skip
    for operation, row in OPERATIONS.items():
        if operation in starts:
            assert "{route_path}" in row.path, operation
            assert not row.by_id, operation
        elif operation is not Operation.LIST:
            assert row.by_id, operation


def test_the_second_forms_of_query_and_update() -> None:
    assert ("GET", "/workflows/{workflow_id}/queries/{name}") in REGISTERED["query"]
    assert ("GET", "/workflows/{workflow_id}/updates/{name}/{update_id}") in REGISTERED["update"]

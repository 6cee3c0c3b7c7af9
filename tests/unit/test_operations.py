"""The operation table is complete: every Operation has a row and a handler registered at the
row's method and path (the kind of access each needs: ``test_authorization``)."""

from __future__ import annotations

import re

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
from support.procs import ROOT


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


# The prose that shows each operation is written by hand (README's Endpoints table groups
# related rows; docs/api.md shows each with curl); these two tests keep both complete.
_ID = r"(?:\$\{?\w+\}?|\{id\})"  # $ID, ${ID}, {id}
_SEGMENT = {"{route_path}": r"[\w.-]+", "{workflow_id}": _ID, "{schedule_id}": _ID,
            "{name}": r"[\w.-]+"}  # fmt: skip


def _curl_method(line: str) -> str:
    if explicit := re.search(r"-X\s+([A-Z]+)", line):
        return explicit[1]
    return "POST" if re.search(r"\s(?:-d|--data|--json)\s", line) else "GET"


@pytest.mark.parametrize("operation", list(Operation), ids=str)
def test_docs_api_shows_every_operation_with_curl(operation) -> None:
    row = OPERATIONS[operation]
    path = "/".join(_SEGMENT.get(s, re.escape(s)) for s in row.path.strip("/").split("/"))
    url = re.compile(r"(?:\$API|http://localhost:8000)/" + path + r"(?=[\s?'\"]|$)")
    text = (ROOT / "docs" / "api.md").read_text()
    shown = [line for line in text.splitlines() if "curl" in line and url.search(line)]
    assert row.method in {_curl_method(line) for line in shown}, (row.method, row.path, shown)


def _readme_endpoints() -> list[str]:
    """The first cell of each row of README's Endpoints table."""
    text = (ROOT / "README.md").read_text()
    table = text[text.index("## Endpoints") :].split("\n\n")[1]
    return [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]


@pytest.mark.parametrize("operation", list(Operation), ids=str)
def test_readme_lists_every_operation(operation) -> None:
    row = OPERATIONS[operation]
    path = row.path.replace("{route_path}", "<route>")
    path = path.replace("{workflow_id}", "{id}").replace("{schedule_id}", "{id}")
    head, _, last = path.rpartition("/")
    alone = re.compile(re.escape(path) + r"(?![\w/{<])")  # not a prefix of a longer path
    assert any(
        row.method in cell and (alone.search(cell) or (f"{head}/" in cell and f"`/{last}`" in cell))
        for cell in _readme_endpoints()
    ), (row.method, path)

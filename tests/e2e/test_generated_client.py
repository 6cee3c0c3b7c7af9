"""The contract, from the client's side: a TypeScript client generated from the live API's
``/openapi.json`` (openapi-typescript, called with openapi-fetch), compiled by ``tsc`` against
those generated types and run with node against a real API, Temporal and worker.

``contract/client.ts`` calls every operation: the starts, reads, messages and stopping of the
tally route (:mod:`support.message_workflows`) and the shipped shopping route. A type error is a
failure (the document promised something the code does not fit), so is an answer that differs
from what the document says, and so is an operation the document lists that the program never
called: a new operation needs a call here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.openapi_tools import node_tools, routes_with_messages
from support.procs import ApiProcess, sample_worker

pytestmark = pytest.mark.e2e

PROGRAM = Path(__file__).parent / "contract"


@pytest.fixture(scope="module")
def tally_api(stack, logs_dir, tmp_path_factory) -> Iterator[ApiProcess]:
    """An API on the shipped routes and the tally route, with a worker for each (the stack's
    runs the shopping workflows)."""
    task_queue = f"tally-{uuid.uuid4().hex[:12]}"
    routes = routes_with_messages(tmp_path_factory.mktemp("contract") / "routes", task_queue)
    worker = sample_worker(logs_dir, temporal=stack.temporal.address, task_queue=task_queue)
    api = ApiProcess(
        logs_dir, temporal=stack.temporal.address, env={"API_ROUTES_PATH": str(routes)}
    )
    try:
        api.wait_ready()
        yield api
    finally:
        api.stop()
        worker.stop()


def run(args: list[str | os.PathLike[str]], **kwargs) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=180, check=False, **kwargs
    )
    assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done


def test_every_operation_through_a_generated_client(tally_api: ApiProcess, tmp_path: Path) -> None:
    tools = node_tools()
    spec_url = tally_api.url + "/openapi.json"
    run([tools / "openapi-typescript", spec_url, "-o", tmp_path / "schema.d.ts"])
    for name in ("client.ts", "tsconfig.json"):
        shutil.copy(PROGRAM / name, tmp_path / name)
    (tmp_path / "package.json").write_text('{"type": "module", "private": true}\n')
    (tmp_path / "node_modules").symlink_to(tools.parent)
    run([tools / "tsc", "-p", tmp_path])  # type errors fail here

    done = run(
        ["node", tmp_path / "out" / "client.js"],
        env={**os.environ, "GATEWAY_URL": tally_api.url},
    )
    called = set(json.loads(done.stdout.strip().splitlines()[-1])["called"])
    spec = httpx.get(spec_url, timeout=10).json()
    documented = {f"{m.upper()} {p}" for p, item in spec["paths"].items() for m in item}
    assert called == documented, {
        "never called": sorted(documented - called),
        "undocumented": sorted(called - documented),
    }
    print(f"\n{len(called)} operations called through the generated client")

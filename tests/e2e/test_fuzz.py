"""Fuzzing the live API from its own ``/openapi.json`` with schemathesis: a real API process with
authentication on, the shipped routes and the tally route (every kind of message, so every
operation is in the document), a real Temporal and workers for both behind it.

Every operation gets generated requests that fit the schema and ones that do not, each sent with
an administrator's key, a key with only read access, or no credentials. Whatever comes back must
not be a server error, and every 4xx must be an RFC 9457 problem with a stable code. The number of
requests sent is printed (``-s``) for the record.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st

from gateway_api.security.keys import new_key
from support.gateway import write_keys_file
from support.openapi_tools import routes_with_messages
from support.procs import ApiProcess, sample_worker

pytestmark = pytest.mark.e2e

ADMIN, READER = new_key(), new_key()
CREDENTIALS = {
    "admin": {"X-API-Key": ADMIN},
    "reader": {"Authorization": f"Bearer {READER}"},
    "none": {},
}
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
"""Per operation and generation mode (fewer where the inputs allow fewer). With 60 the test took
87 to 103 s of a warm CI run on two cores (45 operations), the slowest test by far; a deeper
run: ``FUZZ_EXAMPLES=200 pytest tests/e2e/test_fuzz.py``."""


@pytest.fixture(scope="module")
def fuzzed_api(stack, logs_dir, tmp_path_factory) -> Iterator[ApiProcess]:
    folder = tmp_path_factory.mktemp("fuzz")
    keys = write_keys_file(
        folder / "keys.yaml",
        {"fuzz-admin": (ADMIN, ["gateway:admin"]),
         "fuzz-reader": (READER, ["shopping:read", "tally:read"])},
    )  # fmt: skip
    task_queue = f"fuzz-tally-{uuid.uuid4().hex[:12]}"
    # A generated start leaves its tally open: answer 202 soon rather than wait 5 s.
    routes = routes_with_messages(folder / "routes", task_queue, syncWaitSeconds=0.5)
    worker = sample_worker(logs_dir, temporal=stack.temporal.address, task_queue=task_queue)
    api = ApiProcess(
        logs_dir,
        temporal=stack.temporal.address,
        env={
            "API_ENVIRONMENT": "production",
            "API_AUTH_DISABLED": "false",
            "API_KEYS_FILE": str(keys),
            "API_ROUTES_PATH": str(routes),
            "API_RATE_LIMIT": "100000/s",
            "API_RATE_LIMIT_GLOBAL": "100000/s",
            # The fuzzer sends wrong credentials on purpose; limited, it would mostly see 429s.
            "API_RATE_LIMIT_AUTH_FAILURES": "off",
            "API_RESULT_WAIT_SECONDS": "2",
            "API_EVENTS_MAX_SECONDS": "2",  # a stream of a running workflow ends quickly
            "API_MAX_WAIT_SECONDS": "2",  # an order waits days for approval: no 30 s sync waits
            "LOG_LEVEL": "WARNING",
        },
    )
    try:
        api.wait_ready()
        yield api
    finally:
        api.stop()
        worker.stop()


def check(response: schemathesis.Response, seen: Counter[str], label: str) -> None:
    seen[f"{response.status_code}"] += 1
    assert response.status_code < 500, f"{label}: {response.status_code} {response.text[:500]}"
    headers = {k.lower(): v[0] if isinstance(v, list) else v for k, v in response.headers.items()}
    if response.status_code >= 400:
        assert headers["content-type"] == "application/problem+json", label
        problem = response.json()
        assert problem["status"] == response.status_code, label
        assert problem["code"], label
        assert problem["type"].endswith("/" + problem["code"]), label
        assert problem["title"], label
    for header in ("x-content-type-options", "content-security-policy", "x-request-id"):
        assert header in headers, (label, header)


def fuzz_operation(
    url: str,
    operation: schemathesis.APIOperation,
    mode: schemathesis.GenerationMode,
    session: requests.Session,
    seen: Counter[str],
) -> int:
    """Send the generated requests of one operation and mode; how many were sent."""
    sent = 0
    label = f"{operation.label} [{mode.value}]"

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @hypothesis.given(
        case=operation.as_strategy(generation_mode=mode),
        who=st.sampled_from(sorted(CREDENTIALS)),
    )
    def fuzz(case: schemathesis.Case, who: str) -> None:
        nonlocal sent
        sent += 1
        response = case.call(base_url=url, session=session, headers=CREDENTIALS[who], timeout=30)
        check(response, seen, f"{label} as {who}")

    try:
        fuzz()
    except hypothesis.errors.Unsatisfiable:
        # Nothing can be wrong with an operation without inputs: no negative cases.
        assert mode is schemathesis.GenerationMode.NEGATIVE, label
    return sent


@pytest.mark.timeout(900)  # thousands of requests, on two busy cores
def test_no_generated_request_breaks_the_api(fuzzed_api: ApiProcess) -> None:
    # Read as the administrator: outside development a caller is shown its routes only.
    schema = schemathesis.openapi.from_url(
        fuzzed_api.url + "/openapi.json", headers={"X-API-Key": ADMIN}
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    # The probes, list and count, the starts of the three routes (shopping, orders, tally), the
    # by-id operations (events and callbacks included), one per declared message, and the
    # nine of orders' schedules.
    assert len(operations) == 45
    seen: Counter[str] = Counter()
    with requests.Session() as session:  # its pooled sockets closed here, not at some gc
        sent = sum(
            fuzz_operation(fuzzed_api.url, operation, mode, session, seen)
            for operation in operations
            for mode in schemathesis.GenerationMode
        )
    counts = dict(sorted(seen.items()))
    print(f"\nfuzzed {sent} requests over {len(operations)} operations, by status: {counts}")
    assert sent >= len(operations) * 2 * 5
    # Each interesting answer showed up: success, refusals of every kind, and not-found.
    assert {"200", "401", "404"} <= set(seen), seen
    assert "429" not in seen, "rate limits answered for the handlers: the fuzz tested nothing"
    assert fuzzed_api.alive()
    assert "unhandled error" not in Path(fuzzed_api.log_path).read_text()

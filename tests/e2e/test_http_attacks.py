"""Issue 11's attacks that depend on the HTTP server, against a real ``python -m gateway_api``
(production mode, API keys) over raw loopback sockets: repeated headers, a forged Host with a
trailing slash, HEAD, the Server banner, an encoded slash, malformed HTTP, a client that leaves
mid-body, and the metrics port's banner."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway_api.security.keys import new_key
from gateway_core.metrics import serve_metrics
from support.gateway import write_keys_file
from support.procs import ApiProcess, eventually, free_port

pytestmark = pytest.mark.e2e

KEY = new_key()


@pytest.fixture(scope="module")
def api(temporal_server, tmp_path_factory, logs_dir: Path) -> Iterator[ApiProcess]:
    keys = write_keys_file(
        tmp_path_factory.mktemp("attack-keys") / "keys.yaml",
        {"attacker": (KEY, ["shopping:start", "shopping:read"])},
    )
    process = ApiProcess(
        logs_dir,
        temporal=temporal_server.address,
        env={"API_ENVIRONMENT": "production", "API_AUTH_DISABLED": "false",
             "API_KEYS_FILE": str(keys)},
    )  # fmt: skip
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def raw(port: int, request: bytes, *, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as is; the status, the headers (lower-case names) and the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def request(method: str, path: str, *headers: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.mark.parametrize(
    "headers",
    [
        (f"Authorization: Bearer {KEY}", "Authorization: Bearer tgw_other"),
        (f"X-API-Key: {KEY}", "X-API-Key: tgw_other"),
        (f"X-API-Key: {KEY}", "Idempotency-Key: a", "Idempotency-Key: b"),
        # Issue 24 #12: the first Callback-Url won.
        (
            f"X-API-Key: {KEY}",
            "Callback-Url: https://a.example/",
            "Callback-Url: https://b.example/",
        ),
        (f"X-API-Key: {KEY}", "Callback-Outcomes: failed", "Callback-Outcomes: completed"),
        (f"X-API-Key: {KEY}", "Last-Event-ID: 1", "Last-Event-ID: 9"),
    ],
)
def test_a_repeated_credential_or_key_is_400(api: ApiProcess, headers: tuple[str, ...]) -> None:
    """#6: the first value won. Now a repeat is ambiguous and refused before anything else."""
    status, got, body = raw(api.port, request(
        "POST", "/workflows/shopping/async", *headers, "Content-Type: application/json",
        body=b'{"items": [{"fruit": "APPLE", "amount": 1}]}',
    ))  # fmt: skip
    assert status == 400, body
    assert json.loads(body)["code"] == "duplicate-header"
    assert got["x-content-type-options"] == "nosniff"


def test_a_junk_authorization_next_to_a_good_key_is_refused(api: ApiProcess) -> None:
    """#6: ``Authorization: Basic …`` was ignored next to a valid X-API-Key."""
    status, _, body = raw(api.port, request(
        "GET", "/workflows/shopping-workflow-x/status",
        "Authorization: Basic Zm9vOmJhcg==", f"X-API-Key: {KEY}",
    ))  # fmt: skip
    assert status == 401, body
    assert "not both" in json.loads(body)["detail"]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_trailing_slash_is_404_and_never_a_redirect_to_the_host_header(
    api: ApiProcess, method: str
) -> None:
    """#7: 307 to http://<Host header>/… . Now a trailing slash is another path."""
    forged = request(method, "/workflows/shopping/", f"X-API-Key: {KEY}").replace(
        b"Host: 127.0.0.1", b"Host: evil.example"
    )
    status, headers, _ = raw(api.port, forged)
    assert status == 404
    assert "location" not in headers


def test_head_answers_like_get_and_no_server_banner(api: ApiProcess) -> None:
    """#10: HEAD answered 405, and every response said ``server: uvicorn``."""
    for path in ("/", "/livez", "/openapi.json"):
        get_status, get_headers, get_body = raw(api.port, request("GET", path))
        status, headers, body = raw(api.port, request("HEAD", path))
        assert (status, body) == (get_status, b""), path
        assert headers["content-type"] == get_headers["content-type"]
        assert headers["content-length"] == str(len(get_body))
        assert "server" not in headers
        assert "server" not in get_headers


def test_an_encoded_slash_is_never_a_separator(api: ApiProcess) -> None:
    """#11: ``/workflows/<id>%2Fstatus`` was routed as ``/workflows/<id>/status``."""
    paths = ("/workflows/shopping-workflow-x%2Fstatus", "/workflows/shopping-workflow-x%2fstatus",
             "/workflows/shopping%2Fasync")  # fmt: skip
    for path in paths:
        status, headers, body = raw(api.port, request("GET", path, f"X-API-Key: {KEY}"))
        assert status == 404, (path, body)
        assert json.loads(body)["code"] == "not-found"
        assert headers["cache-control"] == "no-store"


def test_malformed_http_is_a_problem_with_the_security_headers(api: ApiProcess) -> None:
    """#10: the server answers a request it cannot parse before the app sees it; that 400 was
    uvicorn's plain text, without the security headers."""
    status, headers, body = raw(api.port, b"GET / HTTP/1.1\r\nHost x\r\n\r\n")
    assert status == 400
    assert "server" not in headers
    assert headers["content-type"] == "application/problem+json"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["cache-control"] == "no-store"
    assert json.loads(body)["code"] == "malformed-request"


def test_a_client_leaving_mid_body_is_logged_as_499_not_500(api: ApiProcess) -> None:
    """#1 (its app part): the disconnect was logged as an unhandled 500 with a traceback."""
    marker = f"left-{free_port()}"
    partial = request(
        "POST", "/workflows/shopping/async", f"X-API-Key: {KEY}", f"X-Request-ID: {marker}",
        "Content-Type: application/json", "Content-Length: 1000",
    )  # fmt: skip
    with socket.create_connection(("127.0.0.1", api.port), timeout=5) as sock:
        sock.sendall(partial + b'{"items": [')

    def logged() -> dict:
        lines = [json.loads(line) for line in api.log().splitlines() if marker in line]
        return next(line for line in lines if line.get("event") == "request")

    line = eventually(logged, timeout=10)
    assert line["status"] == 499
    mine = [json.loads(ln) for ln in api.log().splitlines() if marker in ln]
    assert not [ln for ln in mine if ln.get("event") == "unhandled error"]


def test_metrics_ports_have_no_version_banner(api: ApiProcess) -> None:
    """#8: ``Server: WSGIServer/0.2 CPython/3.11.7`` on the API's (and the operator's) metrics
    port. Both serve through gateway_core.metrics now; the API's binds loopback here, as under
    ``make run``."""
    response = httpx.get(f"http://127.0.0.1:{api.metrics_port}/metrics", timeout=5)
    assert response.status_code == 200
    assert "http_server_active_requests" in response.text
    assert "server" not in response.headers
    server = serve_metrics(free_port(), "127.0.0.1")  # what the operator runs
    try:
        response = httpx.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5)
        assert response.status_code == 200
        assert "server" not in response.headers
    finally:
        server.shutdown()
        server.server_close()

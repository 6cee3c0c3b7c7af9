"""Slow clients cannot exhaust the API (issue 11, item 1): real sockets on loopback against a
real ``python -m gateway_api``, bounded in count and time.

The attack as it was found: connections that send ``GET /x HTTP/1.1\\r\\nHost: x\\r\\nX-A: `` and
nothing more stayed open forever, enough of them hit the open-file limit, and a body sent a
byte every 1.5 s was held for over a minute. The deadlines are shortened here (the defaults
are 10 s and 15 s) so the test takes seconds.
"""

from __future__ import annotations

import selectors
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from support.procs import ApiProcess, eventually

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 3.0
MAX_CONNECTIONS = 2100
PARTIAL = b"GET /workflows/x/status HTTP/1.1\r\nHost: x\r\nX-A: "
BODY = b'{"items": [{"fruit": "APPLE", "amount": 5}]}'


@pytest.fixture(scope="module")
def guarded_api(logs_dir, temporal_server) -> Iterator[ApiProcess]:
    api = ApiProcess(
        logs_dir,
        temporal=temporal_server.address,
        env={
            "API_HEADER_READ_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
            "API_BODY_READ_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
            "API_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        },
    )
    try:
        api.wait_ready()
        yield api
    finally:
        api.stop()


def open_partial(api: ApiProcess, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", api.port), timeout=5)
        s.sendall(PARTIAL)
        s.setblocking(False)
        socks.append(s)
    return socks


def wait_all_closed(socks: list[socket.socket], timeout: float) -> dict[socket.socket, bytes]:
    """What each socket received before the server closed it; fails if one stays open."""
    received = {s: b"" for s in socks}
    selector = selectors.DefaultSelector()
    for s in socks:
        selector.register(s, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while selector.get_map() and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.2):
                s = key.fileobj
                assert isinstance(s, socket.socket)
                try:
                    data = s.recv(4096)
                except ConnectionResetError:
                    data = b""
                received[s] += data
                if not data:
                    selector.unregister(s)
        assert not selector.get_map(), f"{len(selector.get_map())} connections still open"
    finally:
        selector.close()
        for s in socks:
            s.close()
    return received


def healthy(api: ApiProcess) -> None:
    assert httpx.get(api.url + "/livez", timeout=2).status_code == 200
    started = httpx.post(api.url + "/workflows/shopping/async", content=BODY, timeout=10,
                         headers={"Content-Type": "application/json"})  # fmt: skip
    assert started.status_code == 200, started.text


def test_partial_headers_are_closed_within_the_deadline(guarded_api) -> None:
    log_before = len(guarded_api.log())
    opened = time.monotonic()
    socks = open_partial(guarded_api, 500)
    healthy(guarded_api)  # while all 500 are open
    received = wait_all_closed(socks, timeout=HEADER_TIMEOUT + 5)
    assert time.monotonic() - opened < HEADER_TIMEOUT + 5
    assert all(r.startswith(b"HTTP/1.1 408 ") for r in received.values())
    healthy(guarded_api)
    # One throttled line for the 500 closures, not one each.
    grown = guarded_api.log()[log_before:]
    assert grown.count("request headers too slow") <= 2, grown[-2000:]
    assert len(grown) < 20_000


def test_a_body_trickled_a_byte_at_a_time_is_cut_off(guarded_api) -> None:
    s = socket.create_connection(("127.0.0.1", guarded_api.port), timeout=5)
    s.sendall(
        b"POST /workflows/shopping/async HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY)
    )
    started = time.monotonic()
    closed_after = None
    try:
        for byte in BODY:
            s.sendall(bytes([byte]))
            s.settimeout(1.5)
            try:
                if s.recv(4096) == b"":
                    closed_after = time.monotonic() - started
                    break
            except TimeoutError:
                continue
            except (ConnectionResetError, BrokenPipeError):
                closed_after = time.monotonic() - started
                break
    except (ConnectionResetError, BrokenPipeError):
        closed_after = time.monotonic() - started
    finally:
        s.close()
    assert closed_after is not None, "the slow body was read to its end"
    assert closed_after < BODY_TIMEOUT + 2
    healthy(guarded_api)
    eventually(lambda: "request body too slow" in guarded_api.log(), timeout=5)
    assert "Traceback" not in guarded_api.log()


def test_connections_past_the_bound_are_refused_and_livez_answers_below_it(guarded_api) -> None:
    socks = open_partial(guarded_api, 2000)
    try:
        # 2,000 attackers open: the probe and a real request still get through.
        healthy(guarded_api)
        extra = open_partial(guarded_api, 200)
    except BaseException:
        for s in socks:
            s.close()
        raise
    received = wait_all_closed(socks + extra, timeout=HEADER_TIMEOUT + 10)
    refused = [r for r in received.values() if r.startswith(b"HTTP/1.1 503 ")]
    # Those past the bound were refused at once, the others timed out.
    assert len(refused) >= 200 - (MAX_CONNECTIONS - 2000), len(refused)
    assert all(r.startswith((b"HTTP/1.1 503 ", b"HTTP/1.1 408 ")) for r in received.values())
    healthy(guarded_api)

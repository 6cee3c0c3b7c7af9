"""The caller's visibility query is confined to its routes' workflows, whatever it says; and the
listing endpoints refuse bad parameters before any call to Temporal (none listens here)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from temporalio.envconfig import ClientConnectConfig

from gateway_api.app import create_app
from gateway_api.errors import InvalidQuery
from gateway_api.temporal.visibility import (
    PageTokenKeys,
    decode_page_token,
    encode_page_token,
    parse,
    restriction,
)
from gateway_core.routes import SWITCHES, CompiledRoute, Operation, build_table
from support.gateway import dev_settings, route
from support.procs import free_port

ALPHA = route("alpha", "Order", "q")
R = "(WorkflowId STARTS_WITH 'alpha-' AND WorkflowType = 'Order')"


@pytest.mark.parametrize(
    ("query", "sent"),
    [
        (None, f"({R})"),
        ("", f"({R})"),
        ("ExecutionStatus = 'Running'", f"({R}) AND (ExecutionStatus = 'Running')"),
        # An OR stays inside the parentheses, where it cannot widen anything.
        ("WorkflowId STARTS_WITH '' OR 1=1", f"({R}) AND (WorkflowId STARTS_WITH '' OR 1=1)"),
        ("WorkflowId = ')' OR WorkflowId = \"(\"",
         f"({R}) AND (WorkflowId = ')' OR WorkflowId = \"(\")"),
        ("WorkflowType = 'It''s'", f"({R}) AND (WorkflowType = 'It''s')"),
        ("`ExecutionStatus` = 'Running'", f"({R}) AND (`ExecutionStatus` = 'Running')"),
        ("(a = 'x') AND (b = 'y')", f"({R}) AND ((a = 'x') AND (b = 'y'))"),
        # ORDER BY is moved after the wrapped filter.
        ("ExecutionStatus='Running' ORDER BY StartTime",
         f"({R}) AND (ExecutionStatus='Running') ORDER BY StartTime"),
        ("x = 'order by' ORDER BY StartTime DESC, `WorkflowId` asc",
         f"({R}) AND (x = 'order by') ORDER BY StartTime DESC, `WorkflowId` asc"),
        ("ORDER BY StartTime", f"({R}) ORDER BY StartTime"),
    ],
)  # fmt: skip
def test_queries_are_confined(query, sent) -> None:
    assert parse(query).within([ALPHA]) == sent


@pytest.mark.parametrize(
    "query",
    [
        ") OR (1=1",
        "WorkflowType='X') OR (WorkflowId STARTS_WITH ''",
        "x = 1) OR (y = 2",
        "(x = 1",
        "((x = 1)",
        "'",
        "WorkflowId = 'abc",
        'WorkflowId = "abc',
        "`WorkflowId = 'a'",
        "WorkflowId = 'x\\') OR (WorkflowId STARTS_WITH '",
        "WorkflowId = 'a' -- ) OR (1=1",
        "WorkflowId = 'a' # x",
        "WorkflowId = 'a' /* ) OR ( */",
        "WorkflowId = 'a'; DROP",
        "ORDER BY StartTime) OR (1=1",
        "(x = 1 ORDER BY StartTime)",
        "ORDER BY StartTime AND x = 1",
        "ORDER BY 'StartTime'",
        "ORDER BY StartTime ORDER BY CloseTime",
        "x = 1 ORDER BY",
        "x = '\x00'\x00",
        "x" * 2001,
    ],
)
def test_queries_that_could_widen_are_refused(query) -> None:
    with pytest.raises(InvalidQuery) as caught:
        parse(query)
    assert caught.value.field == "query"


def test_route_values_are_quoted() -> None:
    odd = route("odd", "It's a \\ type", "q")
    assert restriction([odd]) == (
        "(WorkflowId STARTS_WITH 'odd-' AND WorkflowType = 'It''s a \\\\ type')"
    )
    with pytest.raises(ValueError):
        restriction([])


KEYS = PageTokenKeys([b"current", b"previous"])


def test_page_tokens_belong_to_their_query() -> None:
    token = encode_page_token(KEYS, "q1", b'{"RunID":"x"}')
    assert token is not None
    assert decode_page_token(KEYS, "q1", token) == b'{"RunID":"x"}'
    assert encode_page_token(KEYS, "q1", None) is None
    assert decode_page_token(KEYS, "q1", None) is None
    for garbage in ("garbage", "!!!", "é", token[:-2], "AAAA"):
        with pytest.raises(InvalidQuery) as caught:
            decode_page_token(KEYS, "q1", garbage)
        assert caught.value.field == "page_token"
    with pytest.raises(InvalidQuery):
        decode_page_token(KEYS, "q2", token)


def test_a_forged_page_token_is_refused() -> None:
    """Issue 24 #7: the digest was a plain SHA-256 anyone could compute, so a token with junk
    inside reached Temporal (502). Only the server's keys make one now."""
    junk = b"junk for temporal"
    digest = hashlib.sha256(b"q1\0" + junk).digest()[:16]
    forged = base64.urlsafe_b64encode(digest + junk).rstrip(b"=").decode()
    with pytest.raises(InvalidQuery):
        decode_page_token(KEYS, "q1", forged)
    other = encode_page_token(PageTokenKeys([b"another server"]), "q1", junk)
    with pytest.raises(InvalidQuery):
        decode_page_token(KEYS, "q1", other)


def test_a_rotated_key_still_reads_the_tokens_it_signed() -> None:
    old = encode_page_token(PageTokenKeys([b"previous"]), "q1", b"t")
    assert decode_page_token(KEYS, "q1", old) == b"t"
    assert PageTokenKeys.from_setting(" a , b ").keys == (b"a", b"b")
    assert len(PageTokenKeys.from_setting(None).keys[0]) == 32


@contextlib.asynccontextmanager
async def offline_api(*routes: CompiledRoute) -> AsyncIterator[httpx.AsyncClient]:
    settings = dev_settings(connect_timeout_seconds=0.5)
    temporal: ClientConnectConfig = {"target_host": f"127.0.0.1:{free_port()}"}
    app = create_app(settings, temporal=temporal, routes=build_table(routes))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


@pytest.fixture
async def offline() -> AsyncIterator[httpx.AsyncClient]:
    unlisted = [op for op in SWITCHES if op is not Operation.LIST]
    async with offline_api(
        route("unlisted", "Order", "q", operations=unlisted),
        route("elsewhere", "Order", "q", operations=unlisted, namespace="other"),
    ) as client:
        yield client


async def test_no_listable_route_is_an_empty_list_without_temporal(offline) -> None:
    listed = await offline.get("/workflows", params={"query": "ExecutionStatus = 'Running'"})
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"workflows": [], "next_page_token": None}
    counted = await offline.get("/workflows/count")
    assert counted.json() == {"count": 0}
    # A route that does not allow listing: 405, as for its workflows by id.
    assert (await offline.get("/workflows", params={"route": "unlisted"})).status_code == 405
    assert (await offline.get("/workflows", params={"route": "nope"})).status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "101"}, "page_size"),
        ({"page_size": "ten"}, "page_size"),
        ({"page_size": "-1"}, "page_size"),
        # Issue 24 #6: digits str.isdigit() takes and int() refuses (a 500 before).
        ({"page_size": "\u00b2"}, "page_size"),
        ({"page_size": "\u2075"}, "page_size"),
        ({"page_size": "1" * 5000}, "page_size"),
        ({"page_token": "garbage"}, "page_token"),
        ({"query": ") OR (1=1"}, "query"),
        ({"query": "'"}, "query"),
    ],
)
async def test_bad_parameters_are_400_naming_the_field(offline, params, field) -> None:
    response = await offline.get("/workflows", params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "invalid-query"
    assert body["errors"][0]["field"] == field


async def test_bad_query_is_400_for_count_too(offline) -> None:
    response = await offline.get("/workflows/count", params={"query": "x = 1) OR (1=1"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "query"


async def test_routes_in_several_namespaces_need_route() -> None:
    async with offline_api(
        route("here", "Order", "q"),
        route("also-here", "Order", "q", namespace="default"),
        route("there", "Order", "q", namespace="other"),
    ) as api:
        for path in ("/workflows", "/workflows/count"):
            response = await api.get(path)
            assert response.status_code == 400, response.text
            assert response.json()["errors"][0]["field"] == "route"
            assert "default, other" in response.json()["detail"]
            # One route is one namespace: past the checks, to a Temporal that is not there.
            assert (await api.get(path, params={"route": "there"})).status_code == 503

"""Schedules without a network: the shared model's checks, its conversion to Temporal and back,
schedule ids, the ETag rules and the update's confirmation (a fake Temporal that drops the
update, as Temporal does with a stale conflict token)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from pydantic import ValidationError
from temporalio import client as temporal
from temporalio.api.common.v1 import Payload
from temporalio.api.schedule.v1 import Schedule as ScheduleProto
from temporalio.api.workflowservice.v1 import DescribeScheduleResponse
from temporalio.converter import DataConverter

from gateway_api.app import create_app
from gateway_api.errors import PreconditionFailed
from gateway_api.temporal import schedules as temporal_schedules
from gateway_api.temporal.idempotency import scope, scoped
from gateway_core import memo
from gateway_core.routes import CompiledRoute, build_table
from gateway_core.schedules import (
    OverlapPolicy,
    ScheduleSettings,
    build,
    cron_of,
    cron_problem,
    digest,
    encode_action,
    policy_of,
    spec_of,
    starts_route_workflow,
)
from support.gateway import counted, dev_settings, route
from support.procs import free_port

SHOP = route("shop", "ShoppingWorkflow", "q", operations=["start", "schedule"])


def settings(**fields: Any) -> ScheduleSettings:
    body = {"input": {"a": 1}, "spec": {"cron_expressions": ["0 3 * * *"]}, **fields}
    return ScheduleSettings.model_validate(body, by_alias=False, by_name=True)


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("0 3 * * *", None),
        ("*/15 9-17 * * MON-FRI", None),
        ("0 0 12 * * * 2027", None),  # seconds and a year
        ("0 9 * * * 2030", None),  # a year
        ("@daily", None),
        ("@HOURLY", None),
        ("0 3 * *", "has 4 fields; a cron expression has 5 to 7"),
        ("0 0 * * 5#3", "field '5#3' may hold only digits, names, '*', ',', '-' and '/'"),
        ("0 0 L * *", None),  # Temporal refuses it (a 422 naming spec)
        ("@every 1h", "an @every is an interval: say it in intervals"),
        ("@fortnightly", "not one of @annually, @daily, @hourly, @midnight, @monthly, @weekly, "
                         "@yearly"),
        ("CRON_TZ=Asia/Tokyo 0 9 * * *",
         "CRON_TZ= and TZ= are not taken: name the schedule's time zone instead"),
        ("", "must be 1 to 128 characters"),
    ],
)  # fmt: skip
def test_cron_expressions_the_gateway_sends(expression, problem) -> None:
    assert cron_problem(expression) == problem


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({}, "spec"),
        ({"cron_expressions": ["0 3 * * *"], "time_zone": "Mars/Olympus"}, "spec.time_zone"),
        ({"cron_expressions": ["0 3 * * *"], "time_zone": "../../etc/passwd"}, "spec.time_zone"),
        ({"intervals": [{"every_seconds": 0}]}, "spec.intervals.0.every_seconds"),
        ({"intervals": [{"every_seconds": 60, "offset_seconds": 60}]}, "spec.intervals.0"),
        ({"cron_expressions": ["0 3 * * *"], "start_time": "2027-01-01T00:00:00Z",
          "end_time": "2026-01-01T00:00:00Z"}, "spec"),
        ({"cron_expressions": ["0 3 * * *"], "start_time": "2027-01-01T00:00:00"},
         "spec.start_time"),  # no offset: which time would it be?
        ({"cron_expressions": ["0 3 * * *"], "jitter_seconds": -1}, "spec.jitter_seconds"),
    ],
)  # fmt: skip
def test_specs_that_are_refused(spec, field) -> None:
    with pytest.raises(ValidationError) as raised:
        settings(spec=spec)
    assert field in [".".join(map(str, e["loc"])) for e in raised.value.errors()]


def test_the_resource_reads_the_same_model_by_its_camel_case_names() -> None:
    body = {"input": [1], "spec": {"cronExpressions": ["@daily"], "jitterSeconds": 5},
            "policy": {"catchupWindowSeconds": 60, "pauseOnFailure": True}}  # fmt: skip
    read = ScheduleSettings.model_validate(body, by_alias=True, by_name=False)
    assert read.spec.jitter_seconds == 5
    assert read.policy.pause_on_failure is True
    with pytest.raises(ValidationError):  # over HTTP, snake_case only
        ScheduleSettings.model_validate(body, by_alias=False, by_name=True)


@pytest.mark.parametrize("policy", list(OverlapPolicy))
def test_overlap_policies_are_temporals(policy) -> None:
    assert OverlapPolicy.from_temporal(policy.to_temporal()) is policy


R = temporal.ScheduleRange


@pytest.mark.parametrize(
    ("calendar", "cron"),
    [
        (temporal.ScheduleCalendarSpec(hour=[R(3)]), "0 3 * * *"),
        (temporal.ScheduleCalendarSpec(minute=[R(0, 59, 15)], hour=[R(9, 17)],
                                       day_of_week=[R(1, 5)]), "*/15 9-17 * * 1-5"),
        (temporal.ScheduleCalendarSpec(minute=[R(0), R(30)], hour=[R(0, 23, 2)],
                                       day_of_month=[R(1, 15, 3)]), "0,30 */2 1-15/3 * *"),
        (temporal.ScheduleCalendarSpec(second=[R(0)], minute=[R(0)], hour=[R(12)],
                                       year=[R(2027)]), "0 0 12 * * * 2027"),
        (temporal.ScheduleCalendarSpec(second=[R(30)], minute=[R(0)], hour=[R(0)]),
         "30 0 0 * * * *"),
    ],
)  # fmt: skip
def test_calendars_read_back_as_cron_expressions(calendar, cron) -> None:
    assert cron_of(calendar) == cron
    assert cron_problem(cron) is None  # what a description shows can be sent back


async def test_a_schedule_starts_the_routes_workflow_with_the_gateways_memo() -> None:
    chosen = settings(
        spec={"cron_expressions": [" @daily "], "intervals": [{"every_seconds": 3600,
              "offset_seconds": 60}], "time_zone": "Europe/Paris", "jitter_seconds": 7,
              "start_time": "2026-01-01T00:00:00+01:00"},
        policy={"overlap": "BufferAll", "catchup_window_seconds": 120},
    )  # fmt: skip
    converter = DataConverter.default
    encoded = await encode_action(converter, SHOP, chosen, principal="key:ci", managed_by="X")
    assert set(encoded.workflow_memo) == {memo.ROUTE, memo.ROUTE_PATH, memo.PRINCIPAL,
                                          memo.REQUEST_SHA256}  # fmt: skip
    assert set(encoded.schedule_memo) == {*encoded.workflow_memo, memo.MANAGED_BY}
    decoded = {k: converter.payload_converter.from_payloads([v])[0]
               for k, v in encoded.schedule_memo.items()}  # fmt: skip
    assert decoded == {memo.ROUTE: "shop", memo.ROUTE_PATH: "shop", memo.PRINCIPAL: "key:ci",
                       memo.REQUEST_SHA256: encoded.digest, memo.MANAGED_BY: "X"}  # fmt: skip
    schedule = build(SHOP, chosen, encoded, schedule_id="shop-x", paused=True, note="n")
    action = schedule.action
    assert isinstance(action, temporal.ScheduleActionStartWorkflow)
    assert (action.workflow, action.id, action.task_queue) == ("ShoppingWorkflow", "shop-x", "q")
    assert action.args == encoded.args
    assert starts_route_workflow(schedule, SHOP)
    assert not starts_route_workflow(schedule, route("pay", "Payroll", "q"))
    assert spec_of(schedule.spec) == {
        "cron_expressions": ["@daily"],
        "intervals": [{"every_seconds": 3600, "offset_seconds": 60}],
        "time_zone": "Europe/Paris", "jitter_seconds": 7,
        "start_time": datetime(2025, 12, 31, 23, tzinfo=UTC), "end_time": None,
    }  # fmt: skip
    assert policy_of(schedule.policy) == {
        "overlap": "BufferAll", "catchup_window_seconds": 120, "pause_on_failure": False
    }  # fmt: skip
    assert (schedule.state.paused, schedule.state.note) == (True, "n")


async def test_equal_settings_have_one_digest_whatever_the_key_order() -> None:
    one = await encode_action(DataConverter.default, SHOP, settings(input={"a": 1, "b": 2}),
                              principal="p")  # fmt: skip
    two = await encode_action(DataConverter.default, SHOP, settings(input={"b": 2, "a": 1}),
                              principal="p")  # fmt: skip
    three = await encode_action(DataConverter.default, SHOP, settings(input={"a": 2}),
                                principal="p")  # fmt: skip
    assert one.digest == two.digest != three.digest


def test_a_schedules_fingerprint_ignores_what_counts_down_by_itself() -> None:
    one = ScheduleProto()
    one.spec.timezone_name = "UTC"
    one.state.remaining_actions = 3
    two = ScheduleProto()
    two.CopyFrom(one)
    two.state.remaining_actions = 2
    assert digest(one) == digest(two)
    two.state.paused = True
    assert digest(one) != digest(two)


def test_schedule_ids_carry_the_routes_prefix_and_the_callers_scope() -> None:
    key = scoped("key:ci", "nightly")
    assert SHOP.schedule_id(key) == (f"shop-{scope('key:ci')}.nightly", True)
    random_id, deterministic = SHOP.schedule_id(None)
    assert random_id.startswith("shop-")
    assert not deterministic
    owned, _ = SHOP.schedule_id(None, owner=scope("key:ci"))
    assert owned.startswith(f"shop-{scope('key:ci')}.")


@dataclass
class _Handle:
    descriptions: list[DescribeScheduleResponse]

    async def describe(self, **_: Any) -> temporal.ScheduleDescription:
        raw = self.descriptions.pop(0) if len(self.descriptions) > 1 else self.descriptions[0]
        return temporal.ScheduleDescription._from_proto("s", raw, DataConverter.default)


@dataclass
class _Service:
    sent: list[Any] = field(default_factory=list)

    async def update_schedule(self, request: Any, **_: Any) -> None:
        self.sent.append(request)


@dataclass
class _Client:
    handle: _Handle
    workflow_service: _Service = field(default_factory=_Service)
    namespace: str = "default"
    identity: str = "test"
    data_converter: DataConverter = DataConverter.default

    def get_schedule_handle(self, _id: str) -> _Handle:
        return self.handle


def _response(token: int, payload: bytes) -> DescribeScheduleResponse:
    raw = DescribeScheduleResponse(conflict_token=token.to_bytes(8, "big"))
    raw.schedule.policies.overlap_policy = OverlapPolicy.SKIP.to_temporal().value
    raw.schedule.action.start_workflow.workflow_type.name = "ShoppingWorkflow"
    raw.schedule.action.start_workflow.input.payloads.append(
        Payload(metadata={"encoding": b"json/plain"}, data=payload)
    )
    return raw


async def _update(client: _Client, before: DescribeScheduleResponse) -> Any:
    described = temporal_schedules.Described(
        temporal.ScheduleDescription._from_proto("s", before, DataConverter.default),
        principal="p", managed_by=None, digest=None,
    )  # fmt: skip
    encoded = await encode_action(DataConverter.default, SHOP, settings(input={"new": 1}),
                                  principal="p")  # fmt: skip
    schedule = build(SHOP, settings(input={"new": 1}), encoded, schedule_id="s", paused=False,
                     note=None)  # fmt: skip
    return await temporal_schedules.update(
        client, described, schedule, principal="p",  # type: ignore[arg-type]
        rpc_timeout=timedelta(seconds=2),
    )  # fmt: skip


async def test_an_update_temporal_dropped_is_a_412() -> None:
    before = _response(1, b'{"old":1}')
    # Someone else's update landed first: the token moved, their input stands.
    client = _Client(_Handle([before, _response(2, b'{"theirs":1}')]))
    with pytest.raises(PreconditionFailed):
        await _update(client, before)
    (sent,) = client.workflow_service.sent
    assert sent.conflict_token == before.conflict_token  # Temporal compares it


async def test_an_update_is_confirmed_once_temporal_applied_it() -> None:
    before = _response(1, b'{"old":1}')
    client = _Client(_Handle([before]))
    applied = {}

    async def update_schedule(request: Any, **_: Any) -> None:
        applied["request"] = request
        after = DescribeScheduleResponse(conflict_token=(2).to_bytes(8, "big"))
        after.schedule.CopyFrom(request.schedule)
        client.handle.descriptions = [before, after]  # applied after one more read

    client.workflow_service.update_schedule = update_schedule  # type: ignore[method-assign]
    updated = await _update(client, before)
    assert updated.token == (2).to_bytes(8, "big")


@pytest.mark.parametrize(
    ("header", "ok"),
    [(None, True), ("*", True), ('"AAAAAAAAAAE"', True), ('"x", "AAAAAAAAAAE"', True),
     ('"AAAAAAAAAAI"', False), ('W/"AAAAAAAAAAE"', False), ("AAAAAAAAAAE", False),
     ('"!!"', False)],
)  # fmt: skip
def test_if_match_compares_strongly(header, ok) -> None:
    described = temporal_schedules.Described(
        temporal.ScheduleDescription._from_proto("s", _response(1, b"1"), DataConverter.default),
        principal=None, managed_by=None, digest=None,
    )  # fmt: skip
    assert described.etag == '"AAAAAAAAAAE"'
    if ok:
        temporal_schedules.check_if_match(header, described)
    else:
        with pytest.raises(PreconditionFailed):
            temporal_schedules.check_if_match(header, described)


@contextlib.asynccontextmanager
async def offline_api(*routes: CompiledRoute) -> AsyncIterator[httpx.AsyncClient]:
    """The API with nothing listening where Temporal should be."""
    app = create_app(
        dev_settings(connect_timeout_seconds=0.5),
        temporal={"target_host": f"127.0.0.1:{free_port()}"},
        routes=build_table(routes),
    )
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


async def test_schedule_calls_are_refused_before_temporal_is_asked() -> None:
    """With nothing listening where Temporal should be: a route without ``schedule`` is 405, a
    bad body 422, an unknown id prefix 404, all before any Temporal call (which would be 503)."""
    plain = route("plain", "W", "q")
    async with offline_api(SHOP, plain) as api:
        assert (await api.post("/workflows/plain/schedules", json={})).status_code == 405
        assert (await api.get("/schedules/plain-x")).status_code == 405
        bad = await api.post("/workflows/shop/schedules", json={"input": 1, "spec": {}})
        assert bad.status_code == 422, bad.text
        missing = await api.get("/schedules/nobody-x")
        assert (missing.status_code, missing.json()["code"]) == (404, "schedule-not-found")
        listed = await api.get("/schedules", params={"route": "plain"})
        assert listed.status_code == 405, listed.text
        wrong = await api.get("/schedules", params={"page_size": "0"})
        assert wrong.status_code == 400, wrong.text


async def test_a_schedule_call_temporal_does_not_answer_is_counted_as_an_error() -> None:
    before = counted("temporal_gateway_schedule_actions_total", "action", "outcome", route="shop")
    async with offline_api(SHOP) as api:
        body = {"input": {"a": 1}, "spec": {"cron_expressions": ["0 3 * * *"]}}
        create = await api.post("/workflows/shop/schedules", json=body)
        assert create.status_code == 503, create.text
        describe = await api.get("/schedules/shop-x")
        assert describe.status_code == 503, describe.text
    after = counted("temporal_gateway_schedule_actions_total", "action", "outcome", route="shop")
    assert after - before == {("create", "error"): 1, ("describe", "error"): 1}

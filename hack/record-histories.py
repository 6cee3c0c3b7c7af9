"""Record the histories ``tests/workflows/test_replay.py`` replays: every shipped workflow on its
main paths, run by the worker the service builds with the real activities.

A history is what a running workflow is rebuilt from after a worker restart: replaying these
with the current workflow code fails when a change would break workflows already running (a
command added, removed or reordered without ``workflow.patched``). They are recorded against a
real ``temporal server start-dev`` (in memory, free ports); the order that is never approved
waits seven days, so that one is recorded on Temporal's time-skipping test server
(``hack/test-server.sh``), whose histories are Temporal histories too.

Usage: ``.venv/bin/python hack/record-histories.py [--out DIR] [--only NAME,...]``

Run it for a new workflow or a new path, and commit what it writes. Never re-record an existing
history to make a failing replay pass: the failure is the point. Keep the old history (it stands
for the workflows still running) and add the new one beside it under another name.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "examples" / "codec" / "python"))
from gateway_codec_example.aes import AesGcmCodec  # noqa: E402
from gateway_core.callbacks import (  # noqa: E402
    CallbackRequest,
    DeliveryStatus,
    Outcome,
    RetrySchedule,
    delivery_workflow_id,
)
from gateway_core.routes import RouteFiles  # noqa: E402
from gateway_worker.config import WorkerSettings  # noqa: E402
from gateway_worker.worker import build_worker  # noqa: E402
from gateway_workflows.callbacks.signing import new_secret  # noqa: E402
from gateway_workflows.callbacks.workflows import (  # noqa: E402
    REDELIVERIES_PER_RUN,
    CallbackDelivery,
)
from gateway_workflows.registry import (  # noqa: E402
    CALLBACK_WORKFLOWS,
    WORKFLOWS,
    build_activities,
    build_callback_activities,
)
from gateway_workflows.shop.activities import OrderActivities  # noqa: E402
from gateway_workflows.shop.models import (  # noqa: E402
    Approval,
    Charge,
    Fruit,
    OrderInput,
    OrderItem,
    OrderState,
    ShoppingList,
)
from gateway_workflows.shop.workflows import OrderWorkflow, ShoppingWorkflow  # noqa: E402
from support.procs import TemporalDevServer, assert_eventually  # noqa: E402
from support.receiver import Receiver  # noqa: E402
from support.tools import test_server_dir  # noqa: E402

OUT = ROOT / "tests" / "workflows" / "histories"
QUEUE = "record-histories"
CALLBACK_QUEUE = "record-histories-callbacks"
DECLINING_QUEUE = "record-histories-declining"
SEALED_QUEUE = "record-histories-sealed"
CODEC = AesGcmCodec(os.urandom(32))
"""The AES-GCM example with a throwaway key: replaying a delivery never decodes its result."""
ALICE = OrderInput("alice", [OrderItem(Fruit.APPLE, 2), OrderItem(Fruit.BANANA, 2)])
BOB = Approval("bob")


@activity.defn(name="charge_order")
async def declined_charge(charge: Charge) -> str:
    """Stands in for a payment provider that declines the card (the real activity only logs)."""
    raise ApplicationError(f"card of {charge.customer} declined", type="CardDeclined",
                           non_retryable=True)  # fmt: skip


async def finished(handle: WorkflowHandle[Any, Any]) -> None:
    """Wait for the close, whatever it is."""
    with contextlib.suppress(WorkflowFailureError):
        await handle.result()


async def orders_awaiting(handle: WorkflowHandle[Any, Any]) -> bool:
    progress = await handle.query(OrderWorkflow.progress)
    return progress.state is OrderState.AWAITING_APPROVAL


def with_codec(client: Client) -> Client:
    """A view of ``client`` whose payloads go through :data:`CODEC`, as a worker's with
    ``WORKER_CODEC`` and a route's with ``codec`` are."""
    config = client.config()
    config["data_converter"] = dataclasses.replace(client.data_converter, payload_codec=CODEC)
    return Client(**config)


class Recorder:
    def __init__(self, client: Client, receiver: Receiver) -> None:
        self.client = client
        self.receiver = receiver

    async def start(self, run: Any, arg: Any, name: str, queue: str = QUEUE) -> Any:
        return await self.client.start_workflow(run, arg, id=name, task_queue=queue)

    # -- ShoppingWorkflow ------------------------------------------------------------------

    async def shopping_ordered(self) -> WorkflowHandle[Any, Any]:
        items = [OrderItem(Fruit.APPLE, 5), OrderItem(Fruit.BANANA, 3)]
        handle = await self.start(ShoppingWorkflow.run, ShoppingList(items), "shopping-ordered")
        await finished(handle)
        return handle

    # -- OrderWorkflow -----------------------------------------------------------------------

    async def order_approved_charged(self) -> WorkflowHandle[Any, Any]:
        handle = await self.start(OrderWorkflow.run, ALICE, "order-approved-charged")
        await handle.execute_update(OrderWorkflow.add_item, OrderItem(Fruit.ORANGE, 1))
        await handle.signal(OrderWorkflow.approve, BOB)
        await finished(handle)
        return handle

    async def order_charge_declined(self) -> WorkflowHandle[Any, Any]:
        handle = await self.start(
            OrderWorkflow.run, ALICE, "order-charge-declined", queue=DECLINING_QUEUE
        )
        await handle.signal(OrderWorkflow.approve, BOB)
        await finished(handle)  # the stock is released, then the order fails
        return handle

    async def order_update_rejected(self) -> WorkflowHandle[Any, Any]:
        """The validator's refusal leaves no event: the history is the order carrying on
        unchanged after it, approved and charged."""
        handle = await self.start(OrderWorkflow.run, ALICE, "order-update-rejected")
        with contextlib.suppress(WorkflowUpdateFailedError):
            await handle.execute_update(OrderWorkflow.add_item, OrderItem(Fruit.APPLE, 0))
        await handle.signal(OrderWorkflow.approve, BOB)
        await finished(handle)
        return handle

    async def order_cancelled(self) -> WorkflowHandle[Any, Any]:
        handle = await self.start(OrderWorkflow.run, ALICE, "order-cancelled")
        await assert_eventually(lambda: orders_awaiting(handle))
        await handle.cancel()
        await finished(handle)  # the stock is released, then it closes as cancelled
        return handle

    # -- CallbackDelivery --------------------------------------------------------------------

    async def deliver(
        self, name: str, *, sealed: bool = False, **request: Any
    ) -> WorkflowHandle[Any, Any]:
        """A delivery for a finished shopping list (sealed: its payloads encoded, and the
        delivery told the codec's name)."""
        shopping = ShoppingList([OrderItem(Fruit.APPLE, 1)])
        target = await (with_codec(self.client) if sealed else self.client).start_workflow(
            ShoppingWorkflow.run,
            shopping,
            id=f"{name}-target",
            task_queue=SEALED_QUEUE if sealed else QUEUE,
        )
        if sealed:
            request["codec"] = "aes"
        await finished(target)
        run_id = target.result_run_id
        assert run_id is not None
        handle: WorkflowHandle[Any, Any] = await self.client.start_workflow(
            CallbackDelivery.run,
            CallbackRequest(
                workflow_id=target.id,
                run_id=run_id,
                route="shopping",
                url=f"{self.receiver.base}/{name}",
                outcomes=list(Outcome),
                signing_secret="hooks",  # noqa: S106 (the name of the secret's file)
                allow_private_networks=True,  # the receiver is on loopback
                **request,
            ),
            id=delivery_workflow_id(target.id, run_id),
            task_queue=CALLBACK_QUEUE,
        )
        return handle

    async def callback_delivered(self) -> WorkflowHandle[Any, Any]:
        handle = await self.deliver("callback-delivered", redeliver_window_seconds=1)
        await finished(handle)
        return handle

    async def callback_decoded(self) -> WorkflowHandle[Any, Any]:
        """The result stays encoded in the history; the attempt decodes it for the body."""
        handle = await self.deliver("callback-decoded", sealed=True, redeliver_window_seconds=1)
        await finished(handle)
        return handle

    async def callback_retried(self) -> WorkflowHandle[Any, Any]:
        self.receiver.script["/callback-retried"] = [503, 503]
        retry = RetrySchedule(initial_seconds=0.2, max_interval_seconds=1, max_total_seconds=60)
        handle = await self.deliver("callback-retried", retry=retry, redeliver_window_seconds=1)
        await finished(handle)
        return handle

    async def continued(self, name: str) -> WorkflowHandle[Any, Any]:
        """A delivery redelivered once more than a run takes: it continues as new, carrying
        its state, and the run it continues as redelivers once, then closes with the window."""
        handle = await self.deliver(
            name, redeliver_window_seconds=20, redeliver_min_interval_seconds=0
        )

        async def sent(count: int) -> bool:
            state = await handle.query(CallbackDelivery.state)
            return state.status is DeliveryStatus.DELIVERED and state.attempt_count == count

        await assert_eventually(lambda: sent(1))
        for redelivery in range(1, REDELIVERIES_PER_RUN + 2):
            await handle.execute_update(CallbackDelivery.redeliver)
            await assert_eventually(lambda n=redelivery: sent(n + 1))
        await finished(handle)  # follows the runs to the last
        return handle

    async def callback_continued(self) -> WorkflowHandle[Any, Any]:
        handle = await self.continued("callback-continued")
        return self.client.get_workflow_handle(handle.id, run_id=handle.first_execution_run_id)

    async def callback_carried(self) -> WorkflowHandle[Any, Any]:
        return await self.continued("callback-carried")  # its latest run: the carried one

    async def callback_redelivered(self) -> WorkflowHandle[Any, Any]:
        handle = await self.deliver("callback-redelivered", redeliver_window_seconds=5)

        async def delivered() -> bool:
            state = await handle.query(CallbackDelivery.state)
            return state.status is DeliveryStatus.DELIVERED

        await assert_eventually(delivered)
        await handle.execute_update(CallbackDelivery.redeliver)
        await finished(handle)
        return handle


# Each history: its file name, and what drives the workflow on that path.
ON_DEV_SERVER: dict[str, Callable[[Recorder], Awaitable[WorkflowHandle[Any, Any]]]] = {
    "shopping-ordered": Recorder.shopping_ordered,
    "order-approved-charged": Recorder.order_approved_charged,
    "order-charge-declined": Recorder.order_charge_declined,
    "order-update-rejected": Recorder.order_update_rejected,
    "order-cancelled": Recorder.order_cancelled,
    "callback-delivered": Recorder.callback_delivered,
    "callback-decoded": Recorder.callback_decoded,
    "callback-retried": Recorder.callback_retried,
    "callback-redelivered": Recorder.callback_redelivered,
    "callback-continued": Recorder.callback_continued,
    "callback-carried": Recorder.callback_carried,
}
TIME_SKIPPING = ("order-timed-out",)


ROUTES = """\
apiVersion: temporal-gateway.dev/v1alpha1
kind: WorkflowRoute
metadata: {name: shopping}
spec:
  path: shopping
  workflowType: ShoppingWorkflow
  taskQueue: record-histories
  workflowId: {prefix: callback-}
  callbacks:
    allowedDestinations: ["http://127.0.0.1:*"]
    allowPrivateNetworks: true
    signingSecret: hooks
"""
"""The route the deliveries' targets belong to (their ids start ``callback-``), which each
attempt is checked against."""


@contextlib.asynccontextmanager
async def workers(client: Client, secrets: Path) -> AsyncIterator[None]:
    """The service's workers: the routes' queue, the callbacks' queue (decoding with
    :data:`CODEC` as ``aes``), a shop whose payment provider declines every card, and one whose
    client encodes with :data:`CODEC`."""
    settings = WorkerSettings(task_queue=QUEUE, graceful_shutdown_seconds=1)
    shop = OrderActivities()
    converters = {"aes": dataclasses.replace(client.data_converter, payload_codec=CODEC)}
    (secrets.parent / "routes.yaml").write_text(ROUTES)
    routes = RouteFiles(secrets.parent / "routes.yaml")
    async with (
        build_worker(client, settings, WORKFLOWS, build_activities()),
        build_worker(
            client,
            settings,
            CALLBACK_WORKFLOWS,
            build_callback_activities(client, secrets, converters=converters, routes=routes),
            task_queue=CALLBACK_QUEUE,
        ),
        build_worker(
            with_codec(client), settings, WORKFLOWS, build_activities(), task_queue=SEALED_QUEUE
        ),
        build_worker(
            client,
            settings,
            WORKFLOWS,
            [shop.reserve_stock, shop.release_stock, declined_charge],
            task_queue=DECLINING_QUEUE,
        ),
    ):
        yield


async def save(handle: WorkflowHandle[Any, Any], out: Path, name: str) -> None:
    history = await handle.fetch_history()
    path = out / f"{name}.json"
    path.write_text(json.dumps(history.to_json_dict(), indent=1) + "\n")
    print(f"wrote {path.relative_to(ROOT)} ({len(history.events)} events)", file=sys.stderr)


async def record(out: Path, only: set[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        secrets = Path(tmp) / "secrets"
        secrets.mkdir()
        (secrets / "hooks").write_text(new_secret() + "\n")
        receiver = Receiver.start()
        server = TemporalDevServer(Path(tmp))
        try:
            server.wait_ready()
            client = await Client.connect(server.address)
            async with workers(client, secrets):
                recorder = Recorder(client, receiver)
                for name, drive in ON_DEV_SERVER.items():
                    if not only or name in only:
                        await save(await drive(recorder), out, name)
        finally:
            server.stop()
            receiver.stop()
        if only and not only & set(TIME_SKIPPING):
            return
        launcher = test_server_dir() / "temporal-test-server"
        async with (
            await WorkflowEnvironment.start_time_skipping(
                test_server_existing_path=str(launcher),
                test_server_startup_timeout=timedelta(seconds=60),
            ) as env,
            workers(env.client, secrets),
        ):
            handle = await env.client.start_workflow(
                OrderWorkflow.run, ALICE, id="order-timed-out", task_queue=QUEUE
            )
            await finished(handle)  # seven days skip by: not approved, the stock released
            await save(handle, out, "order-timed-out")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="where the JSON files go")
    parser.add_argument("--only", default="", help="comma-separated names (default: all)")
    args = parser.parse_args()
    only = {name for name in args.only.split(",") if name}
    unknown = only - set(ON_DEV_SERVER) - set(TIME_SKIPPING)
    if unknown:
        parser.error(f"no such history: {', '.join(sorted(unknown))}")
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(record(args.out, only))


if __name__ == "__main__":
    main()

"""Test workflows for what other SDKs send and expect, written with the Python SDK:

- :class:`ParcelWorkflow` takes several parameters, and so do its signal, query and update
  (as Go and Java handlers often do): the gateway must send that many arguments;
- :class:`PayloadWorkflow` answers (result, query, update, failure details) with whatever
  payload its input describes: any encoding, protobuf in binary, a codec's output, so the
  gateway's reading of each is tested against a real Temporal;
- :class:`StructWorkflow` takes and returns a ``google.protobuf.Struct``, which the Python SDK
  reads and writes as ``json/protobuf`` (as Go's does its messages);
- :class:`ReceivedWorkflow` reports the payload it was given (encoding, message type, data),
  to show what the gateway sent.

The routes that expose them are ``support/polyglot_routes/*.yaml``. Sandbox-safe like the real
workflows (temporalio, google.protobuf, base64 and json only).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf.struct_pb2 import Struct
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError


@workflow.defn
class ParcelWorkflow:
    """func(customer string, count int, express bool): an express shipment returns at once;
    another waits for ``ship(carrier, day)``."""

    def __init__(self) -> None:
        self.weights: dict[str, int] = {}
        self.shipped: tuple[str, int] | None = None

    @workflow.run
    async def run(self, customer: str, count: int, express: bool) -> dict[str, Any]:
        if not express:
            await workflow.wait_condition(lambda: self.shipped is not None)
        carrier, day = self.shipped or ("express", 0)
        return {"customer": customer, "count": count, "express": express, "carrier": carrier,
                "day": day, "grams": sum(self.weights.values())}  # fmt: skip

    @workflow.signal
    def ship(self, carrier: str, day: int) -> None:
        self.shipped = (carrier, day)

    @workflow.update
    def weigh(self, sku: str, grams: int) -> dict[str, int]:
        self.weights[sku] = grams
        return dict(self.weights)

    @workflow.query
    def label(self, sku: str, upper: bool) -> str:
        text = f"{sku}: {self.weights.get(sku, 0)} g"
        return text.upper() if upper else text


def _payload(spec: dict[str, Any]) -> Payload:
    metadata = {"encoding": str(spec["encoding"]).encode()}
    if spec.get("message_type"):
        metadata["messageType"] = str(spec["message_type"]).encode()
    return Payload(metadata=metadata, data=base64.b64decode(spec.get("data", "")))


@workflow.defn
class PayloadWorkflow:
    """Input ``{"encoding", "message_type", "data" (base64), "wait", "fail"}``: returns that
    payload (after a ``release`` signal when ``wait``), or fails with it as the failure's
    details when ``fail``; the ``payload`` query and update answer the payload they are
    given the same way."""

    def __init__(self) -> None:
        self.released = False

    @workflow.run
    async def run(self, spec: dict[str, Any]) -> RawValue:
        if spec.get("wait"):
            await workflow.wait_condition(lambda: self.released)
        if spec.get("fail"):
            raise ApplicationError(
                "refused with a payload", RawValue(_payload(spec)), type="Refused",
                non_retryable=True,
            )  # fmt: skip
        return RawValue(_payload(spec))

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.query
    def payload(self, spec: dict[str, Any]) -> RawValue:
        return RawValue(_payload(spec))

    @workflow.update(name="payload")
    def payload_update(self, spec: dict[str, Any]) -> RawValue:
        return RawValue(_payload(spec))


@workflow.defn
class StructWorkflow:
    """Takes a Struct (only a ``json/protobuf`` payload of google.protobuf.Struct decodes into
    one) and returns another, with a ``total`` added."""

    @workflow.run
    async def run(self, order: Struct) -> Struct:
        out = Struct()
        out.update(dict(order.items()))
        out.update({"total": sum(line["cents"] for line in order["lines"])})
        return out


def described(raw: RawValue) -> dict[str, Any]:
    """What a payload is: its encoding, its message type, and its data as JSON."""
    metadata = raw.payload.metadata
    return {
        "encoding": metadata.get("encoding", b"").decode(),
        "message_type": metadata.get("messageType", b"").decode() or None,
        "data": json.loads(raw.payload.data),
    }


@workflow.defn
class ReceivedWorkflow:
    """Returns what it was given, described, once a ``finish`` signal comes; until then its
    ``inspect`` update describes what it is given."""

    def __init__(self) -> None:
        self.finished = False

    @workflow.run
    async def run(self, arg: RawValue) -> dict[str, Any]:
        await workflow.wait_condition(lambda: self.finished)
        return described(arg)

    @workflow.signal
    def finish(self) -> None:
        self.finished = True

    @workflow.update
    def inspect(self, arg: RawValue) -> dict[str, Any]:
        return described(arg)


PAYLOAD_WORKFLOWS = (ParcelWorkflow, PayloadWorkflow, StructWorkflow, ReceivedWorkflow)

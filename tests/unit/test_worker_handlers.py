"""The metadata query's answer, however an SDK encodes it, as the names a worker handles."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.api.sdk.v1 import (
    WorkflowDefinition,
    WorkflowInteractionDefinition,
    WorkflowMetadata,
)

from gateway_api.temporal.handlers import parse
from gateway_core.routes import MessageKind

METADATA = WorkflowMetadata(
    definition=WorkflowDefinition(
        type="GoOrderWorkflow",
        signal_definitions=[WorkflowInteractionDefinition(name="approve")],
        query_definitions=[WorkflowInteractionDefinition(name="status"),
                           WorkflowInteractionDefinition(name="__stack_trace")],
        update_definitions=[WorkflowInteractionDefinition(name="add_item")],
    )
)  # fmt: skip


def _payload(encoding: bytes) -> Payload:
    if encoding == b"binary/protobuf":
        data = METADATA.SerializeToString()
    else:  # Go and Java: proto-JSON; TypeScript: the same object as plain JSON
        data = json.dumps(json_format.MessageToDict(METADATA)).encode()
    return Payload(metadata={"encoding": encoding}, data=data)


@pytest.mark.parametrize("encoding", [b"json/protobuf", b"json/plain", b"binary/protobuf"])
def test_every_sdks_answer_is_read(encoding) -> None:
    handlers = parse(_payload(encoding))
    assert handlers.handles(MessageKind.SIGNAL, "approve")
    assert not handlers.handles(MessageKind.SIGNAL, "hold")
    assert handlers.handles(MessageKind.UPDATE, "add_item")
    assert handlers.listed(MessageKind.QUERY) == ["status"]  # the built-in ones left out


def test_a_dynamic_handler_handles_every_name() -> None:
    metadata = WorkflowMetadata()
    metadata.CopyFrom(METADATA)
    metadata.definition.signal_definitions.add(name="")
    payload = Payload(metadata={"encoding": b"binary/protobuf"}, data=metadata.SerializeToString())
    assert parse(payload).handles(MessageKind.SIGNAL, "anything")


def test_another_encoding_is_not_an_answer() -> None:
    with pytest.raises(ValueError, match="binary/encrypted"):
        parse(Payload(metadata={"encoding": b"binary/encrypted"}, data=b"x"))

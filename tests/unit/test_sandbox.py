"""Every registered workflow passes the default sandbox's validation (the same check the Worker
runs when it is built), so a workflow module that imports something non-deterministic fails
here, long before a replay would. The integration suite builds the real Worker too."""

from __future__ import annotations

import pytest
from temporalio import workflow
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from gateway_workflows.registry import CALLBACK_WORKFLOWS, WORKFLOWS
from support.sample_workflows import TEST_WORKFLOWS


@pytest.mark.parametrize(
    "cls", [*WORKFLOWS, *CALLBACK_WORKFLOWS, *TEST_WORKFLOWS], ids=lambda c: c.__name__
)
async def test_workflow_passes_default_sandbox(cls) -> None:
    SandboxedWorkflowRunner().prepare_workflow(workflow._Definition.must_from_class(cls))


async def test_a_sandbox_unsafe_workflow_would_fail(tmp_path, monkeypatch) -> None:
    """The guard above can fail: a workflow module doing I/O at import is refused."""
    (tmp_path / "unsafe_wf.py").write_text(
        "import pathlib\nfrom temporalio import workflow\n"
        "SNAPSHOT = pathlib.Path('.').stat()\n"
        "@workflow.defn\nclass Unsafe:\n"
        "    @workflow.run\n    async def run(self) -> None:\n        return None\n"
    )
    monkeypatch.syspath_prepend(tmp_path)
    import unsafe_wf

    with pytest.raises(Exception, match="from inside a workflow"):
        SandboxedWorkflowRunner().prepare_workflow(
            workflow._Definition.must_from_class(unsafe_wf.Unsafe)
        )

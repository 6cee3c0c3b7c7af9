"""The Node tools that check the OpenAPI contract (tools/openapi), and route folders that
declare every kind of message for them to check."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from support.procs import ROOT

TOOLS = ROOT / "tools" / "openapi"
TALLY_ROUTE = ROOT / "tests" / "support" / "routes" / "tally.yaml"


def node_tools() -> Path:
    """The bin folder of tools/openapi's packages, installed from its lock file if they are
    not yet (as ``make openapi-tools`` does, for a pytest run without make)."""
    stamp = TOOLS / "node_modules" / ".installed"
    lock = TOOLS / "package-lock.json"
    if not stamp.exists() or stamp.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(
            ["npm", "ci", "--prefix", str(TOOLS), "--no-audit", "--no-fund", "--loglevel=error"],
            check=True,
            timeout=600,
        )
        stamp.touch()
    return TOOLS / "node_modules" / ".bin"


def routes_with_messages(folder: Path, task_queue: str, **spec: Any) -> Path:
    """``folder`` with the shipped routes and the tally route (support.message_workflows) on
    ``task_queue``; ``spec`` overrides fields of the tally route's spec."""
    folder.mkdir(parents=True, exist_ok=True)
    for shipped in (ROOT / "k8s" / "routes").glob("*.yaml"):
        shutil.copy(shipped, folder / shipped.name)
    doc = yaml.safe_load(TALLY_ROUTE.read_text())
    doc["spec"].update({"taskQueue": task_queue, **spec})
    (folder / TALLY_ROUTE.name).write_text(yaml.safe_dump(doc, sort_keys=False))
    return folder

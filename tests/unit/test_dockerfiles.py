"""The three Dockerfiles agree with the workspace: each image installs its own package from the
lock and copies exactly the workspace packages that package depends on, and its final stage is
the one hadolint cannot judge: numeric non-root user, exec-form entrypoint, only the virtualenv.

No image is built here (no container runtime); hadolint lints the files in ``make lint``.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.procs import ROOT

IMAGES = {
    "services/api/Dockerfile": ("gateway-api", "gateway-api"),
    "services/worker/Dockerfile": ("gateway-worker", "gateway-worker"),
    "operator/Dockerfile": ("gateway-operator", "gateway-operator"),
}


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def stages(path: Path) -> list[Stage]:
    """The stages of a Dockerfile: continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    result: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.IGNORECASE)
            assert match, line
            result.append(Stage(match[1], match[2]))
        elif result:
            result[-1].instructions.append((keyword, " ".join(args.split())))
    return result


def workspace_members() -> dict[str, tuple[str, list[str]]]:
    """Workspace package name -> (its folder, the workspace packages it depends on)."""
    members: dict[str, tuple[str, list[str]]] = {}
    for pyproject in ROOT.glob("**/pyproject.toml"):
        if ".venv" in pyproject.parts or pyproject.parent == ROOT:
            continue
        project = tomllib.loads(pyproject.read_text())["project"]
        deps = [re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0] for d in project["dependencies"]]
        members[project["name"]] = (str(pyproject.parent.relative_to(ROOT)), deps)
    return members


def closure(package: str, members: dict[str, tuple[str, list[str]]]) -> set[str]:
    found: set[str] = set()
    todo = [package]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        todo += [d for d in members[name][1] if d in members]
    return found


@pytest.mark.parametrize("dockerfile", sorted(IMAGES))
def test_image_installs_its_package_and_exactly_its_workspace_dependencies(dockerfile) -> None:
    package, _ = IMAGES[dockerfile]
    members = workspace_members()
    build = stages(ROOT / dockerfile)[-2]
    syncs = [args for args in build.all("RUN") if "uv sync" in args]
    assert len(syncs) == 2, syncs
    for args in syncs:
        for flag in ("--frozen", "--no-dev", "--no-editable", f"--package {package}"):
            assert flag in args, f"{dockerfile}: `uv sync` without {flag}: {args}"
    # Dependencies first, in their own layer: the first sync sees only the lock.
    assert "--no-install-workspace" in syncs[0]
    copies_before = build.instructions[: build.instructions.index(("RUN", syncs[0]))]
    assert [a for kw, a in copies_before if kw == "COPY" and "--from" not in a] == [
        "pyproject.toml uv.lock ./"
    ]
    copied = {a.split()[0] for a in build.all("COPY") if "--from" not in a} - {"pyproject.toml"}
    wanted = {members[name][0] for name in closure(package, members)}
    assert copied == wanted, f"{dockerfile} copies {sorted(copied)}, {package} needs {wanted}"


@pytest.mark.parametrize("dockerfile", sorted(IMAGES))
def test_final_stage_is_the_virtualenv_run_by_a_numeric_non_root_user(dockerfile) -> None:
    _, script = IMAGES[dockerfile]
    all_stages = stages(ROOT / dockerfile)
    final = all_stages[-1]
    assert len(all_stages) >= 2, "multi-stage"
    assert final.base == all_stages[-2].base == "${PYTHON_IMAGE}"
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in (ROOT / dockerfile).read_text()
    # Only the virtualenv comes from the build stage; no uv, no sources, no build tools.
    assert final.all("COPY") == ["--from=build /app/.venv /app/.venv"]
    assert not any("uv" in args.split() or "apt-get" in args for args in final.all("RUN"))
    users = final.all("USER")
    assert users, "no USER in the final stage"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit(), users[-1]
    assert int(uid) > 0, users[-1]
    assert gid.isdigit(), users[-1]
    (entrypoint,) = final.all("ENTRYPOINT")
    assert json.loads(entrypoint) == [f"/app/.venv/bin/{script}"]


def test_dockerignore_keeps_what_the_dockerfiles_copy_and_drops_the_rest() -> None:
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "everything is excluded unless named"
    kept = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied: set[str] = set()
    for dockerfile in IMAGES:
        for args in stages(ROOT / dockerfile)[-2].all("COPY"):
            if "--from" not in args:
                copied |= {source.split("/")[0] for source in args.split()[:-1]}
    assert copied <= kept, f"copied but ignored: {sorted(copied - kept)}"
    for junk in ("**/.venv", "**/__pycache__"):
        assert junk in lines

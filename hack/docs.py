"""Write the documentation's generated tables from the code (``make docs``), or check them
(``--check``, run by a unit test): the error table from :mod:`gateway_api.errors`, and the
operation table from :data:`gateway_core.routes.OPERATIONS`.

A generated table sits between ``<!-- generated: NAME (make docs) -->`` and
``<!-- end: NAME -->`` in any of :data:`FILES`; everything else in those files is prose.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

from gateway_api import errors
from gateway_core.routes import DEFAULT_OPERATIONS, OPERATIONS, Access, Addressed

ROOT = Path(__file__).resolve().parents[1]
FILES = ("README.md", "docs/api.md", "docs/workflowroutes.md", "docs/security.md")


def _refused(access: Access, addressed: Addressed) -> str:
    if addressed is Addressed.ROUTE:
        return "403"
    if addressed is Addressed.ROUTES:
        what = "schedules" if access is Access.SCHEDULE else "workflows"
        return f"the route's {what} are left out"
    return "404" if access is Access.READ else "403 with `read`, else 404"


def operations_table() -> str:
    """Every operation's row: what a route's ``operations`` names it, its method and path, the
    access it needs, the answer without it, and whether a route serves it by default."""
    rows = [
        "| operation | method and path | needs | without it | by default |",
        "| --- | --- | --- | --- | --- |",
    ]
    for op, row in OPERATIONS.items():
        path = row.path.replace("{route_path}", "<path>").replace("{workflow_id}", "{id}")
        path = path.replace("{schedule_id}", "{id}")
        needs = f"`{row.access}`" + (f" and `{row.also_needs}`" if row.also_needs else "")
        if op in DEFAULT_OPERATIONS:
            default = "yes"
        elif row.switch is op:
            default = "no (list it)"
        else:
            default = f"with `{row.switch}`"
        rows.append(
            f"| `{op}` | `{row.method} {path}` | {needs} | {_refused(row.access, row.addressed)} "
            f"| {default} |"
        )
    return "\n".join(rows) + "\n"


SECTIONS: dict[str, Callable[[], str]] = {
    "errors": errors.markdown_table,
    "operations": operations_table,
}
_BLOCK = re.compile(
    r"(<!-- generated: (?P<name>[\w-]+) \(make docs\) -->\n)(?P<body>.*?)(<!-- end: (?P=name) -->)",
    re.S,
)


def render(text: str) -> str:
    """``text`` with every generated section written anew."""
    return _BLOCK.sub(lambda m: m[1] + SECTIONS[m["name"]]() + m[4], text)


def stale() -> list[str]:
    """The files whose generated sections differ from the code's."""
    return [name for name in FILES if render(text := (ROOT / name).read_text()) != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    args = parser.parse_args(argv)
    if args.check:
        if out_of_date := stale():
            print(f"out of date (run make docs): {', '.join(out_of_date)}", file=sys.stderr)
            return 1
        return 0
    for name in FILES:
        path = ROOT / name
        path.write_text(render(path.read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m gateway_api.openapi ROUTES...``: the OpenAPI document of a route table, written
without starting the API (for linters and client generators). It builds the app, so it sits
outside the layers (an entry point, as ``gateway_api.server`` is)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway_api.app import create_app
from gateway_api.config import ApiSettings
from gateway_core.routes import build_table, load_routes


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gateway_api.openapi ROUTES...``: the document the API would serve for these
    route files or folders, without starting it (for linters and client generators)."""
    parser = argparse.ArgumentParser(prog="python -m gateway_api.openapi", description=main.__doc__)
    parser.add_argument("routes", nargs="+", type=Path, help="route files or folders")
    parser.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)
    # Here, not at the top: the app module installs this one.

    routes = [r for path in args.routes for r in load_routes(path).routes.values()]
    app = create_app(
        ApiSettings(environment="development", auth_disabled=True), routes=build_table(routes)
    )
    text = json.dumps(app.openapi(), indent=2) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The interactive documentation, Swagger UI at ``/docs`` and ReDoc at ``/redoc``, served with
every file they load by the API itself.

FastAPI's pages load both from a public CDN: on a network without it (most clusters that run
Temporal behind a firewall) they are blank. Here the scripts and styles come from the PyPI
package ``fastapi-offline`` (pinned in ``services/api/pyproject.toml``; its files and their
licences are listed in ``NOTICE``), plus this package's own ``static/`` (Swagger UI's
initialisation, since the pages' Content-Security-Policy allows no inline script).

Each file is served at ``/docs/assets/<name>.<digest>.<ext>``: the digest is the first 16 hex
digits of its SHA-256, so a URL always names the same bytes and browsers and proxies may keep
it for a year (``immutable``); an upgrade changes the URL. The two pages themselves, like every
other answer, are never cached, and each carries the policy of exactly what it loads
(:mod:`gateway_api.http.security_headers`).
"""

from __future__ import annotations

import functools
import hashlib
import html
from dataclasses import dataclass
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse

from gateway_api.errors import PathNotFound
from gateway_api.http.security_headers import IMMUTABLE, REDOC_CSP, SWAGGER_UI_CSP

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/assets"

_VENDORED = Path(fastapi_offline.__file__).parent / "static"
_OWN = Path(__file__).parent / "static"
_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
}
_FILES = {
    "swagger-ui-bundle.js": _VENDORED / "swagger-ui-bundle.js",
    "swagger-ui.css": _VENDORED / "swagger-ui.css",
    "redoc.standalone.js": _VENDORED / "redoc.standalone.js",
    "favicon.png": _VENDORED / "favicon.png",
    "swagger-init.js": _OWN / "swagger-init.js",
    "redoc.css": _OWN / "redoc.css",
}
"""Every file the pages load, by the name they are known by."""


@dataclass(frozen=True)
class Asset:
    """One file the pages load, at its content-addressed URL name."""

    name: str
    path: Path
    digest: str

    @property
    def url_name(self) -> str:
        stem, dot, ext = self.name.rpartition(".")
        return f"{stem}.{self.digest}{dot}{ext}"

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPES[self.path.suffix]


@functools.cache
def assets() -> dict[str, Asset]:
    """The assets by name, hashed once per process (a few milliseconds for 2.8 MB)."""
    found = {}
    for name, path in _FILES.items():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        found[name] = Asset(name, path, digest)
    return found


@functools.cache
def _by_url_name() -> dict[str, Asset]:
    return {asset.url_name: asset for asset in assets().values()}


def _page(title: str, head: list[str], body: list[str]) -> str:
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title>",
            *head,
            "</head>",
            "<body>",
            *body,
            "</body>",
            "</html>",
            "",
        ]
    )


def swagger_ui_html(title: str, root: str, openapi_url: str) -> str:
    """Swagger UI on the document at ``openapi_url``: the initialisation is a served script
    that reads the document's URL from the page (``data-openapi-url``)."""
    url = _urls(root)
    return _page(
        f"{title} - Swagger UI",
        [
            f'<link rel="icon" type="image/png" href="{url["favicon.png"]}">',
            f'<link rel="stylesheet" href="{url["swagger-ui.css"]}">',
        ],
        [
            f'<div id="swagger-ui" data-openapi-url="{html.escape(root + openapi_url)}"></div>',
            f'<script src="{url["swagger-ui-bundle.js"]}"></script>',
            f'<script src="{url["swagger-init.js"]}"></script>',
        ],
    )


def redoc_html(title: str, root: str, openapi_url: str) -> str:
    """ReDoc on the document at ``openapi_url``: its standalone bundle renders the ``<redoc>``
    element by itself, without a script on the page."""
    url = _urls(root)
    return _page(
        f"{title} - ReDoc",
        [
            f'<link rel="icon" type="image/png" href="{url["favicon.png"]}">',
            f'<link rel="stylesheet" href="{url["redoc.css"]}">',
        ],
        [
            f'<redoc spec-url="{html.escape(root + openapi_url)}"></redoc>',
            f'<script src="{url["redoc.standalone.js"]}"></script>',
        ],
    )


def _urls(root: str) -> dict[str, str]:
    return {
        name: html.escape(f"{root}{ASSETS_URL}/{asset.url_name}")
        for name, asset in assets().items()
    }


def install(app: FastAPI) -> None:
    """Serve the two pages and their assets (FastAPI's own pages must be off: ``docs_url`` and
    ``redoc_url`` None). Nothing is served when the app has no OpenAPI document."""
    openapi_url = app.openapi_url
    if not openapi_url:
        return
    assets()  # a missing file fails at start, not on a reader's first visit

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    async def swagger_ui(request: Request) -> HTMLResponse:
        page = swagger_ui_html(app.title, root(request), openapi_url)
        return HTMLResponse(page, headers={"Content-Security-Policy": SWAGGER_UI_CSP})

    async def redoc(request: Request) -> HTMLResponse:
        page = redoc_html(app.title, root(request), openapi_url)
        return HTMLResponse(page, headers={"Content-Security-Policy": REDOC_CSP})

    async def asset(request: Request) -> FileResponse:
        name = request.path_params["name"]
        found = _by_url_name().get(name)
        if found is None:
            raise PathNotFound(f"no documentation asset {name!r}")
        return FileResponse(
            found.path,
            media_type=found.media_type,
            headers={"Cache-Control": IMMUTABLE, "ETag": f'"{found.digest}"'},
        )

    app.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
    app.add_route(REDOC_URL, redoc, include_in_schema=False)
    app.add_route(ASSETS_URL + "/{name}", asset, include_in_schema=False)

"""``/docs`` and ``/redoc`` load everything from the API itself: each file at a URL that names
its content, cached for a year; the pages themselves never cached. What a browser makes of them
(every operation rendered, no request leaving the API, "Try it out") is
``tests/e2e/test_docs_ui.py``'s."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway_api.app import create_app
from gateway_api.http.security_headers import (
    API_CSP,
    EMPTY_STYLE,
    IMMUTABLE,
    REDOC_CSP,
    SWAGGER_UI_CSP,
)
from gateway_api.openapi import pages
from gateway_core.routes import build_table
from support.gateway import dev_settings, shopping_route
from support.procs import ROOT, free_port

LINKED = re.compile(r'(?:src|href)="([^"]+)"')
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        dev_settings(),
        temporal={"target_host": f"127.0.0.1:{free_port()}"},
        routes=build_table([shopping_route("q")]),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


@pytest.mark.parametrize(("path", "policy"), [("/docs", SWAGGER_UI_CSP), ("/redoc", REDOC_CSP)])
async def test_each_page_loads_only_files_the_api_serves(api, path, policy) -> None:
    page = await api.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-security-policy"] == policy
    assert "://" not in page.text  # no CDN, no host at all
    assert "<script>" not in page.text
    assert "style=" not in page.text
    linked = LINKED.findall(page.text)
    assert len(linked) >= 3, page.text
    for url in linked:
        assert url.startswith("/docs/assets/"), url
        asset = await api.get(url)
        assert asset.status_code == 200, url
        suffix = "." + url.rsplit(".", 1)[1]
        assert asset.headers["content-type"].startswith(MEDIA_TYPES[suffix])
        assert asset.headers["cache-control"] == IMMUTABLE
        # The URL names the content: the digest in it is the body's.
        digest = url.rsplit(".", 2)[1]
        assert hashlib.sha256(asset.content).hexdigest().startswith(digest), url
        assert asset.headers["etag"] == f'"{digest}"'
        # A script or stylesheet is no page: it keeps the API's policy and the other headers.
        assert asset.headers["content-security-policy"] == API_CSP
        assert asset.headers["x-content-type-options"] == "nosniff"


async def test_swagger_ui_starts_from_a_served_script_that_reads_the_page(api) -> None:
    page = (await api.get("/docs")).text
    assert '<div id="swagger-ui" data-openapi-url="/openapi.json"></div>' in page
    init = next(u for u in LINKED.findall(page) if "swagger-init" in u)
    script = (await api.get(init)).text
    assert "dataset.openapiUrl" in script
    assert "validatorUrl: null" in script  # no badge from the public validator
    assert '<redoc spec-url="/openapi.json"></redoc>' in (await api.get("/redoc")).text


async def test_behind_a_proxy_every_url_has_the_root_path() -> None:
    app = create_app(
        dev_settings(),
        temporal={"target_host": f"127.0.0.1:{free_port()}"},
        routes=build_table([shopping_route("q")]),
    )
    transport = httpx.ASGITransport(app=app, root_path="/gw")
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
        page = (await api.get("/gw/docs")).text
        assert 'data-openapi-url="/gw/openapi.json"' in page
        for url in LINKED.findall(page):
            assert url.startswith("/gw/docs/assets/"), url
            assert (await api.get(url)).status_code == 200, url
        assert 'spec-url="/gw/openapi.json"' in (await api.get("/gw/redoc")).text


@pytest.mark.parametrize(
    "name",
    [
        "swagger-ui-bundle.js",  # without its digest
        "swagger-ui-bundle.0000000000000000.js",  # another version's
        "..%2Fpages.py",
        "favicon.png.png",
    ],
)
async def test_anything_else_under_assets_is_a_404_problem(api, name) -> None:
    answer = await api.get(f"/docs/assets/{name}")
    assert answer.status_code == 404
    assert answer.json()["code"] == "not-found"
    assert answer.headers["cache-control"] == "no-store"


async def test_head_answers_an_asset_without_its_body(api) -> None:
    url = LINKED.findall((await api.get("/redoc")).text)[-1]
    answer = await api.head(url)
    assert answer.status_code == 200
    assert answer.content == b""
    assert int(answer.headers["content-length"]) > 1_000_000  # ReDoc's standalone bundle


def test_notice_names_the_versions_the_package_ships() -> None:
    """An upgrade of fastapi-offline changes what /docs and /redoc run: NOTICE must follow."""
    files = pages.assets()
    swagger = re.search(
        r'PACKAGE_VERSION:"([0-9.]+)"', files["swagger-ui-bundle.js"].path.read_text()
    )
    redoc = re.search(
        r'" ReDoc Version: ","([0-9.]+)"', files["redoc.standalone.js"].path.read_text()
    )
    assert swagger
    assert redoc
    notice = (ROOT / "NOTICE").read_text()
    assert f"Swagger UI {swagger[1]}," in notice
    assert f"ReDoc {redoc[1]}," in notice


def test_the_empty_style_hash_is_the_empty_strings() -> None:
    empty = base64.b64encode(hashlib.sha256(b"").digest()).decode()
    assert f"'sha256-{empty}'" == EMPTY_STYLE

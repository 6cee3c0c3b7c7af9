"""``/docs`` and ``/redoc`` in a real browser with no route off this machine, as behind a
cluster's firewall: Debian's Chromium, driven by Playwright (``support.browser``).

- Both pages render every operation of the API's OpenAPI document, load nothing that is not
  the API's, and break nothing in their Content-Security-Policy but what is meant to be refused
  (Redocly's logo, from its CDN).
- FastAPI's own pages, which load Swagger UI and ReDoc from a CDN, stay blank in the same
  browser: the canary that shows the browser really is offline (they are what ``/docs`` and
  ``/redoc`` were).
- Per caller (the default outside development), ``/docs`` opens with no route and shows the
  routes of the key or token given to Authorize, reading the document again when it changes.
- "Try it out", with authentication on: a start without credentials is refused, then made with
  an API key from the Authorize dialog, then with a bearer token, and the page shows the
  workflow's answer. With OIDC as the only authentication, the bearer is a JWT signed by a
  local identity provider (``support.oidc``), which the API verifies against its JWKS.
- A page on another origin uses the API through CORS as a browser application would: a start
  with an ``Idempotency-Key``, a result with ``Prefer`` (reading ``Location``, ``Retry-After``,
  ``Preference-Applied`` and ``RateLimit-*``), a signal, and an ``EventSource`` on ``/events``
  that the API cuts after two seconds, so it reconnects with ``Last-Event-ID``, until ``end``.
  With authentication on, another page reads a stream with ``fetch`` and an API key in its
  header (which ``EventSource`` cannot send), as docs/api.md advises.

Screenshots of each page go to ``.run/test-output/docs-ui/`` (``DOCS_UI_OUTPUT``).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from playwright.sync_api import Browser, Locator, Page, expect

from support.browser import Watched, is_loopback, offline_chromium, watch
from support.gateway import ApiKeys
from support.oidc import AUDIENCE, Provider, SigningKey
from support.procs import ROOT, ApiProcess, free_port

pytestmark = pytest.mark.e2e

OUTPUT = Path(os.environ.get("DOCS_UI_OUTPUT", ROOT / ".run" / "test-output" / "docs-ui"))
KEYS = ApiKeys({"docs": ["shopping:start", "shopping:read"], "root": ["gateway:admin"]})
SHOPPING = {"items": [{"fruit": "APPLE", "amount": 5}, {"fruit": "BANANA", "amount": 3}]}
ANSWER = "Ordered 5 Apples...Ordered 3 Bananas..."
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
"""ReDoc's sidebar always asks for it, and hides it when it fails: the policy refuses it."""


@pytest.fixture(scope="module")
def output() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with offline_chromium() as browser:
        yield browser


def secured_api(logs_dir: Path, temporal: str, **env: str) -> Iterator[ApiProcess]:
    """The API as production runs it; ``env`` names its authentication."""
    api = ApiProcess(
        logs_dir,
        temporal=temporal,
        env={"API_ENVIRONMENT": "production", "API_AUTH_DISABLED": "false", **env},
    )
    try:
        api.wait_ready()
        yield api
    finally:
        api.stop()


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory) -> Path:
    return KEYS.write(tmp_path_factory.mktemp("docs-ui") / "keys.yaml")


@pytest.fixture(scope="module")
def secured(stack, keys_file, logs_dir) -> Iterator[ApiProcess]:
    """The API with authentication on (an API key file), on the shipped routes, its document
    public (``API_OPENAPI_ACCESS=public``, a platform team's choice), so both pages can show
    every operation; ``stack`` brings the worker."""
    yield from secured_api(
        logs_dir, stack.temporal.address, API_KEYS_FILE=str(keys_file), API_OPENAPI_ACCESS="public"
    )


@pytest.fixture(scope="module")
def per_caller(stack, keys_file, logs_dir) -> Iterator[ApiProcess]:
    """The same API as production runs it by default: each caller is shown its routes."""
    yield from secured_api(logs_dir, stack.temporal.address, API_KEYS_FILE=str(keys_file))


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    """A local OIDC provider (discovery and JWKS on a free port) with one RS256 key."""
    provider = Provider(keys=[SigningKey.new("RS256")])
    try:
        yield provider
    finally:
        provider.stop()


@pytest.fixture(scope="module")
def with_oidc(stack, provider, logs_dir) -> Iterator[ApiProcess]:
    """The API with OIDC as its only authentication (no key file), its document public."""
    yield from secured_api(
        logs_dir,
        stack.temporal.address,
        API_JWT_ISSUER=provider.issuer,
        API_JWT_AUDIENCE=AUDIENCE,
        API_OPENAPI_ACCESS="public",
    )


class Site:
    """A static site on another origin (another port of 127.0.0.1), in this process."""

    def __init__(self, pages: dict[str, str]) -> None:
        self.pages = pages
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                page = site.pages.get(self.path.split("?")[0])
                body = (page or "not found").encode()
                self.send_response(200 if page is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def site(secured) -> Iterator[Site]:
    openapi = secured.url + "/openapi.json"
    site = Site(
        {
            "/events.html": EVENTS_PAGE,
            "/fetch-events.html": FETCH_EVENTS_PAGE,
            # FastAPI's own pages, as /docs and /redoc were: their scripts from cdn.jsdelivr.net.
            "/cdn-docs.html": get_swagger_ui_html(openapi_url=openapi, title="CDN").body.decode(),
            "/cdn-redoc.html": get_redoc_html(openapi_url=openapi, title="CDN").body.decode(),
        }
    )
    try:
        yield site
    finally:
        site.stop()


@pytest.fixture(scope="module")
def open_api(stack, site, logs_dir) -> Iterator[ApiProcess]:
    """The API as ``make run`` starts it (authentication off: an ``EventSource`` cannot send
    credentials), with CORS for the site's origin, and streams cut after two seconds so the
    browser has to resume one."""
    api = ApiProcess(
        logs_dir,
        temporal=stack.temporal.address,
        env={"API_CORS_ORIGINS": site.origin, "API_EVENTS_MAX_SECONDS": "2"},
    )
    try:
        api.wait_ready()
        yield api
    finally:
        api.stop()


@pytest.fixture(scope="module")
def secured_cors(stack, keys_file, site, logs_dir) -> Iterator[ApiProcess]:
    """The API with authentication on (the key file) and CORS for the site's origin."""
    yield from secured_api(logs_dir, stack.temporal.address, API_KEYS_FILE=str(keys_file),
                           API_CORS_ORIGINS=site.origin)  # fmt: skip


def operations(api: ApiProcess, headers: dict[str, str] | None = None) -> list[dict[str, str]]:
    spec = httpx.get(api.url + "/openapi.json", headers=headers, timeout=10).json()
    return [
        {"method": method.upper(), "path": path, "id": op["operationId"]}
        for path, item in spec["paths"].items()
        for method, op in item.items()
    ]


def assert_stayed_home(
    watched: Watched, api: ApiProcess, *, refused: set[str] = frozenset()
) -> None:
    """Everything the page loaded came from the API; only ``refused`` was asked for elsewhere,
    and the policy refused it (and nothing else)."""
    report = watched.report()
    assert set(watched.off_machine()) <= refused, report
    assert all(u.startswith(api.url) for u in watched.urls() if is_loopback(u)), report
    violations = {(v["directive"], v["blocked"]) for v in watched.violations()}
    assert violations == {("img-src", url) for url in refused}, report
    assert not watched.errors, report


def test_swagger_ui_renders_every_operation_offline(browser, secured, output) -> None:
    expected = {(op["method"], op["path"]) for op in operations(secured)}
    with watch(browser) as watched:
        page = watched.page
        page.goto(secured.url + "/docs")
        expect(page.locator(".opblock")).to_have_count(len(expected), timeout=30_000)
        rendered = page.evaluate(
            """[...document.querySelectorAll('.opblock')].map(o => [
                 o.querySelector('.opblock-summary-method').textContent,
                 o.querySelector('.opblock-summary-path').dataset.path])"""
        )
        assert {tuple(r) for r in rendered} == expected
        page.screenshot(path=output / "swagger-ui.png")
        assert_stayed_home(watched, secured)


def rendered_operations(page: Page, count: int) -> set[tuple[str, str]]:
    """The operations Swagger UI shows, once it shows ``count`` of them."""
    expect(page.locator(".opblock")).to_have_count(count, timeout=30_000)
    rendered = page.evaluate(
        """[...document.querySelectorAll('.opblock')].map(o => [
             o.querySelector('.opblock-summary-method').textContent,
             o.querySelector('.opblock-summary-path').dataset.path])"""
    )
    return {tuple(r) for r in rendered}


def test_swagger_ui_shows_each_caller_its_routes(browser, per_caller, output) -> None:
    """Per caller (the default outside development): the page opens with no route, and shows
    the routes of the key given to Authorize, read again when the key changes."""

    def expected(key: str | None) -> set[tuple[str, str]]:
        headers = KEYS.auth(key) if key else None
        return {(op["method"], op["path"]) for op in operations(per_caller, headers)}

    anonymous, docs, root = expected(None), expected("docs"), expected("root")
    assert ("POST", "/workflows/shopping") in docs - anonymous
    assert ("POST", "/workflows/orders") in root - docs
    with watch(browser) as watched:
        page = watched.page
        page.goto(per_caller.url + "/docs")
        assert rendered_operations(page, len(anonymous)) == anonymous
        authorize(page, scheme="apiKey", credential=KEYS["docs"])
        assert rendered_operations(page, len(docs)) == docs
        page.screenshot(path=output / "swagger-ui-per-caller.png")
        log_out(page, scheme="apiKey")
        assert rendered_operations(page, len(anonymous)) == anonymous
        authorize(page, scheme="bearer", credential=KEYS["root"])
        assert rendered_operations(page, len(root)) == root
        sent = [r.all_headers() for r in watched.requests if r.url.endswith("/openapi.json")]
        assert [(h.get("x-api-key"), h.get("authorization")) for h in sent] == [
            (None, None), (KEYS["docs"], None), (None, None), (None, f"Bearer {KEYS['root']}")
        ]  # fmt: skip
        assert_stayed_home(watched, per_caller)


def test_redoc_renders_every_operation_offline(browser, secured, output) -> None:
    ops = operations(secured)
    with watch(browser) as watched:
        page = watched.page
        page.goto(secured.url + "/redoc")
        for op in ops:
            expect(page.locator(f'[data-section-id="operation/{op["id"]}"]')).to_have_count(
                1, timeout=30_000
            )
        # The search index is built in a worker the bundle makes from a blob: URL.
        page.get_by_placeholder("Search...").fill("shopping")
        expect(page.locator("[data-role='search:results'] li").first).to_be_visible()
        page.get_by_placeholder("Search...").fill("")
        # The sidebar asks for the logo once mounted: wait for its refusal before comparing.
        page.wait_for_function(
            f"window.__violations.some(v => v.blocked === {json.dumps(REDOCLY_LOGO)})"
        )
        page.screenshot(path=output / "redoc.png")
        assert_stayed_home(watched, secured, refused={REDOCLY_LOGO})


@pytest.mark.parametrize("page_name", ["cdn-docs", "cdn-redoc"])
def test_the_cdn_pages_stay_blank_in_this_browser(browser, site, secured, output, page_name):
    """What /docs and /redoc were: nothing rendered, because the browser reaches no CDN. If
    this fails, the browser is online and the tests above prove nothing."""
    with watch(browser) as watched:
        page = watched.page
        page.goto(f"{site.origin}/{page_name}.html")
        page.wait_for_load_state("load")
        assert page.evaluate(
            "typeof SwaggerUIBundle === 'undefined' && typeof Redoc === 'undefined'"
        )
        assert page.locator(".opblock, [data-section-id]").count() == 0
        assert page.evaluate("document.body.innerText.trim()") == ""
        cdn = [url for url, _ in watched.failed if "cdn.jsdelivr.net" in url]
        assert cdn, watched.report()
        page.screenshot(path=output / f"{page_name}.png")


def scheme_form(page: Page, scheme: str) -> Locator:
    """The Authorize dialog's form for one of the document's security schemes."""
    return page.locator(f".auth-container:has(h4 code:text-is('{scheme}'))")


def authorize(page: Page, *, scheme: str, credential: str) -> None:
    """Fill one scheme of the Authorize dialog and close it."""
    page.locator(".auth-wrapper .authorize").click()
    form = scheme_form(page, scheme)
    form.locator("input").fill(credential)
    form.locator("button.authorize").click()
    expect(form.locator("button", has_text="Logout")).to_be_visible()
    page.locator(".dialog-ux .close-modal").click()


def log_out(page: Page, *, scheme: str) -> None:
    page.locator(".auth-wrapper .authorize").click()
    scheme_form(page, scheme).locator("button", has_text="Logout").click()
    page.locator(".dialog-ux .close-modal").click()


def try_it_out(page: Page, method: str, path: str) -> Locator:
    """Expand the operation and press its "Try it out"; its block."""
    block = page.locator(f".opblock.opblock-{method}").filter(
        has=page.locator(f'.opblock-summary-path[data-path="{path}"]')
    )
    block.locator(".opblock-summary").click(timeout=30_000)
    block.get_by_role("button", name="Try it out").click()
    return block


def execute(
    page: Page, block: Locator, body: dict[str, Any], *, screenshot: Path | None = None
) -> tuple[int, str]:
    """Execute the expanded operation with ``body``; its status and response body."""
    block.locator("textarea.body-param__text").fill(json.dumps(body))
    block.get_by_role("button", name="Execute").click()
    status = block.locator(".live-responses-table .response .response-col_status")
    expect(status).to_have_count(1, timeout=30_000)
    text = block.locator(".live-responses-table .response-col_description pre").first.inner_text()
    code = int(status.inner_text().strip())
    if screenshot is not None:
        # The request as curl, then the answer: the part of the page a reader wants to see.
        block.locator(".responses-inner h4").first.evaluate("e => e.scrollIntoView()")
        page.screenshot(path=screenshot)
    block.get_by_role("button", name="Clear").click()
    return code, text


def test_try_it_out_with_an_api_key_and_a_bearer_token(browser, secured, output) -> None:
    with watch(browser) as watched:
        page = watched.page
        page.goto(secured.url + "/docs")
        block = try_it_out(page, "post", "/workflows/shopping")

        status, text = execute(page, block, SHOPPING)
        assert status == 401, text
        assert json.loads(text)["code"] == "unauthenticated"

        authorize(page, scheme="apiKey", credential=KEYS["docs"])
        status, text = execute(
            page, block, SHOPPING, screenshot=output / "swagger-ui-try-it-out.png"
        )
        assert status == 200, text
        answer = json.loads(text)
        assert answer["status"] == "completed"
        assert answer["result"] == ANSWER

        log_out(page, scheme="apiKey")
        authorize(page, scheme="bearer", credential=KEYS["docs"])
        status, text = execute(page, block, SHOPPING)
        assert status == 200, text
        assert json.loads(text)["result"] == ANSWER
        sent = [r.all_headers() for r in watched.requests if r.method == "POST"]
        assert [("x-api-key" in h, "authorization" in h) for h in sent] == [
            (False, False), (True, False), (False, True)
        ]  # fmt: skip
        assert_stayed_home(watched, secured)


def test_try_it_out_with_a_jwt_from_the_identity_provider(
    browser, with_oidc, provider, output
) -> None:
    """OIDC on and no key file: the JWT a provider issued, pasted into Authorize's bearer
    field, is what the page sends, and the API verifies it against the provider's keys."""
    token = provider.token(scope="shopping:start shopping:read", sub="docs-reader")
    with watch(browser) as watched:
        page = watched.page
        page.goto(with_oidc.url + "/docs")
        block = try_it_out(page, "post", "/workflows/shopping")

        status, text = execute(page, block, SHOPPING)
        assert status == 401, text
        assert json.loads(text)["code"] == "unauthenticated"
        assert provider.jwks_fetches == 0

        authorize(page, scheme="bearer", credential=token)
        status, text = execute(
            page, block, SHOPPING, screenshot=output / "swagger-ui-try-it-out-jwt.png"
        )
        assert status == 200, text
        answer = json.loads(text)
        assert answer["status"] == "completed"
        assert answer["result"] == ANSWER
        sent = [r.all_headers() for r in watched.requests if r.method == "POST"]
        assert [(h.get("authorization"), h.get("x-api-key")) for h in sent] == [
            (None, None), (f"Bearer {token}", None)
        ]  # fmt: skip
        assert provider.jwks_fetches >= 1
        assert_stayed_home(watched, with_oidc)


EVENTS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>An order, from another origin</title></head>
<body><h1>An order, from another origin</h1><pre id="log"></pre>
<script>
"use strict";
const api = new URLSearchParams(location.search).get("api");
const out = {opens: 0, events: [], statuses: [], errors: []};
const log = (line) => { document.getElementById("log").textContent += line + "\\n"; };
const json = {"Content-Type": "application/json"};

async function main() {
  const started = await fetch(`${api}/workflows/orders/async`, {
    method: "POST",
    headers: {...json, "Idempotency-Key": `page-${Date.now()}`},
    body: JSON.stringify({customer: "page", items: [{fruit: "APPLE", amount: 2}]}),
  });
  const order = await started.json();
  out.start = {status: started.status, id: order.workflow_id,
               policy: started.headers.get("RateLimit-Policy"),
               remaining: started.headers.get("RateLimit-Remaining")};
  log(`started ${order.workflow_id}`);
  const id = encodeURIComponent(order.workflow_id);
  const waiting = await fetch(`${api}/workflows/${id}/result`, {headers: {"Prefer": "wait=1"}});
  out.waiting = {status: waiting.status, location: waiting.headers.get("Location"),
                 retryAfter: waiting.headers.get("Retry-After"),
                 applied: waiting.headers.get("Preference-Applied")};
  await new Promise((resolve) => {
    const source = new EventSource(`${api}/workflows/${id}/events`);
    source.onopen = () => {
      out.opens += 1;
      log(`stream open (${out.opens})`);
      if (out.opens === 2) approve(id);  // once the browser has resumed the stream
    };
    source.addEventListener("history", (e) => {
      const event = JSON.parse(e.data);
      out.events.push([Number(e.lastEventId), event.event_type]);
      log(`${e.lastEventId} ${event.event_type}`);
    });
    source.addEventListener("status", (e) => out.statuses.push(JSON.parse(e.data).status));
    source.addEventListener("end", (e) => {
      out.end = JSON.parse(e.data);
      log(`end ${e.data}`);
      source.close();
      resolve();
    });
    source.onerror = () => {
      out.errors.push(source.readyState);
      if (source.readyState === EventSource.CLOSED) resolve();  // refused: no retry
    };
  });
  const result = await fetch(`${api}/workflows/${id}/result`, {headers: {"Prefer": "wait=10"}});
  out.result = {status: result.status, body: await result.json(),
                applied: result.headers.get("Preference-Applied")};
}

async function approve(id) {
  const answer = await fetch(`${api}/workflows/${id}/signals/approve`, {
    method: "POST", headers: json, body: JSON.stringify({approver: "page"}),
  });
  out.approved = answer.status;
  log(`approved: ${answer.status}`);
}

main().then(() => { window.done = out; },
            (e) => { out.failure = String(e); window.done = out; });
</script></body></html>
"""


def run_to_done(watched: Watched, url: str, screenshot: Path) -> dict[str, Any]:
    """Open one of the site's pages, wait for its script to set ``window.done``, keep a
    screenshot, and return what the script recorded."""
    page = watched.page
    page.goto(url)
    page.wait_for_function("window.done !== undefined", timeout=60_000)
    out: dict[str, Any] = page.evaluate("window.done")
    page.screenshot(path=screenshot, full_page=True)
    return out


def test_a_page_on_another_origin_follows_an_order_with_event_source(
    browser, site, open_api, output
) -> None:
    with watch(browser) as watched:
        out = run_to_done(watched, f"{site.origin}/events.html?api={quote(open_api.url)}",
                          output / "events-from-another-origin.png")  # fmt: skip
        resumed = [
            r.url
            for r in watched.requests
            if "/events" in r.url and "last-event-id" in r.all_headers()
        ]
        report = f"{out}\n{watched.report()}"
        violations = watched.violations()
    assert "failure" not in out, report
    # The start: its id, and the rate limit headers the API exposes.
    assert out["start"]["status"] == 200, report
    assert out["start"]["id"].startswith("order-"), report
    assert out["start"]["policy"], report
    assert out["start"]["remaining"], report
    # A result not ready within Prefer's wait: where to poll, and when.
    assert out["waiting"] == {
        "status": 202,
        "location": f"/workflows/{quote(out['start']['id'], safe='')}/result",
        "retryAfter": out["waiting"]["retryAfter"],
        "applied": "wait=1",
    }, report
    assert int(out["waiting"]["retryAfter"]) > 0
    # The stream: cut after two seconds, resumed by the browser with Last-Event-ID, no event
    # twice, until the order completed.
    assert out["opens"] >= 2, report
    ids = [event_id for event_id, _ in out["events"]]
    assert ids == sorted(set(ids)), report
    names = [name for _, name in out["events"]]
    assert names[0] == "WorkflowExecutionStarted", report
    assert "WorkflowExecutionSignaled" in names, report
    assert names[-1] == "WorkflowExecutionCompleted", report
    assert out["end"] == {"status": "COMPLETED"}, report
    assert out["statuses"][-1] == "COMPLETED", report
    assert resumed, report
    assert out["approved"] == 202, report
    assert out["result"]["status"] == 200, report
    assert out["result"]["applied"] == "wait=10", report
    assert violations == [], report
    assert not watched.errors, report


FETCH_EVENTS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A stream with a key</title></head>
<body><h1>A stream read with fetch and an API key, from another origin</h1><pre id="log"></pre>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const api = params.get("api"), key = params.get("key");
const out = {events: []};
const log = (line) => { document.getElementById("log").textContent += line + "\\n"; };

async function main() {
  const started = await fetch(`${api}/workflows/shopping/async`, {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-API-Key": key},
    body: JSON.stringify({items: [{fruit: "APPLE", amount: 1}]}),
  });
  const id = encodeURIComponent((await started.json()).workflow_id);
  out.without = (await fetch(`${api}/workflows/${id}/events`)).status;
  const response = await fetch(`${api}/workflows/${id}/events`, {headers: {"X-API-Key": key}});
  out.status = response.status;
  out.type = response.headers.get("Content-Type");
  // What EventSource does by itself: split the body into messages and read their fields.
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buffer = (buffer + value).replace(/\\r\\n/g, "\\n");
    let cut;
    while ((cut = buffer.indexOf("\\n\\n")) >= 0) {
      const fields = {};
      for (const line of buffer.slice(0, cut).split("\\n")) {
        const colon = line.indexOf(":");
        if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
      }
      buffer = buffer.slice(cut + 2);
      if (!fields.event) continue;
      out.events.push(fields.event);
      log(`${fields.id || ""} ${fields.event}`);
      if (fields.event === "end") {
        out.end = JSON.parse(fields.data);
        await reader.cancel();
        return;
      }
    }
  }
}

main().then(() => { window.done = out; },
            (e) => { out.failure = String(e); window.done = out; });
</script></body></html>
"""


def test_a_page_on_another_origin_reads_a_stream_with_fetch_and_a_key(
    browser, site, secured_cors, output
) -> None:
    """docs/api.md's second way for a browser with authentication on: ``fetch`` with the key in
    a header (which ``EventSource`` cannot send), through CORS, parsing the stream itself."""
    key = quote(KEYS["docs"])
    with watch(browser) as watched:
        out = run_to_done(watched, f"{site.origin}/fetch-events.html?api={quote(secured_cors.url)}"
                          f"&key={key}", output / "fetch-events-with-a-key.png")  # fmt: skip
        report = f"{out}\n{watched.report()}"
        violations = watched.violations()
    assert "failure" not in out, report
    assert out["without"] == 401, report
    assert out["status"] == 200, report
    assert out["type"].startswith("text/event-stream"), report
    assert "history" in out["events"], report
    assert out["events"][-1] == "end", report
    assert out["end"] == {"status": "COMPLETED"}, report
    assert violations == [], report
    assert not watched.errors, report

"""A real browser for tests: Debian's Chromium (``/usr/bin/chromium``, installed by
``hack/assets.sh``), driven over the Chrome DevTools protocol by Playwright for Python. Its wheel
carries only its driver; a browser of its own would come from ``playwright install``, which
nothing here runs: the launch names Debian's (``executable_path``).

The browser has no route off this machine. Every request that is not to loopback goes to a
proxy at a loopback port where nothing listens (Chromium always sends loopback direct), and the
resolver answers no name but ``localhost``, so a page that needs a CDN stays as blank as it
would behind a firewall (``tests/e2e/test_docs_ui.py`` checks both halves, with FastAPI's own
CDN pages as the canary). The flags after those keep Chromium from calling Google's services
as it starts (updates, sync, field trials), which a closed network refuses many at a time.

:class:`Watched` records what a page did: the requests it made, the ones that failed, what it
wrote to the console, its uncaught errors, and every Content-Security-Policy violation (from
the ``securitypolicyviolation`` event, through a script the DevTools protocol injects, which
the page's own policy does not govern).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright

from support.procs import free_port

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))

QUIET = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-quic",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
)

_RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push({directive: e.effectiveDirective, blocked: e.blockedURI,
                            source: e.sourceFile, sample: e.sample});
});
"""


def offline_args(dead_port: int) -> list[str]:
    """Flags that leave Chromium only loopback: a proxy that refuses for everything else, and
    no name resolved but ``localhost`` (the rules apply to IP literals too, hence 127.0.0.1)."""
    return [
        f"--proxy-server=http://127.0.0.1:{dead_port}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
        *QUIET,
    ]


def chromium_path() -> Path:
    """Debian's Chromium; a clear failure (not a skip: CI must run these) when it is missing."""
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        pytest.fail(
            f"no Chromium at {CHROMIUM}: `make test` installs Debian's (hack/assets.sh), "
            "or `apt-get install chromium`; CHROMIUM=/path names another"
        )
    return CHROMIUM


@contextmanager
def offline_chromium() -> Iterator[Browser]:
    """Headless Debian Chromium with no route off this machine, closed on exit."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=offline_args(free_port())
        )
        try:
            yield browser
        finally:
            browser.close()


def is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in {"127.0.0.1", "localhost", "::1"}


@dataclass
class Watched:
    """A page and what it did."""

    page: Page
    requests: list[Request] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def violations(self) -> list[dict[str, Any]]:
        return list(self.page.evaluate("window.__violations || []"))

    def urls(self) -> list[str]:
        return [r.url for r in self.requests]

    def off_machine(self) -> list[str]:
        """Requests for anything but loopback, ``data:`` and ``blob:`` URLs."""
        return [u for u in self.urls() if u.startswith("http") and not is_loopback(u)]

    def report(self) -> str:
        return (
            f"requests: {self.urls()}\nfailed: {self.failed}\nconsole: {self.console}\n"
            f"errors: {self.errors}\nviolations: {self.violations()}"
        )


@contextmanager
def watch(browser: Browser, *, viewport: tuple[int, int] = (1280, 800)) -> Iterator[Watched]:
    """A new page in its own context (no shared storage), recording what it does; closed on
    exit."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    try:
        page = context.new_page()
        page.add_init_script(_RECORD_VIOLATIONS)
        watched = Watched(page)
        page.on("request", lambda r: watched.requests.append(r))
        page.on("requestfailed", lambda r: watched.failed.append((r.url, r.failure or "")))
        page.on("console", lambda m: _console(watched, m))
        page.on("pageerror", lambda e: watched.errors.append(str(e)))
        yield watched
    finally:
        context.close()


def _console(watched: Watched, message: ConsoleMessage) -> None:
    watched.console.append(f"{message.type}: {message.text}")

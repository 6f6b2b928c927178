"""Fixtures of the browser tests: the system Chromium driven by Playwright, the built site
served on 127.0.0.1, and a guard that blocks and records every request to another host.

These tests run after the site is built (``jupyter-book build .``), as
``pytest tests/browser``; plain ``pytest`` leaves this folder out (``norecursedirs`` in
``pyproject.toml``). They never skip: a missing Chromium or a missing build is a failure
that says what to do.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, SITE


@pytest.fixture(scope="session")
def chromium() -> Path:
    """The system Chromium; fails (never skips) when it is not installed."""
    if not CHROMIUM.exists():
        found = shutil.which("chromium")
        pytest.fail(f"Chromium not found at {CHROMIUM}"
                    + (f" (there is one at {found})" if found else "")
                    + ": install it with `apt-get install -y chromium` (.ci/run does).", pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="session")
def playwright_browser(chromium):
    """A headless Chromium for the whole session."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: `python -m pip install -r requirements.txt`", pytrace=False)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="session")
def site_url() -> Iterator[str]:
    """Serve the built site on 127.0.0.1 (a free port) for the session; fails if it is not built."""
    if not (SITE / "index.html").exists():
        pytest.fail(f"the site is not built ({SITE / 'index.html'} is missing): run "
                    "`jupyter-book build .` first", pytrace=False)
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """The folder that keeps one screenshot per page for the CI log."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS

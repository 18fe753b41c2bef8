"""Shared fixtures: a local HTTP server (the only network tests may use), isolated data folders.

Tests never reach the internet: ``LMLAB_OFFLINE=1`` is set for the whole session, so a corpus that is
neither in the mirror nor cached fails (or falls back) instead of being downloaded. Tests that exercise
downloads point a registered corpus at :func:`http_server` on 127.0.0.1 and unset it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

os.environ.setdefault("LMLAB_OFFLINE", "1")


@dataclass
class Route:
    body: bytes
    status: int = 200
    send_bytes: int | None = None  # stop after this many body bytes (a truncated download)
    content_type: str = "application/octet-stream"
    send_length: bool = True  # False: no Content-Length header, the body simply ends when we close


@dataclass
class LocalServer:
    """What :func:`http_server` yields: ``add(path, body, ...)`` a route, then fetch ``url(path)``."""

    base: str
    routes: dict[str, Route] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)

    def add(self, path: str, body: bytes, **kw) -> str:
        self.routes[path] = Route(body, **kw)
        return self.url(path)

    def url(self, path: str) -> str:
        return self.base + path


class _Handler(BaseHTTPRequestHandler):
    server_version = "lmlab-test"

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        state: LocalServer = self.server.state  # type: ignore[attr-defined]
        state.hits.append(self.path)
        route = state.routes.get(self.path)
        if route is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        if route.send_length:
            self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        body = route.body if route.send_bytes is None else route.body[:route.send_bytes]
        self.wfile.write(body)
        self.wfile.flush()
        if route.send_bytes is not None or not route.send_length:
            self.close_connection = True

    def log_message(self, *args) -> None:  # keep test output quiet
        pass


@pytest.fixture
def http_server():
    """An HTTP server on 127.0.0.1 (random port) serving the routes a test adds; 404 for the rest."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    state = LocalServer(base=f"http://127.0.0.1:{server.server_address[1]}")
    server.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def dead_url() -> str:
    """A 127.0.0.1 URL where nothing listens (connection refused): a server that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/gone.txt"


@pytest.fixture(scope="session")
def wiki_sample_file() -> Path:
    """The built-in offline corpus, from the real cache (built there once, as the lab itself would)."""
    from lmlab.data import fetch

    return fetch("wiki_sample")


@pytest.fixture
def isolated_data(tmp_path, monkeypatch, wiki_sample_file) -> Path:
    """An empty cache (plus a prebuilt wiki_sample), no mirror, offline: a fresh student's laptop."""
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copyfile(wiki_sample_file, cache / wiki_sample_file.name)
    monkeypatch.setenv("LMLAB_CACHE_DIR", str(cache))
    monkeypatch.delenv("LMLAB_DATA_DIR", raising=False)
    monkeypatch.setenv("LMLAB_OFFLINE", "1")
    return cache



@pytest.fixture
def one_torch_thread():
    """One torch thread: on a shared 2-core runner two threads spin against other processes."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---------------------------------------------------------------- a real browser, offline (browser tests)
CHROMIUM = "/usr/bin/chromium"


def _chromium() -> str:
    found = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not found:
        pytest.fail("Chromium is needed for the browser test: sudo apt-get install -y chromium",
                    pytrace=False)
    return found


class Offline:
    """A headless Chromium page whose every non-local request is aborted (and remembered)."""

    def __init__(self, playwright) -> None:
        self.browser = playwright.chromium.launch(executable_path=_chromium(), headless=True,
                                                  args=["--no-sandbox", "--disable-background-networking",
                                                        "--disable-dev-shm-usage"])
        self.blocked: list[str] = []
        self.errors: list[str] = []

    def page(self):
        page = self.browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()

        def only_local(route):
            url = route.request.url
            local = re.match(r"^(https?|wss?)://127\.0\.0\.1[:/]", url)
            if url.startswith(("file:", "data:", "blob:")) or local:
                route.continue_()
            else:
                self.blocked.append(url)
                route.abort()

        page.route("**/*", only_local)
        page.on("pageerror", lambda err: self.errors.append(f"{err.message}\n{err.stack or ''}"))
        return page


@pytest.fixture
def offline():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        o = Offline(p)
        try:
            yield o
        finally:
            o.browser.close()

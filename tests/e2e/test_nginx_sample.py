"""The README's nginx sample passes a webhook POST on to the next process when one answers 502 or times
out: nginx retries a POST (not idempotent) only with `non_idempotent` in proxy_next_upstream, else the
502 reaches Telegram. Safe because every update is de-duplicated by its update_id (bot/polling.py).
nginx here is tests/e2e/test_scaleout.py's, configured with the README's own directive."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import aiohttp
import pytest

from tests.e2e.test_scaleout import Nginx, nginx_binary, readme_next_upstream


class Backend:
    """A process behind nginx answering every POST with `status`; counts what it got."""

    def __init__(self, status: int) -> None:
        backend = self
        self.hits = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                backend.hits += 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_the_readme_nginx_sample_passes_a_post_on_after_a_502(tmp_path):
    if nginx_binary() is None:
        pytest.skip("nginx is not installed (apt-get install nginx)")
    assert "non_idempotent" in readme_next_upstream()
    failing, healthy = Backend(502), Backend(200)
    nginx = Nginx(tmp_path, [failing.port, healthy.port])
    try:
        async with aiohttp.ClientSession() as http:
            statuses = []
            for n in range(6):  # round robin: half of them reach the failing process first
                async with http.post(f"{nginx.base}/telegram/webhook", json={"update_id": n}) as resp:
                    statuses.append(resp.status)
        assert failing.hits >= 1
        assert statuses == [200] * 6
    finally:
        nginx.stop()
        failing.stop()
        healthy.stop()

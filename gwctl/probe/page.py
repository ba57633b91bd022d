"""The multi-camera browser test page (``gwctl probe webrtc --serve-page``).

One self-contained HTML/JS file (package data ``probe/static/webrtc-test.html``): it logs
in to a gateway (IDP password grant), lists the cameras, and opens one WebRTC player per
selected camera at once or staggered, showing each panel's status, time to answer and
time to the first video frame (``window.gwctlResults`` holds them for automated runs).
The page calls the gateway from its own origin, so the gateway's CORS section must allow
that origin (``http://HOST:PORT`` as printed).
"""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

PAGE = "webrtc-test.html"


def page_bytes() -> bytes:
    return resources.files("gwctl.probe").joinpath("static", PAGE).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] not in ("/", f"/{PAGE}"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.page)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a test page's requests are not worth a log line each


def make_server(host: str = "127.0.0.1", port: int = 8080) -> ThreadingHTTPServer:
    """A server for the page (not started: call ``serve_forever``)."""
    handler = type("PageHandler", (_Handler,), {"page": page_bytes()})
    return ThreadingHTTPServer((host, port), handler)

"""verify's CORS verdicts agree with headless Chromium's own, rule example by rule example.

For each CORS configuration (the cases the CORS rules document: an exact origin, an origin
without a scheme, a wildcard, a missing Authorization header, a missing method, CORS
disabled, an internationalised host written in Unicode) the gateway is given the section,
and each request a browser client makes is judged twice: by `gwctl.verify.cors_judge` on a
real preflight, and by Chromium running ``fetch()`` from a page served at the origin. Both
must say the same.

Needs Debian's ``chromium`` and Playwright's Python package (never ``playwright install``);
skips, saying which is missing, otherwise.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from browser import chromium

from gwctl.verify import cors_judge
from gwctl.verify.run import BROWSER_REQUESTS

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>origin</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def origin_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # pages of an internationalised host (bücher.localhost) are served by origin_server too
    with chromium(("--host-resolver-rules=MAP *.localhost 127.0.0.1",)) as b:
        yield b


def cases(origin: str) -> list[tuple[str, dict[str, Any] | None]]:
    full = {"Enabled": True, "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Allow-Methods": "GET, POST, PATCH"}
    return [
        ("exact origin", full),
        ("origin without scheme", {**full, "Access-Control-Allow-Origin":
                                   origin.removeprefix("http://")}),
        ("wildcard origin and headers", {**full, "Access-Control-Allow-Origin": "*",
                                         "Access-Control-Allow-Headers": "*"}),
        ("no Authorization header", {**full, "Access-Control-Allow-Headers": "Content-Type"}),
        ("no PATCH method", {**full, "Access-Control-Allow-Methods": "GET, POST"}),
        ("origin with a trailing slash", {**full, "Access-Control-Allow-Origin": origin + "/"}),
        ("disabled", {**full, "Enabled": False}),
        ("no CORS section", None),
    ]


def _configure(site: SimSite, section: dict[str, Any] | None) -> None:
    doc = {} if section is None else {"CORS": section}
    site.production_path("demo-gw1").write_text(json.dumps(doc), "utf-8")
    site.recycle("demo-gw1")


def _verify_verdict(url: str, req: cors_judge.BrowserRequest, origin: str) -> bool:
    r = httpx.options(url, headers=req.preflight_headers(origin))
    return cors_judge.judge_preflight(req, origin, r.status_code,
                                      r.headers.multi_items()).allowed


FETCH = """async ([url, method, headers]) => {
  try { await fetch(url, {method, headers, body: method === 'GET' ? undefined : '{}'});
        return true; }
  catch (e) { return false; }
}"""


def _compare(site: SimSite, page: Any, origin: str,
             sections: list[tuple[str, dict[str, Any] | None]], tag: str
             ) -> list[tuple[str, str, bool, bool]]:
    """(case, request, verify's verdict, Chromium's) for each section and browser request
    from a page at `origin` (the Origin the page's browser sends)."""
    url = site.gateway_url("demo-gw1")
    compared = []
    for i, (name, section) in enumerate(sections):
        _configure(site, section)
        for req in BROWSER_REQUESTS:
            # a URL of its own per case: Chromium caches a preflight's answer for 5 s
            target = f"{url}{req.path}?{tag}={i}"
            ours = _verify_verdict(target, req, origin)
            theirs = page.evaluate(FETCH, [target, req.method, dict(req.headers)])
            compared.append((name, f"{req.method} {req.path}", ours, theirs))
    disagreements = [c for c in compared if c[2] != c[3]]
    assert not disagreements, "\n".join(map(str, disagreements))
    return compared


def test_cors_verdicts_agree_with_chromium(sim_factory: Any, browser: Any,
                                           origin_server: str) -> None:
    site = sim_factory(wsman=False)
    page = browser.new_page()
    page.goto(origin_server + "/")
    compared = _compare(site, page, origin_server, cases(origin_server), "case")
    page.close()
    # the table exercised both answers
    assert {c[2] for c in compared} == {True, False}


@pytest.mark.parametrize(("unicode_host", "shouted", "punycode"), [
    ("bücher.localhost", "BÜCHER.LOCALHOST", "xn--bcher-kva.localhost"),
    # a deviation character: UTS #46 nontransitional (browsers, .NET's ICU) keeps it,
    # IDNA 2003 would have sent "strasse.localhost" (and "STRASSE" is another host)
    ("straße.localhost", "STRAßE.LOCALHOST", "xn--strae-oqa.localhost"),
])
def test_cors_unicode_origin_verdicts_agree_with_chromium(
        sim_factory: Any, browser: Any, origin_server: str, unicode_host: str,
        shouted: str, punycode: str) -> None:
    # the administrator writes the Unicode host; the browser sends it in punycode, which
    # ASP.NET Core's CorsPolicyBuilder stores for it (cors-origin-format passes it)
    port = origin_server.rsplit(":", 1)[1]
    declared = f"http://{unicode_host}:{port}"
    page = browser.new_page()
    page.goto(declared + "/")
    sent = cors_judge.browser_origin(declared)
    assert sent == page.evaluate("location.origin") == f"http://{punycode}:{port}"
    full = {"Enabled": True, "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Allow-Methods": "GET, POST, PATCH"}
    sections: list[tuple[str, dict[str, Any] | None]] = [
        (allowed, {**full, "Access-Control-Allow-Origin": allowed})
        for allowed in (declared, f"http://{shouted}:{port}",
                        f"http://other.localhost:{port}")]
    compared = _compare(sim_factory(wsman=False), page, sent, sections, "idn")
    page.close()
    assert [c[2] for c in compared] == [True] * (2 * len(BROWSER_REQUESTS)) + [False] * len(
        BROWSER_REQUESTS)

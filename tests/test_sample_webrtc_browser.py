"""Conformance: the vendor's WebRTC_JavaScript sample, in headless Chromium, against ``gwctl sim``.

Mirrors milestonesys/mipsdk-samples-protocol, release XProtect 2025R2,
``WebRTC_JavaScript/js/main.js`` (commonSetup, command, aux), ``js/tokenCommunication.js``
(getToken), ``js/rest.js`` (REST tab) and ``js/websocket.js`` (WebSocket tab), through our
own page ``tests/pages/webrtc_sample.html``, which makes the same calls in the same order.
The page is served from a loopback HTTP server of the test (a page whose address space
Chromium cannot place may not reach loopback: Local Network Access) and the gateway has
CORS on for that origin, as a user of the sample would configure it.

Chromium is Debian's (``apt-get install chromium``; ``.ci/run`` installs it) driven by
Playwright's Python package with ``executable_path`` -- never ``playwright install`` --
with its default WebRTC settings: host candidates hidden behind mDNS names, as a user's
browser sends them. The simulator runs real media peers (``GWCTL_SIM_MEDIA=1``, aiortc).

Each case -- live video (the sample's empty ``playbackTime``) and playback, over REST and
over WebSocket signalling -- must reach ``connected`` with decoded frames in the video
element, its PTZ and aux commands on the ``videoos-commands`` data channel answered, and
the gateway's session holding the browser's answer and trickled candidates.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from gwctl.cli.main import main
from gwctl.sim.server import SimSite
from gwctl.sim.state import SiteSpec

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PAGE = Path(__file__).parent / "pages" / "webrtc_sample.html"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

playwright_api = pytest.importorskip("playwright.sync_api",
                                     reason="the Playwright package (test extra) is missing")
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (.ci/run installs it with apt-get)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` serving tests/pages/."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(PAGE.parent)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def site(page_origin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimSite]:
    """The default site with real media peers and CORS on for the page's origin on
    demo-gw1; one for the module (peers of earlier cases are closed by then)."""
    pytest.importorskip("aiortc", reason="the 'webrtc' extra (aiortc) is not installed")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GWCTL_SIM_MEDIA", "1")
        sim = SimSite.create(tmp_path_factory.mktemp("sim"), SiteSpec(), wsman=False).start()
        try:
            sim.production_path("demo-gw1").write_text(json.dumps({"CORS": {
                "Enabled": True, "Access-Control-Allow-Origin": page_origin,
                "Access-Control-Allow-Headers": "Content-Type, Authorization",
                "Access-Control-Allow-Methods": "GET, POST, PATCH, OPTIONS"}}), "utf-8")
            # as the README tells a user: the file, then `gwctl sim recycle`
            assert main(["sim", "recycle", "--state", str(sim.state_dir), "--host",
                         "demo-gw1"]) == 0
            gw1 = next(g for g in sim.status()["gateways"] if g["name"] == "demo-gw1")
            assert gw1["config"]["cors"], gw1["config"]
            yield sim
        finally:
            sim.stop()


def _run(browser: Any, site: SimSite, origin: str, mode: str, playback: str,
         until: str) -> tuple[dict[str, Any], dict[str, str]]:
    api = site.gateway_url("demo-gw1")
    user, password = next(iter(site.users.items()))
    token = httpx.post(api + "/IDP/connect/token", data={
        "grant_type": "password", "username": user, "password": password,
        "client_id": "GrantValidatorClient"}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    device = httpx.get(api + "/rest/v1/cameras", headers=headers).json()["array"][0]["id"]
    page = browser.new_page()
    try:
        query = urlencode({"api": api, "mode": mode, "device": device, "user": user,
                           "password": password, "playback": playback})
        page.goto(f"{origin}/{PAGE.name}?{query}")
        page.wait_for_function(until, timeout=20_000)
        report: dict[str, Any] = page.evaluate("window.report")
    finally:
        page.close()
    return report, headers


CONNECTED = ("window.report.errors.length > 0 || window.report.states.includes('failed')"
             " || (window.report.states.includes('connected') && window.report.frames > 0"
             " && window.report.channelReplies.length >= 2)")
PLAYBACK = "2025-12-06T15:00:00.000Z"
CASES = [
    pytest.param("rest", "", id="rest-live: js/rest.js"),
    pytest.param("rest", PLAYBACK, id="rest-playback: js/rest.js"),
    pytest.param("ws", "", id="ws-live: js/websocket.js"),
    pytest.param("ws", PLAYBACK, id="ws-playback: js/websocket.js"),
]


@pytest.mark.parametrize(("mode", "playback"), CASES)
def test_sample_connects_shows_frames_and_gets_ptz_answers(
        browser: Any, site: SimSite, page_origin: str, mode: str, playback: str) -> None:
    """js/main.js + js/rest.js (REST tab) or js/websocket.js (WebSocket tab)."""
    # ICE can complete on the browser's checks alone (peer-reflexive) before the sample's
    # POST of its own candidates is answered: wait for that call too
    until = CONNECTED if mode != "rest" else (
        f"({CONNECTED}) && (window.report.errors.length > 0 || "
        "window.report.calls.includes('POST IceCandidates 200'))")
    report, headers = _run(browser, site, page_origin, mode, playback, until)
    assert report["errors"] == [] and "failed" not in report["states"], report
    assert "connected" in report["states"] and report["frames"] > 0, report
    if mode == "rest":
        for call in ("POST IDP/connect/token 200", "POST Session 200", "PATCH Session 200",
                     "GET IceCandidates 200", "POST IceCandidates 200"):
            assert call in report["calls"], (call, report["calls"])
    else:
        for call in ("WS open 101", "WS register ok", "WS connect ok", "WS invite ok"):
            assert call in report["calls"], (call, report["calls"])
    # the gateway's own candidates reached the browser by trickling, as the sample takes them
    assert report["remoteCandidates"] > 0, report
    # main.js command() and aux(): each request answered on the same channel
    replies = [json.loads(r) for r in report["channelReplies"]]
    assert [(r["type"], r["method"]) for r in replies[:2]] == [
        ("response", "ptzMove"), ("response", "setAux")], replies
    assert replies[0]["result"]["tilt"] == 1
    assert replies[1]["result"] == {"deviceId": replies[0]["result"]["deviceId"],
                                    "auxNumber": "1", "on": True}
    # the gateway's session holds the browser's answer and the browser's candidates
    rest = site.gateway_url("demo-gw1") + "/REST/v1/WebRTC"
    sid = report["sessionId"]
    session = httpx.get(rest + f"/Session/{sid}", headers=headers).json()
    answer = json.loads(session["answerSDP"])
    assert answer["type"] == "answer" and "a=fingerprint:sha-256" in answer["sdp"]
    assert ("playbackTimeNode" in session) == bool(playback)
    stored = httpx.post(rest + f"/IceCandidates/{sid}", headers=headers,
                        json={"candidates": []}).json()["candidates"]
    assert stored and all("candidate" in json.loads(c) for c in stored)

"""The multi-camera browser test page in headless Chromium against the simulator.

The page is served as ``gwctl probe webrtc --serve-page`` serves it; the simulated
gateway allows its origin (CORS) and streams real video (``GWCTL_SIM_MEDIA=1``, aiortc).
Chromium logs in, lists the cameras and opens 4 players at once: each panel must show
frames.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest
from browser import chromium

from gwctl.cli.main import main
from gwctl.probe.page import make_server


def test_page_opens_4_players_that_each_show_frames(
        sim_factory: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("aiortc", reason="the 'webrtc' extra (aiortc) is not installed")
    monkeypatch.setenv("GWCTL_SIM_MEDIA", "1")
    site = sim_factory(wsman=False, cameras=4)
    server = make_server("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        site.production_path("demo-gw1").write_text(json.dumps({"CORS": {
            "Enabled": True, "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Access-Control-Allow-Methods": "GET, POST, PATCH"}}), "utf-8")
        site.recycle("demo-gw1")
        user, password = next(iter(site.users.items()))
        # host candidates as plain addresses (the sample conformance tests keep mDNS names)
        with chromium(("--disable-features=WebRtcHideLocalIpsWithMdns",)) as browser:
            page = browser.new_page()
            page.goto(origin + "/")
            page.fill("#api", site.gateway_url("demo-gw1"))
            page.fill("#user", user)
            page.fill("#password", password)
            page.click("#login")
            page.wait_for_selector("#open:not([disabled])", timeout=15_000)
            assert page.locator("#cameras input:checked").count() == 4
            page.click("#open")
            page.wait_for_function(
                "window.gwctlResults.length === 4 && "
                "window.gwctlResults.every(r => r.ok || r.error)", timeout=60_000)
            results = page.evaluate("window.gwctlResults")
            statuses = page.locator(".panel .status").all_text_contents()
            page.close()
    finally:
        server.shutdown()
        server.server_close()
    assert all(r["ok"] for r in results), results
    assert len({r["camera"] for r in results}) == 4
    assert all(r["firstFrameMs"] >= r["answeredMs"] > 0 for r in results)
    assert all(s.startswith("first frame after ") for s in statuses), statuses


def test_serve_page_command_serves_the_page(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # the command as a user runs it, stopped after the first request (as Ctrl-C would)
    from gwctl.probe import page as page_module

    served: dict[str, Any] = {}
    real = page_module.make_server

    def recording(host: str, port: int) -> Any:
        server = real(host, 0)
        served["url"] = f"http://{host}:{server.server_address[1]}/"

        def fetch_then_stop() -> None:
            served["body"] = httpx.get(served["url"]).text
            served["missing"] = httpx.get(served["url"] + "nope").status_code
            server.shutdown()

        threading.Timer(0.0, fetch_then_stop).start()
        return server

    monkeypatch.setattr(page_module, "make_server", recording)
    code = main(["probe", "webrtc", "--serve-page", "--port", "8080"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "serving the WebRTC multi-camera test page at http://127.0.0.1:" in out
    assert "the gateway's CORS must allow the origin http://127.0.0.1:" in out
    assert "<title>gwctl WebRTC multi-camera test</title>" in served["body"]
    assert served["missing"] == 404

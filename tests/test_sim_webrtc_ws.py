"""WebRTC signalling over WebSocket (``{api}/ws/webrtc/v1``): the JSON-RPC exchange of the
vendor's WebRTC_JavaScript ``js/websocket.js`` (mipsdk-samples-protocol, XProtect 2025R2),
made from Python with the ``websockets`` client, message for message; the browser run of
the same page is in ``test_sample_webrtc_browser.py``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from gwctl.sim.server import SimSite

Factory = Callable[..., SimSite]


def _token(site: SimSite, gateway: str) -> str:
    user, password = next(iter(site.users.items()))
    r = httpx.post(site.gateway_url(gateway) + "/IDP/connect/token", data={
        "grant_type": "password", "username": user, "password": password,
        "client_id": "GrantValidatorClient"})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _ws_url(site: SimSite, gateway: str) -> str:
    return site.gateway_url(gateway).replace("http://", "ws://") + "/ws/webrtc/v1"


def _camera(site: SimSite, gateway: str, token: str) -> str:
    cams = httpx.get(site.gateway_url(gateway) + "/rest/v1/cameras",
                     headers={"Authorization": f"Bearer {token}"}).json()
    return str(cams["array"][0]["id"])


def _answer() -> str:
    sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVP 101\r\n"
    return json.dumps({"type": "answer", "sdp": sdp})


def _call(ws: ClientConnection, method: str, params: Any, ident: int | None) -> None:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if ident is not None:
        msg["id"] = ident
    ws.send(json.dumps(msg))


def _recv(ws: ClientConnection) -> dict[str, Any]:
    data = json.loads(ws.recv(timeout=10))
    assert data["jsonrpc"] == "2.0"
    return dict(data)


def test_register_connect_invite_answer_trickle(sim_site: SimSite) -> None:
    token = _token(sim_site, "demo-gw1")
    cam = _camera(sim_site, "demo-gw1", token)
    with connect(_ws_url(sim_site, "demo-gw1")) as ws:
        _call(ws, "register", {"authorization": token}, 1)
        assert _recv(ws) == {"jsonrpc": "2.0", "result": {}, "id": 1}
        # live video: no PlaybackTime, includeAudio always sent (websocket.js connectToDevice)
        _call(ws, "connect", {"authorization": token, "peer": cam, "includeAudio": True}, 2)
        connected = _recv(ws)
        assert connected["id"] == 2
        sid = connected["result"]["session"]
        invite = _recv(ws)
        assert invite["method"] == "invite" and invite["id"] not in (1, 2)
        assert invite["params"]["session"] == sid
        offer = json.loads(invite["params"]["offer"])
        assert offer["type"] == "offer" and "m=video" in offer["sdp"]
        ws.send(json.dumps({"jsonrpc": "2.0", "result": {"answer": _answer()},
                            "id": invite["id"]}))
        trickle = _recv(ws)
        assert trickle["method"] == "trickle" and "id" not in trickle
        assert trickle["params"]["session"] == sid
        assert "typ host" in trickle["params"]["candidate"]["candidate"]
        mine = json.dumps({"candidate": "candidate:1 1 udp 1 10.0.0.2 5000 typ host",
                           "sdpMid": "0", "sdpMLineIndex": 0})
        _call(ws, "trickle", {"session": sid, "candidate": mine}, None)
        # a trickle with an id gets its result: every earlier message was processed
        _call(ws, "trickle", {"session": sid, "candidate": mine}, 7)
        assert _recv(ws) == {"jsonrpc": "2.0", "result": {}, "id": 7}
        # the session is the gateway's: REST sees the answer and the client's candidates
        h = {"Authorization": f"Bearer {token}"}
        rest = sim_site.gateway_url("demo-gw1") + "/REST/v1/WebRTC"
        session = httpx.get(rest + f"/Session/{sid}", headers=h).json()
        assert session["answerSDP"] == _answer()
        posted = httpx.post(rest + f"/IceCandidates/{sid}", headers=h, json={"candidates": []})
        assert posted.json()["candidates"] == [mine, mine]


def test_playback_parameters_reach_the_session(sim_site: SimSite) -> None:
    token = _token(sim_site, "demo-gw1")
    cam = _camera(sim_site, "demo-gw1", token)
    with connect(_ws_url(sim_site, "demo-gw1")) as ws:
        _call(ws, "register", {"authorization": token}, 1)
        _recv(ws)
        _call(ws, "connect", {"authorization": token, "peer": cam,
                              "PlaybackTime": "2025-12-06T15:00:00.000Z", "skipGaps": True,
                              "PlaybackSpeed": "2", "includeAudio": False}, 2)
        sid = _recv(ws)["result"]["session"]
        session = httpx.get(sim_site.gateway_url("demo-gw1") + f"/REST/v1/WebRTC/Session/{sid}",
                            headers={"Authorization": f"Bearer {token}"}).json()
        assert session["playbackTimeNode"]["speed"] == 2.0
        assert session["playbackTimeNode"]["skipGaps"] is True


def test_errors(sim_site: SimSite) -> None:
    token = _token(sim_site, "demo-gw1")
    cam = _camera(sim_site, "demo-gw1", token)
    with connect(_ws_url(sim_site, "demo-gw1")) as ws:
        _call(ws, "connect", {"peer": cam}, 2)
        assert _recv(ws)["error"]["code"] == -32001  # register first
        _call(ws, "register", {"authorization": "not a token"}, 1)
        assert _recv(ws)["error"]["code"] == -32001
        _call(ws, "register", {"authorization": "Bearer " + token}, 1)
        assert "result" in _recv(ws)
        ws.send("{not json")
        assert _recv(ws)["error"]["code"] == -32700
        _call(ws, "dance", {}, 3)
        assert _recv(ws)["error"]["code"] == -32601
        _call(ws, "connect", {"peer": "00000000-0000-4000-8000-000000000000"}, 4)
        unknown = _recv(ws)["error"]
        assert unknown["code"] == -32000 and unknown["data"]["status"] == 404
        _call(ws, "connect", {"peer": cam, "PlaybackTime": "yesterday"}, 5)
        assert _recv(ws)["error"]["data"]["status"] == 400
        _call(ws, "trickle", {"session": "nope", "candidate": "{}"}, None)
        assert _recv(ws)["method"] == "error"  # what the sample logs as a server error


@pytest.mark.parametrize(("version", "status"), [("2024 R2", 404), ("2025 R1", None)])
def test_endpoint_follows_release(sim_factory: Factory, version: str,
                                  status: int | None) -> None:
    site = sim_factory(version=version, wsman=False)
    if status is None:
        with connect(_ws_url(site, "demo-gw1")) as ws:
            _call(ws, "register", {"authorization": _token(site, "demo-gw1")}, 1)
            assert "result" in _recv(ws)
        return
    with pytest.raises(InvalidStatus) as info:
        connect(_ws_url(site, "demo-gw1"))
    assert info.value.response.status_code == status


def test_upgrade_refused_while_pool_stopped_and_plain_get(sim_site: SimSite) -> None:
    token = _token(sim_site, "demo-gw1")
    plain = httpx.get(sim_site.gateway_url("demo-gw1") + "/ws/webrtc/v1",
                      headers={"Authorization": f"Bearer {token}"})
    assert plain.status_code == 400
    sim_site.set_pool_state("demo-gw1", "Stopped")
    with pytest.raises(InvalidStatus) as info:
        connect(_ws_url(sim_site, "demo-gw1"))
    assert info.value.response.status_code == 503


def test_rest_live_node_and_token_refresh(sim_site: SimSite) -> None:
    """rest.js sends an empty playbackTime for live video; tokenCommunication.js refreshes
    the token with PATCH Session {token}. Both were 400 before."""
    token = _token(sim_site, "demo-gw1")
    cam = _camera(sim_site, "demo-gw1", token)
    h = {"Authorization": f"Bearer {token}"}
    rest = sim_site.gateway_url("demo-gw1") + "/REST/v1/WebRTC"
    r = httpx.post(rest + "/Session", headers=h, json={
        "deviceId": cam, "resolution": "notInUse", "includeAudio": True,
        "playbackTimeNode": {"playbackTime": "", "skipGaps": False}, "iceServers": []})
    assert r.status_code == 200, r.text
    sid = r.json()["sessionId"]
    assert "playbackTimeNode" not in r.json()  # live, not playback
    fresh = _token(sim_site, "demo-gw1")
    refreshed = httpx.patch(rest + f"/Session/{sid}", json={"token": fresh},
                            headers={"Authorization": f"Bearer {fresh}"})
    assert refreshed.status_code == 200 and refreshed.json()["sessionId"] == sid
    assert httpx.patch(rest + f"/Session/{sid}", headers=h, json={}).status_code == 400
    bad_time = httpx.post(rest + "/Session", headers=h, json={
        "deviceId": cam, "playbackTimeNode": {"playbackTime": "not a time"}})
    assert bad_time.status_code == 400

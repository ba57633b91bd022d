"""WebRTC signalling over WebSocket (``{api}/ws/webrtc/v1``, JSON-RPC 2.0, 2025 R1+).

The exchange the vendor's WebRTC_JavaScript sample (``js/websocket.js``, XProtect 2025R2)
makes, one WebSocket per peer connection, every message a JSON-RPC 2.0 object:

1. client ``register {authorization: TOKEN}`` (request) -> ``result {}``. The token is the
   IDP's access token, with or without the ``Bearer`` prefix.
2. client ``connect {authorization, peer: DEVICE_ID, streamID?, PlaybackTime?, skipGaps?,
   PlaybackSpeed?, iceServers?, includeAudio?}`` (request) -> ``result {session: ID}``.
   The parameters are those of the REST ``POST Session`` (`gwctl.sim.webrtc`), and they
   are checked the same way by the same code; property names ignore case.
3. server ``invite {session, offer}`` (a request of the server's own, ids from 100 so they
   never equal the sample's 1 and 2): ``offer`` is the JSON-encoded RTCSessionDescription
   of the REST ``offerSDP``. The client answers ``result {answer}`` (a JSON-encoded answer)
   with the invite's id; the answer is stored as a REST ``PATCH Session`` would.
4. ``trickle {session, candidate}`` notifications: the client's ``candidate`` is a JSON
   string (stored as REST ``POST IceCandidates`` stores it); the server's, sent after the
   answer (a candidate before the offer is applied would be lost), are RTCIceCandidateInit
   objects, which the sample hands to ``addIceCandidate`` as they are.

Sessions made here are the gateway's WebRTC sessions: ``GET {api}/REST/v1/WebRTC/Session/
{id}`` shows them and a recycle ends them.

Errors: a request that fails gets a JSON-RPC error response with its id: ``-32700`` parse
error (id null), ``-32600`` invalid request, ``-32601`` unknown method, ``-32602`` invalid
params, ``-32001`` unauthorized (no or bad token; ``register`` must come first), and
``-32000`` with ``data.status`` the HTTP status the REST endpoint gives for the same input
(400 bad request, 404 unknown device or session, 502 version mismatch) and its message.
A failing notification (``trickle``) or answer gets an ``error`` notification ``{message}``,
which is what the sample prints for server errors.

The upgrade itself goes through the gateway's pipeline: app pool stopped or recycling, or
a start that failed, are IIS's 503 (the handshake is refused with that status); the path
exists from 2025 R1 only (feature ``webrtc-ws-signalling``) -- before, and for any other
WebSocket path, the request is answered as the same HTTP GET would be (404, or the route's
answer). A plain HTTP GET of the endpoint is ``400 {"error": "WebSocket upgrade required"}``
(ASP.NET Core's WebSocket middleware leaves a non-upgrade request to the controller, which
refuses it).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from gwctl.sim.jsonfields import get_field
from gwctl.sim.messages import SimResponse

if TYPE_CHECKING:
    from gwctl.sim.gateway import GatewayEmulator

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
SERVER_ERROR = -32000
UNAUTHORIZED = -32001
FIRST_SERVER_ID = 100
MAX_OPEN_INVITES = 64



class SignallingConnection:
    """One WebSocket of the signalling endpoint: its registration and its sessions."""

    def __init__(self, gateway: GatewayEmulator, send: Send) -> None:
        self.gateway = gateway
        self._send = send
        self.token: str | None = None
        self._ids = itertools.count(FIRST_SERVER_ID)
        #: server request id -> session id, for the client's answers
        self._invites: dict[int, str] = {}

    async def send(self, message: dict[str, Any]) -> None:
        await self._send({"type": "websocket.send",
                          "text": json.dumps({"jsonrpc": "2.0", **message})})

    async def error(self, ident: Any, code: int, message: str,
                    data: dict[str, Any] | None = None) -> None:
        err: dict[str, Any] = {"code": code, "message": message}
        if data:
            err["data"] = data
        await self.send({"error": err, "id": ident})

    async def notify_error(self, message: str) -> None:
        await self.send({"method": "error", "params": {"message": message}})

    # -- messages -----------------------------------------------------------------------

    async def handle(self, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            await self.error(None, PARSE_ERROR, "Parse error")
            return
        if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0":
            await self.error(msg.get("id") if isinstance(msg, dict) else None,
                             INVALID_REQUEST, "Invalid Request")
            return
        ident = msg.get("id")
        method = msg.get("method")
        if method is None and ("result" in msg or "error" in msg):
            await self._response(msg)
            return
        if not isinstance(method, str):
            await self.error(ident, INVALID_REQUEST, "Invalid Request")
            return
        params = msg.get("params")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            await self._fail(ident, INVALID_PARAMS, "params must be an object")
            return
        low = method.lower()
        if low == "register":
            await self._register(ident, params)
        elif low == "connect":
            await self._connect(ident, params)
        elif low == "trickle":
            await self._trickle(ident, params)
        else:
            await self._fail(ident, METHOD_NOT_FOUND, f"Method not found: {method}")

    async def _fail(self, ident: Any, code: int, message: str,
                    data: dict[str, Any] | None = None) -> None:
        if ident is None:
            await self.notify_error(message)
        else:
            await self.error(ident, code, message, data)

    def _user(self, token: Any) -> str | None:
        if not isinstance(token, str) or not token.strip():
            return None
        value = token.strip()
        if value[:7].lower() != "bearer ":
            value = "Bearer " + value
        return self.gateway.site.management.idp.user_of(value)

    async def _register(self, ident: Any, params: dict[str, Any]) -> None:
        token = get_field(params, "authorization")
        if self._user(token) is None:
            await self._fail(ident, UNAUTHORIZED, "Unauthorized: a valid access token is "
                                                  "required")
            return
        self.token = str(token)
        if ident is not None:
            await self.send({"result": {}, "id": ident})

    def _authorized(self, params: dict[str, Any]) -> bool:
        token = get_field(params, "authorization") or self.token
        return self.token is not None and self._user(token) is not None

    async def _connect(self, ident: Any, params: dict[str, Any]) -> None:
        if not self._authorized(params):
            await self._fail(ident, UNAUTHORIZED, "Unauthorized: register with a valid "
                                                  "access token first")
            return
        gw = self.gateway
        if gw.mismatch:
            await self._fail(ident, SERVER_ERROR, gw.mismatch, {"status": 502})
            return
        body: dict[str, Any] = {gw.webrtc.device_field: get_field(params, "peer")}
        for ours, theirs in (("streamId", "streamID"), ("includeAudio", "includeAudio"),
                             ("iceServers", "iceServers")):
            value = get_field(params, theirs)
            if value is not None:
                body[ours] = value
        when = get_field(params, "PlaybackTime")
        if when is not None:
            node: dict[str, Any] = {"playbackTime": when}
            for ours, theirs in (("skipGaps", "skipGaps"), ("speed", "PlaybackSpeed")):
                value = get_field(params, theirs)
                if value is not None:
                    node[ours] = _number(value) if ours == "speed" else value
            body["playbackTimeNode"] = node
        request = json.dumps(body).encode()
        if gw.webrtc.media is not None:
            # as the REST session request: a real media peer's offer takes a while, and
            # the event loop serves every other request meanwhile
            res = await asyncio.to_thread(gw.webrtc.create, request, gw.running.ice_servers,
                                          gw.host.faults.webrtc_window)
        else:
            res = gw.webrtc.create(request, gw.running.ice_servers,
                                   gw.host.faults.webrtc_window)
        session = _answer_json(res)
        if res.status != 200 or not isinstance(session, dict):
            await self._fail(ident, SERVER_ERROR, _message(res), {"status": res.status})
            return
        sid = str(session["sessionId"])
        if ident is not None:
            await self.send({"result": {"session": sid}, "id": ident})
        invite = next(self._ids)
        if len(self._invites) >= MAX_OPEN_INVITES:
            # a client that never answers must not grow this connection's memory
            self._invites.pop(next(iter(self._invites)))
        self._invites[invite] = sid
        await self.send({"method": "invite", "params": {"session": sid,
                                                        "offer": session["offerSDP"]},
                         "id": invite})

    async def _response(self, msg: dict[str, Any]) -> None:
        ident = msg.get("id")
        sid = self._invites.pop(ident, None) if isinstance(ident, int) else None
        if sid is None:
            await self.notify_error(f"No request of the server has id {ident!r}")
            return
        result = msg.get("result")
        answer = get_field(result, "answer") if isinstance(result, dict) else None
        if answer is None:
            await self.notify_error(f"The client refused the offer of session {sid}")
            return
        res = self.gateway.webrtc.patch(sid, json.dumps({"answerSDP": answer}).encode())
        if res.status != 200:
            await self.notify_error(_message(res))
            return
        session = self.gateway.webrtc.session(sid)
        for candidate in session.server_candidates if session else []:
            await self.send({"method": "trickle",
                             "params": {"session": sid, "candidate": json.loads(candidate)}})

    async def _trickle(self, ident: Any, params: dict[str, Any]) -> None:
        if self.token is None:
            await self._fail(ident, UNAUTHORIZED, "Unauthorized: register first")
            return
        sid = get_field(params, "session")
        candidate = get_field(params, "candidate")
        if isinstance(candidate, dict):
            candidate = json.dumps(candidate)
        if not isinstance(sid, str) or not isinstance(candidate, str):
            await self._fail(ident, INVALID_PARAMS, "trickle needs a session and a candidate")
            return
        res = self.gateway.webrtc.ice_candidates(
            "POST", sid, json.dumps({"candidates": [candidate]}).encode())
        if res.status != 200:
            await self._fail(ident, SERVER_ERROR, _message(res), {"status": res.status})
        elif ident is not None:
            await self.send({"result": {}, "id": ident})


def _number(value: Any) -> Any:
    """The sample sends the speed field's text; the REST body wants a number."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _answer_json(res: SimResponse) -> Any:
    try:
        return json.loads(res.body or b"null")
    except ValueError:
        return None


def _message(res: SimResponse) -> str:
    data = _answer_json(res)
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return str(data["error"])
    return f"Request failed with status {res.status}"


async def serve(gateway: GatewayEmulator, receive: Receive, send: Send) -> None:
    """Accept the upgrade and run the JSON-RPC exchange until the client closes."""
    conn = SignallingConnection(gateway, send)
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.disconnect":
            return
        if kind != "websocket.receive":
            continue
        text = message.get("text")
        if text is None and message.get("bytes") is not None:
            text = bytes(message["bytes"]).decode("utf-8", "replace")
        await conn.handle(text or "")

"""WebRTC signalling over WebSocket, as the vendor's sample's WebSocket tab uses it (2025 R1+).

``{api}/ws/webrtc/v1`` (``ws://`` for an http gateway, ``wss://`` for https), JSON-RPC 2.0
(manual and the sample ``WebRTC_JavaScript/js/websocket.js``, XProtect 2025R2):
``register {authorization}`` -> result; ``connect {authorization, peer, includeAudio}`` ->
``result {session}``; the gateway's ``invite {session, offer}`` request, answered with
``result {answer}`` under the invite's id; ``trickle {session, candidate}`` both ways.

The answer is `gwctl.verify.signalling.answer_for`'s (signalling only, no media). The
sample sends its candidates as notifications; this client sends its one candidate as a
request (with an id), because messages on one socket are handled in order: the reply to
it comes after the gateway has taken the answer, so an ``error`` notification about the
answer arrives before it. The gateway's ``trickle`` notifications seen until then are
counted. Every wait is bounded by the timeout.
"""

from __future__ import annotations

import json
import ssl
import time
from dataclasses import dataclass
from typing import Any

from gwctl.verify.signalling import SignallingError, answer_for

PATH = "/ws/webrtc/v1"
PLACEHOLDER_CANDIDATE = json.dumps({
    "candidate": "candidate:1 1 udp 2113937151 127.0.0.1 9 typ host", "sdpMid": "0",
    "sdpMLineIndex": 0})


@dataclass(frozen=True)
class WsSetup:
    session: str
    offer: str
    server_candidates: int


def ws_url(api: str) -> str:
    if api.startswith("https://"):
        return "wss://" + api[len("https://"):] + PATH
    if api.startswith("http://"):
        return "ws://" + api[len("http://"):] + PATH
    raise ValueError(f"not an http(s) URL: {api}")


def _ssl_context(url: str, verify_tls: bool | str) -> ssl.SSLContext | None:
    if not url.startswith("wss://"):
        return None
    if verify_tls is False:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=verify_tls if isinstance(verify_tls, str)
                                      else None)


class _Rpc:
    """One signalling socket: requests, their replies, and what else the gateway sends."""

    def __init__(self, ws: Any, deadline: float) -> None:
        self.ws = ws
        self.deadline = deadline
        self.invites: list[dict[str, Any]] = []
        self.candidates = 0

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps({"jsonrpc": "2.0", **message}))

    def _next(self, step: str) -> dict[str, Any]:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise SignallingError(step, "no reply from the gateway in time")
        try:
            text = self.ws.recv(timeout=left)
        except TimeoutError:
            raise SignallingError(step, "no reply from the gateway in time") from None
        try:
            msg = json.loads(text)
        except ValueError:
            raise SignallingError(step, f"the gateway sent no JSON: {str(text)[:120]}"
                                  ) from None
        if not isinstance(msg, dict):
            raise SignallingError(step, f"the gateway sent no JSON-RPC object: {text[:120]}")
        method = msg.get("method")
        if method == "trickle":
            self.candidates += 1
        elif method == "invite":
            self.invites.append(msg)
        elif method == "error":
            params = msg.get("params")
            what = params.get("message") if isinstance(params, dict) else None
            raise SignallingError(step, f"the gateway reported: {what or msg}")
        return msg

    def call(self, step: str, method: str, params: dict[str, Any], ident: int) -> Any:
        self.send({"method": method, "params": params, "id": ident})
        while True:
            msg = self._next(step)
            if "method" in msg or msg.get("id") != ident:
                continue
            if "error" in msg:
                err = msg["error"]
                detail = err.get("message") if isinstance(err, dict) else err
                status = err.get("data", {}).get("status") if isinstance(err, dict) and \
                    isinstance(err.get("data"), dict) else None
                raise SignallingError(step, f"JSON-RPC error: {detail}",
                                      status if isinstance(status, int) else None)
            return msg.get("result")

    def invite(self, step: str, session: str) -> dict[str, Any]:
        while True:
            for msg in self.invites:
                params = msg.get("params")
                if isinstance(params, dict) and params.get("session") == session:
                    return msg
            self._next(step)


def ws_session(api: str, token: str, camera: str, *, verify_tls: bool | str = True,
               timeout_s: float = 10.0) -> WsSetup:
    """A signalling-only session over the WebSocket; raises `SignallingError`."""
    from websockets.exceptions import InvalidStatus, WebSocketException
    from websockets.sync.client import connect

    url = ws_url(api)
    deadline = time.monotonic() + timeout_s
    try:
        with connect(url, ssl=_ssl_context(url, verify_tls), open_timeout=timeout_s,
                     close_timeout=1) as ws:
            rpc = _Rpc(ws, deadline)
            rpc.call("ws register", "register", {"authorization": token}, 1)
            result = rpc.call("ws connect", "connect",
                              {"authorization": token, "peer": camera, "includeAudio": False},
                              2)
            session = result.get("session") if isinstance(result, dict) else None
            if not isinstance(session, str):
                raise SignallingError("ws connect", "the result has no session")
            invite = rpc.invite("ws invite", session)
            offer = _offer(invite)
            rpc.send({"result": {"answer": answer_for(offer)}, "id": invite.get("id")})
            rpc.call("ws trickle", "trickle",
                     {"session": session, "candidate": PLACEHOLDER_CANDIDATE}, 3)
            return WsSetup(session, offer, rpc.candidates)
    except InvalidStatus as exc:
        status = exc.response.status_code
        raise SignallingError("ws open", f"the upgrade was refused: HTTP {status}",
                              status) from None
    except (OSError, TimeoutError, WebSocketException) as exc:
        raise SignallingError("ws open", f"{type(exc).__name__}: {exc}") from None


def _offer(invite: dict[str, Any]) -> str:
    params = invite.get("params")
    text = params.get("offer") if isinstance(params, dict) else None
    try:
        desc = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        desc = None
    if not isinstance(desc, dict) or desc.get("type") != "offer" or \
            not str(desc.get("sdp", "")).startswith("v=0"):
        raise SignallingError("ws invite", "the offer is not a JSON-encoded "
                                           "RTCSessionDescription of type 'offer'")
    return str(desc["sdp"])

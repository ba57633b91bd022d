"""A client of the gateway's REST API and WebRTC REST signalling, as browsers use them.

Token (``POST /IDP/connect/token``, password grant), cameras (``GET /rest/v1/cameras``),
and a WebRTC session: ``POST /REST/v1/WebRTC/Session`` (the camera as ``deviceId`` from
2025 R2, ``cameraId`` before), ``GET IceCandidates/{id}``, ``POST IceCandidates/{id}`` and
``PATCH Session/{id}`` with the answer. Every exchange goes through a `Recorder`.

Without a WebRTC stack the answer is built from the offer (`answer_for`): the same media
sections, receive-only, with this client's own ICE credentials and a random DTLS
fingerprint. It completes signalling; no DTLS handshake and no media follow from it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
from dataclasses import dataclass
from typing import Any

from gwctl.verify.exchange import Recorder
from gwctl.versions.features import supports
from gwctl.versions.release import Version

DEFAULT_CLIENT_ID = "GrantValidatorClient"


class SignallingError(Exception):
    """One step failed: `step` names it, `status` is the HTTP status if one came."""

    def __init__(self, step: str, detail: str, status: int | None = None) -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step
        self.detail = detail
        self.status = status


def _error_text(body: str) -> str:
    try:
        doc = json.loads(body)
    except ValueError:
        return body[:200]
    if isinstance(doc, dict) and "error" in doc:
        err = doc["error"]
        return err if isinstance(err, str) else json.dumps(err)[:200]
    return body[:200]


def _expect(rec: Recorder, step: str, method: str, url: str, **kw: Any) -> Any:
    response = rec.request(step, method, url, **kw)
    if response is None:
        raise SignallingError(step, rec.exchanges[-1].error or "no response")
    if response.status_code != 200:
        raise SignallingError(step, f"HTTP {response.status_code} "
                                    f"{_error_text(rec.exchanges[-1].response_body)}".strip(),
                              response.status_code)
    try:
        return response.json()
    except ValueError:
        raise SignallingError(step, "the answer is not JSON", 200) from None


def get_token(rec: Recorder, api: str, user: str, password: str,
              client_id: str = DEFAULT_CLIENT_ID) -> str:
    doc = _expect(rec, "token", "POST", f"{api}/IDP/connect/token", form={
        "grant_type": "password", "username": user, "password": password,
        "client_id": client_id})
    token = doc.get("access_token") if isinstance(doc, dict) else None
    if not isinstance(token, str) or not token:
        raise SignallingError("token", "the answer has no access_token", 200)
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def list_cameras(rec: Recorder, api: str, token: str) -> list[str]:
    doc = _expect(rec, "cameras", "GET", f"{api}/rest/v1/cameras", headers=bearer(token))
    items = doc.get("array") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise SignallingError("cameras", "the answer has no 'array'", 200)
    return [str(c["id"]) for c in items if isinstance(c, dict) and "id" in c]


def device_field(version: Version) -> str:
    return "deviceId" if supports("webrtc-session-deviceId", version) else "cameraId"


@dataclass
class SessionSetup:
    session_id: str
    offer_sdp: str
    server_candidates: list[str]


def create_session(rec: Recorder, api: str, token: str, camera: str, version: Version,
                   label: str = "session") -> dict[str, Any]:
    body: dict[str, Any] = {device_field(version): camera, "resolution": "notInUse",
                            "includeAudio": False}
    doc = _expect(rec, label, "POST", f"{api}/REST/v1/WebRTC/Session", headers=bearer(token),
                  json_body=body)
    if not isinstance(doc, dict) or not isinstance(doc.get("sessionId"), str):
        raise SignallingError(label, "the answer has no sessionId", 200)
    return doc


def offer_of(session: dict[str, Any], label: str = "session") -> str:
    try:
        desc = json.loads(session.get("offerSDP") or "")
    except ValueError:
        desc = None
    if not isinstance(desc, dict) or desc.get("type") != "offer" or \
            not str(desc.get("sdp", "")).startswith("v=0"):
        raise SignallingError(label, "offerSDP is not a JSON-encoded RTCSessionDescription "
                                     "of type 'offer'", 200)
    return str(desc["sdp"])


def answer_for(offer_sdp: str) -> str:
    """A receive-only answer to `offer_sdp` (JSON-encoded RTCSessionDescription)."""
    alphabet = string.ascii_letters + string.digits
    ufrag = "".join(secrets.choice(alphabet) for _ in range(8))
    pwd = "".join(secrets.choice(alphabet) for _ in range(24))
    digest = hashlib.sha256(secrets.token_bytes(32)).hexdigest().upper()
    fingerprint = ":".join(digest[i:i + 2] for i in range(0, 64, 2))
    sections: list[list[str]] = []
    for line in offer_sdp.replace("\r\n", "\n").split("\n"):
        if line.startswith("m="):
            sections.append([line])
        elif sections:
            sections[-1].append(line)
    mids: list[str] = []
    body: list[str] = []
    for section in sections:
        m_line = section[0]
        mid = next((s[6:] for s in section if s.startswith("a=mid:")), str(len(mids)))
        mids.append(mid)
        kind, _, rest = m_line[2:].partition(" ")
        proto_fmts = rest.split(" ", 1)[1] if " " in rest else ""
        body += [f"m={kind} 9 {proto_fmts}", "c=IN IP4 0.0.0.0", f"a=ice-ufrag:{ufrag}",
                 f"a=ice-pwd:{pwd}", f"a=fingerprint:sha-256 {fingerprint}",
                 "a=setup:active", f"a=mid:{mid}"]
        if kind == "application":
            body += [s for s in section if s.startswith(("a=sctp-port:",
                                                         "a=max-message-size:"))]
        else:
            body += [s for s in section if s.startswith(("a=rtpmap:", "a=fmtp:",
                                                         "a=rtcp-fb:"))]
            body += ["a=rtcp-mux", "a=recvonly"]
    head = ["v=0", f"o=- {secrets.randbits(31)} 0 IN IP4 127.0.0.1", "s=-", "t=0 0",
            f"a=group:BUNDLE {' '.join(mids)}"]
    return json.dumps({"type": "answer", "sdp": "\r\n".join([*head, *body]) + "\r\n"})


def complete_session(rec: Recorder, api: str, token: str, session: dict[str, Any],
                     answer: str | None = None, candidates: list[str] | None = None,
                     label: str = "session") -> SessionSetup:
    """Candidates both ways and the answer, after `create_session`. `candidates` are a
    real peer's (JSON-encoded RTCIceCandidateInit); without them a placeholder host
    candidate stands in, as the answer does (`answer_for`) for signalling-only checks."""
    sid = str(session["sessionId"])
    offer = offer_of(session, label)
    got = _expect(rec, f"{label}: get ICE candidates", "GET",
                  f"{api}/REST/v1/WebRTC/IceCandidates/{sid}", headers=bearer(token))
    cands = got.get("candidates") if isinstance(got, dict) else None
    if not isinstance(cands, list):
        raise SignallingError(f"{label}: get ICE candidates", "the answer has no candidates",
                              200)
    mine = candidates if candidates is not None else [json.dumps(
        {"candidate": "candidate:1 1 udp 2113937151 127.0.0.1 9 typ host", "sdpMid": "0",
         "sdpMLineIndex": 0})]
    _expect(rec, f"{label}: send ICE candidates", "POST",
            f"{api}/REST/v1/WebRTC/IceCandidates/{sid}", headers=bearer(token),
            json_body={"candidates": mine})
    _expect(rec, f"{label}: answer", "PATCH", f"{api}/REST/v1/WebRTC/Session/{sid}",
            headers=bearer(token), json_body={"answerSDP": answer or answer_for(offer)})
    return SessionSetup(sid, offer, [str(c) for c in cands])

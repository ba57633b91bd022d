"""WebRTC REST signalling of an emulated gateway (``/REST/v1/WebRTC``).

The gateway serves signalling itself (its own controllers, next to the YARP routes; the
stock route table has no WebRTC route), so ``POST /api/REST/v1/WebRTC/Session`` works
whatever the ReverseProxy section says, and a route with a lower ``Order`` (or more
literal path) would shadow it, as in ASP.NET Core endpoint routing.

- ``POST Session`` ``{deviceId | cameraId, resolution?, streamId?, includeAudio?,
  playbackTimeNode?{playbackTime, skipGaps?, speed}, iceServers?[{url, username?,
  credential?}]}`` -> ``{sessionId, offerSDP, answerSDP: "Uninitialised", ...}``. The camera
  field follows the gateway's release: ``cameraId`` before 2025 R2, ``deviceId`` from
  2025 R2 (feature table); the other name is ignored, so a client sending both -- like
  the forum report's -- works on every release. Property names ignore case (ASP.NET
  Core's JSON defaults). ``speed`` must be 0 < s <= 32. A ``playbackTimeNode`` whose
  ``playbackTime`` is empty or null asks for live video (the vendor's WebRTC_JavaScript
  sends ``{"playbackTime": "", "skipGaps": false}`` on a first live connect). An unknown
  camera is ``404 {"error": ...}``; a malformed request ``400 {"error": ...}`` (what
  ASP.NET Core's model validation answers: body not JSON or not an object, camera field
  missing or not a GUID, a field of the wrong type, a playback time that is not a date,
  speed out of range, an ICE server URL that is not stun:/stuns:/turn:/turns:).
- ``offerSDP`` is a JSON-encoded RTCSessionDescription ``{"type": "offer", "sdp": ...}``
  whose SDP has v=/o=/s=/t=, ``a=group:BUNDLE 0 1``, an H264 ``m=video`` (sendonly) and
  an ``m=application`` data channel, ICE ufrag/pwd, a sha-256 fingerprint, ``setup:
  actpass``, and candidates: one ``typ host`` on 127.0.0.1, one ``typ srflx`` per STUN
  server and one ``typ relay`` per TURN server with credentials -- from the gateway's
  configured ICE servers (loaded at start) plus those of the request. No media flows --
  unless real media is on (`gwctl.sim.media`): then the offer is a real peer's, its
  candidates are trickled too, and the client's trickled candidates go to that peer.
- ``PATCH Session/{id}`` ``{answerSDP}`` (a JSON-encoded answer) completes the set-up;
  ``PATCH Session/{id}`` ``{token}`` is the sample's token refresh (answered with the
  session); a PATCH with neither, or an answer that is not a JSON-encoded
  RTCSessionDescription of type answer, is 400; an unknown session id is 404;
  ``GET Session/{id}`` shows it; ``GET IceCandidates/{id}`` returns the gateway's
  candidates (``{"candidates": [json strings]}``); ``POST IceCandidates/{id}``
  ``{"candidates": [...]}`` stores the client's.
- Fault ``webrtc-concurrency``: a session request while another session of this gateway
  is still being set up (not yet answered, created within the window) answers
  ``400 {"error":"Request failed with status 400"}``, as in the forum report.
"""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gwctl.sim import media
from gwctl.sim.jsonfields import get_field, is_guid
from gwctl.sim.messages import SimResponse, json_response
from gwctl.sim.running import IceServer
from gwctl.versions.features import supports
from gwctl.versions.release import Version

MAX_SESSIONS = 1000
MAX_SPEED = 32.0
CONCURRENCY_ERROR = {"error": "Request failed with status 400"}
ICE_SCHEMES = ("stun", "stuns", "turn", "turns")



def _has(obj: dict[str, Any], name: str) -> bool:
    low = name.lower()
    return any(k.lower() == low for k in obj)


def _bad(message: str) -> SimResponse:
    return json_response(400, {"error": message})


def _is_live(node: Any) -> bool:
    """A playbackTimeNode that asks for live video: the vendor's sample sends
    ``{"playbackTime": "", "skipGaps": false}`` on a first connect without a time."""
    if not isinstance(node, dict):
        return False
    when = get_field(node, "playbackTime")
    return when is None or (isinstance(when, str) and not when.strip())



@dataclass
class Session:
    id: str
    device_id: str
    created: float
    offer: str
    request: dict[str, Any]
    server_candidates: list[str]
    answer: str | None = None
    client_candidates: list[str] = field(default_factory=list)

    def to_json(self, device_field: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "sessionId": self.id,
            device_field: self.device_id,
            "offerSDP": self.offer,
            "answerSDP": self.answer if self.answer is not None else "Uninitialised",
        }
        for key in ("resolution", "streamId", "includeAudio", "playbackTimeNode",
                    "iceServers"):
            if key in self.request:
                out[key] = self.request[key]
        return out


class WebRtcService:
    """Signalling sessions of one gateway (in memory; a recycle clears them)."""

    def __init__(self, version: Version, cameras: dict[str, Any],
                 clock: Callable[[], float] = time.monotonic, seed: int = 0) -> None:
        self.version = version
        self.cameras = cameras  # lower-case id -> camera record
        self.clock = clock
        self.rng = random.Random(seed)
        self.sessions: OrderedDict[str, Session] = OrderedDict()
        self.device_field = ("deviceId" if supports("webrtc-session-deviceId", version)
                             else "cameraId")
        # real media peers (gwctl.sim.media) when switched on and aiortc is installed
        self.media = media.hub() if media.enabled() else None

    def _peer(self, sid: str) -> str:
        # session ids are per gateway; the media hub is shared by the whole simulator
        return f"{id(self)}:{sid}"

    def reset(self) -> None:
        # a new dict, not clear(): a recycle may come from another thread (WinRM)
        old, self.sessions = self.sessions, OrderedDict()
        if self.media is not None:
            self.media.close([self._peer(sid) for sid in old])

    # -- Session ----------------------------------------------------------------------------

    def create(self, body: bytes, configured: list[IceServer],
               concurrency_window: float | None) -> SimResponse:
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return _bad("The request body is not valid JSON")
        if not isinstance(data, dict):
            return _bad("The request body must be a JSON object")
        field_name = self.device_field
        device = get_field(data, field_name)
        if device is None:
            return _bad(f"The {field_name} field is required")
        if not is_guid(device):
            return _bad(f"The value of {field_name} is not a valid GUID")
        request: dict[str, Any] = {}
        resolution = get_field(data, "resolution")
        if resolution is not None and not isinstance(resolution, str):
            return _bad("resolution must be a string")
        if resolution is not None:
            request["resolution"] = resolution
        include_audio = get_field(data, "includeAudio")
        if include_audio is not None and not isinstance(include_audio, bool):
            return _bad("includeAudio must be true or false")
        request["includeAudio"] = bool(include_audio)
        if supports("webrtc-stream-selection", self.version) and _has(data, "streamId"):
            stream = get_field(data, "streamId")
            if stream is not None and not is_guid(stream):
                return _bad("The value of streamId is not a valid GUID")
            if stream is not None:
                request["streamId"] = stream
        node = get_field(data, "playbackTimeNode")
        if supports("webrtc-playback", self.version) and node and not _is_live(node):
            problem = self._playback(node)
            if problem:
                return _bad(problem)
            request["playbackTimeNode"] = node
        extra_ice: list[IceServer] = []
        if supports("ice-servers-multiple", self.version) and get_field(data, "iceServers"):
            servers = get_field(data, "iceServers")
            if not isinstance(servers, list):
                return _bad("iceServers must be an array")
            for item in servers:
                url = get_field(item, "url") if isinstance(item, dict) else None
                if not isinstance(url, str) or url.split(":", 1)[0].lower() not in ICE_SCHEMES:
                    return _bad("each iceServers entry needs a url with scheme stun:, stuns:, "
                                "turn: or turns:")
                extra_ice.append(IceServer(url, get_field(item, "username"),
                                           get_field(item, "credential")))
            request["iceServers"] = servers
        cam = self.cameras.get(device.lower())
        if cam is None:
            return json_response(404, {"error": f"Device {device} not found"})
        now = self.clock()
        if concurrency_window is not None and any(
                s.answer is None and now - s.created < concurrency_window
                for s in self.sessions.values()):
            return json_response(400, CONCURRENCY_ERROR)
        sid = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        candidates: list[str] = []
        if self.media is not None:
            offer_sdp = self.media.offer(
                self._peer(sid), device,
                [(i.url, i.username, i.credential) for i in [*configured, *extra_ice]])
            candidates = media.trickled(offer_sdp)
        else:
            offer_sdp, candidates = self._offer(sid, [*configured, *extra_ice])
        offer = json.dumps({"type": "offer", "sdp": offer_sdp})
        session = Session(sid, device, now, offer, request, candidates)
        self.sessions[sid] = session
        while len(self.sessions) > MAX_SESSIONS:
            self.sessions.popitem(last=False)
        return json_response(200, session.to_json(field_name))

    @staticmethod
    def _playback(node: Any) -> str | None:
        if not isinstance(node, dict):
            return "playbackTimeNode must be an object"
        when = get_field(node, "playbackTime")
        if not isinstance(when, str):
            return "playbackTimeNode.playbackTime is required"
        try:
            datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            return "playbackTimeNode.playbackTime is not a valid date and time"
        speed = get_field(node, "speed")
        if speed is not None:
            if isinstance(speed, bool) or not isinstance(speed, int | float):
                return "playbackTimeNode.speed must be a number"
            if not 0 < float(speed) <= MAX_SPEED:
                return f"playbackTimeNode.speed must be greater than 0 and at most {MAX_SPEED:g}"
        skip = get_field(node, "skipGaps")
        if skip is not None and not isinstance(skip, bool):
            return "playbackTimeNode.skipGaps must be true or false"
        return None

    def session(self, sid: str) -> Session | None:
        return self.sessions.get(sid.lower())  # ids are created lower-case

    def get(self, sid: str) -> SimResponse:
        s = self.session(sid)
        if s is None:
            return json_response(404, {"error": f"Session {sid} not found"})
        return json_response(200, s.to_json(self.device_field))

    def patch(self, sid: str, body: bytes) -> SimResponse:
        s = self.session(sid)
        if s is None:
            return json_response(404, {"error": f"Session {sid} not found"})
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return _bad("The request body is not valid JSON")
        answer = get_field(data, "answerSDP") if isinstance(data, dict) else None
        if isinstance(data, dict) and answer is None and isinstance(get_field(data, "token"), str):
            # the sample's token refresh (tokenCommunication.js): the new bearer token was
            # already checked on this very request, so the session simply lives on
            return json_response(200, s.to_json(self.device_field))
        if not isinstance(answer, str):
            return _bad("answerSDP is required")
        try:
            desc = json.loads(answer)
        except ValueError:
            desc = None
        if (not isinstance(desc, dict) or desc.get("type") != "answer"
                or not isinstance(desc.get("sdp"), str)
                or not desc["sdp"].startswith("v=0") or "m=" not in desc["sdp"]):
            return _bad("answerSDP must be a JSON-encoded RTCSessionDescription of type "
                        "'answer'")
        s.answer = answer
        if self.media is not None:
            self.media.answer(self._peer(s.id), desc["sdp"])
        return json_response(200, s.to_json(self.device_field))

    def ice_candidates(self, method: str, sid: str, body: bytes) -> SimResponse:
        s = self.session(sid)
        if s is None:
            return json_response(404, {"error": f"Session {sid} not found"})
        if method == "GET":
            return json_response(200, {"candidates": s.server_candidates})
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return _bad("The request body is not valid JSON")
        cands = get_field(data, "candidates") if isinstance(data, dict) else None
        if not isinstance(cands, list) or not all(isinstance(c, str) for c in cands):
            return _bad("candidates must be an array of strings")
        for c in cands:
            try:
                parsed = json.loads(c)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict) or not isinstance(parsed.get("candidate"), str):
                return _bad("each candidate must be a JSON-encoded RTCIceCandidateInit")
        s.client_candidates.extend(cands)
        if self.media is not None:
            for c in cands:
                self.media.add_candidate(self._peer(s.id), json.loads(c))
        return json_response(200, {"candidates": s.client_candidates})

    # -- SDP --------------------------------------------------------------------------------

    def _offer(self, sid: str, servers: list[IceServer]) -> tuple[str, list[str]]:
        rng = self.rng
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        ufrag = "".join(rng.choice(letters) for _ in range(4))
        pwd = "".join(rng.choice(letters) for _ in range(24))
        fingerprint = ":".join(f"{rng.getrandbits(8):02X}" for _ in range(32))
        port = rng.randrange(49152, 65535)
        cands = [f"candidate:{rng.getrandbits(31)} 1 udp 2113937663 127.0.0.1 {port} "
                 "typ host generation 0"]
        stun_n = turn_n = 0
        for server in servers:
            scheme = server.scheme
            if scheme in ("stun", "stuns"):
                stun_n += 1
                cands.append(f"candidate:{rng.getrandbits(31)} 1 udp 1677729535 "
                             f"203.0.113.{stun_n} {port} typ srflx raddr 127.0.0.1 rport "
                             f"{port} generation 0")
            elif scheme in ("turn", "turns") and server.username and server.credential:
                # a TURN allocation needs credentials; without them there is no relay
                turn_n += 1
                cands.append(f"candidate:{rng.getrandbits(31)} 1 udp 16777215 "
                             f"198.51.100.{turn_n} {rng.randrange(49152, 65535)} typ relay "
                             f"raddr 203.0.113.{max(stun_n, 1)} rport {port} generation 0")
        media = [
            "m=video 9 UDP/TLS/RTP/SAVP 101 102",
            "c=IN IP4 0.0.0.0",
            f"a=ice-ufrag:{ufrag}",
            f"a=ice-pwd:{pwd}",
            f"a=fingerprint:sha-256 {fingerprint}",
            "a=setup:actpass",
            *(f"a={c}" for c in cands),
            "a=end-of-candidates",
            "a=ice-options:ice2,trickle",
            "a=mid:0",
            "a=rtpmap:101 H264/90000",
            "a=rtcp-fb:101 goog-remb",
            "a=fmtp:101 packetization-mode=1;level-asymmetry-allowed=1;profile-level-id=42e01f",
            "a=rtpmap:102 H264/90000",
            "a=rtcp-fb:102 goog-remb",
            "a=fmtp:102 packetization-mode=1;level-asymmetry-allowed=1;profile-level-id=42e034",
            "a=rtcp-mux",
            "a=rtcp:9 IN IP4 0.0.0.0",
            "a=sendonly",
            f"a=ssrc:{rng.getrandbits(31)} cname:{sid}",
            "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
            "c=IN IP4 0.0.0.0",
            f"a=ice-ufrag:{ufrag}",
            f"a=ice-pwd:{pwd}",
            f"a=fingerprint:sha-256 {fingerprint}",
            "a=setup:actpass",
            "a=ice-options:ice2,trickle",
            "a=mid:1",
            "a=sctp-port:5000",
            "a=max-message-size:262144",
        ]
        lines = ["v=0", f"o=- {rng.getrandbits(31)} 0 IN IP4 127.0.0.1", "s=-", "t=0 0",
                 "a=group:BUNDLE 0 1", "a=msid-semantic: WMS", *media]
        trickled = [json.dumps({"candidate": c, "sdpMid": "0", "sdpMLineIndex": 0})
                    for c in cands]
        return "\r\n".join(lines) + "\r\n", trickled


def sdp_is_well_formed(sdp: str) -> bool:
    """A light structural check of an SDP (used by tests and ``gwctl sim`` itself)."""
    lines = sdp.split("\r\n")
    if not lines or lines[0] != "v=0":
        return False
    order = [line[:2] for line in lines[:4]]
    return order == ["v=", "o=", "s=", "t="] and all(
        re.match(r"^[a-z]=", line) for line in lines if line)

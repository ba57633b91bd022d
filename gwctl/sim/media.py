"""Real WebRTC media for emulated gateways (optional: the ``webrtc`` extra, aiortc).

With ``GWCTL_SIM_MEDIA=1`` in the simulator's environment and aiortc installed, a session
request is answered with the offer of a real aiortc peer that streams a synthetic test
picture for the camera (a colour per camera, a bar moving across it, VP8) and opens a
data channel; the client's answer (``PATCH Session``) starts ICE, DTLS and
SRTP for real, so clients receive frames on loopback. The peers run on one event loop in
a background thread, shared by every gateway of the process. Without the variable (or
without aiortc) the simulator keeps its signalling-only offers -- whose candidates follow
the configured ICE servers, which a real peer would try to reach.

Each camera's picture is encoded once and its packets go to every session watching it
(`CameraStream`), as a gateway relays a camera's one stream to all viewers rather than
encoding per viewer. The encoder runs only while someone watches: it starts on the first
viewer's first request for a frame (once DTLS is up), and every new viewer gets a
keyframe at once instead of waiting for the next one of the stream (an extra frame: the
stream's next frame stays due when it was). The picture is small (160x120 at 15 fps, a
keyframe every 2 s) so that dozens of sessions fit on a 2-core test machine; clients
decode every frame for real. Its bitrate is fixed, so the offer asks receivers for no
bandwidth estimate (no ``abs-send-time``, no ``goog-remb``), which would cost each of
them an estimator run per packet and REMB reports that nothing reads.

What a browser sends is what the peer takes:

- The offer bundles video and data on one transport (``max-bundle``), as the gateway's
  offer does; the peer's candidates are in the offer SDP and are also handed out as
  trickled candidates (`trickled`), which is how the gateway gives them to the samples
  (``GET IceCandidates``, WebSocket ``trickle``).
- The client's trickled candidates (``POST IceCandidates``, WebSocket ``trickle``) go to
  the peer (`MediaHub.add_candidate`), also when they come before the answer. Chromium
  hides its host addresses behind mDNS names (``<uuid>.local``) unless told otherwise;
  aioice resolves those by multicast DNS and drops the ones it cannot resolve within a
  second. ICE does not depend on them: the peer is the controlling agent, and the
  browser's checks towards the offered candidates make the browser's address known as a
  peer-reflexive candidate (RFC 8445 section 7.3.1.3), which is then nominated. A
  candidate with an empty ``candidate`` string is end-of-candidates.
- A data channel the client opens with protocol ``videoos-commands`` (the sample's PTZ
  and aux buttons) is answered message by message by `gwctl.sim.ptz_commands`.
"""

from __future__ import annotations

import asyncio
import fractions
import hashlib
import logging
import os
import threading
from concurrent.futures import Future
from typing import Any

from gwctl.probe.media import (
    LOOPBACK_ADDRESSES,
    IceServerSpec,
    configuration,
    start_loop,
    trickled,
)
from gwctl.sim.ptz_commands import PROTOCOL, CommandChannel

__all__ = ["MediaHub", "enabled", "hub", "trickled"]

log = logging.getLogger(__name__)

ENV_SWITCH = "GWCTL_SIM_MEDIA"
WIDTH, HEIGHT, FPS = 160, 120, 15
KEYFRAME_EVERY = 2 * FPS
CLOCK = 90000  # RTP video clock
VIEWER_QUEUE = 30
BITRATE = 150_000
OFFER_TIMEOUT_S = 15.0
MAX_PEERS = 512
MAX_EARLY_CANDIDATES = 64
ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


def enabled() -> bool:
    if os.environ.get(ENV_SWITCH) != "1":
        return False
    try:
        import aiortc  # noqa: F401
    except ImportError:
        log.warning("%s=1 but aiortc is not installed (pip install 'gwctl[webrtc]'): "
                    "signalling only", ENV_SWITCH)
        return False
    return True


def _camera_colour(camera: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(camera.lower().encode()).digest()
    return 60 + digest[0] % 160, digest[1], digest[2]  # Y, U, V


def _picture(camera: str, count: int) -> Any:
    """Frame `count` of `camera`'s test picture: its colour, a bright bar sweeping across."""
    from av import VideoFrame

    y, u, v = _camera_colour(camera)
    frame = VideoFrame(WIDTH, HEIGHT, "yuv420p")
    bar = (count * 4) % WIDTH
    row = bytes([y] * bar + [235] * min(8, WIDTH - bar) + [y] * max(0, WIDTH - bar - 8))
    luma = frame.planes[0]
    luma.update(row.ljust(luma.line_size, b"\0") * HEIGHT)
    for plane, value in ((frame.planes[1], u), (frame.planes[2], v)):
        plane.update(bytes([value]) * plane.buffer_size)
    return frame


def _encoder() -> Any:
    import av

    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.bit_rate = BITRATE
    codec.gop_size = KEYFRAME_EVERY
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    codec.thread_count = 1
    return codec


def _next_due(due: float, now: float, newcomer: bool) -> float:
    """When the next frame is due, after one encoded at `now` that was due at `due`.

    A keyframe for a newcomer (`newcomer`) encoded before its time is one more frame
    between two of the cadence: the next one stays due when it was. A receiver completes
    a frame when the next one's first packet comes (aiortc's jitter buffer does), so
    pushing the cadence a whole interval back would hold the newcomer's first picture up
    to two intervals. A late frame restarts the cadence from now rather than catching up
    in a burst."""
    if newcomer and now < due:
        return due
    return max(due + 1 / FPS, now)


class _Viewer:
    """One session's place in a camera stream: its packet queue, and whether it has had
    the keyframe it must start from."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.started = False


class CameraStream:
    """One camera's encoded test picture, fanned out to the sessions watching it."""

    def __init__(self, camera: str) -> None:
        self.camera = camera
        self.viewers: set[_Viewer] = set()
        self.wake = asyncio.Event()
        self.keyframe = False
        self.task: asyncio.Task[None] | None = None

    def join(self) -> _Viewer:
        viewer = _Viewer()
        self.viewers.add(viewer)
        self.keyframe = True  # for the newcomer, now
        self.wake.set()
        if self.task is None:
            self.task = asyncio.ensure_future(self._run())
        return viewer

    def leave(self, viewer: _Viewer) -> None:
        self.viewers.discard(viewer)
        viewer.queue.put_nowait(None)

    async def _run(self) -> None:
        from av.video.frame import PictureType

        loop = asyncio.get_running_loop()
        codec = _encoder()
        start = loop.time()
        count = 0
        due = start
        try:
            while self.viewers:
                wait = due - loop.time()
                if wait > 0 and not self.keyframe:
                    try:
                        await asyncio.wait_for(self.wake.wait(), wait)
                    except TimeoutError:
                        pass
                self.wake.clear()
                if not self.viewers:
                    break
                frame = _picture(self.camera, count)
                now = loop.time()
                newcomer = self.keyframe
                frame.pts = round((now - start) * CLOCK)
                frame.time_base = fractions.Fraction(1, CLOCK)
                if self.keyframe:
                    frame.pict_type = PictureType.I
                    self.keyframe = False
                for packet in codec.encode(frame):
                    packet.pts, packet.time_base = frame.pts, frame.time_base
                    self._deliver(packet)
                count += 1
                due = _next_due(due, now, newcomer)
        finally:
            self.task = None

    def _deliver(self, packet: Any) -> None:
        for viewer in self.viewers:
            if not viewer.started and not packet.is_keyframe:
                continue  # a decoder can start from a keyframe only
            viewer.started = True
            if viewer.queue.qsize() >= VIEWER_QUEUE:
                # a viewer too slow to keep up starts again from the next keyframe
                while not viewer.queue.empty():
                    viewer.queue.get_nowait()
                viewer.started = False
                self.keyframe = True
                continue
            viewer.queue.put_nowait(packet)


def _track(stream: CameraStream) -> Any:
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

    class Watching(MediaStreamTrack):
        """A session's video track: the camera stream's packets, from a keyframe on."""

        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self.viewer: _Viewer | None = None

        async def recv(self) -> Any:
            if self.readyState != "live":
                raise MediaStreamError
            if self.viewer is None:  # the sender asks once DTLS is up: start watching
                self.viewer = stream.join()
            packet = await self.viewer.queue.get()
            if packet is None:
                raise MediaStreamError
            return packet

        def stop(self) -> None:
            super().stop()
            if self.viewer is not None:
                stream.leave(self.viewer)
                self.viewer = None

    return Watching()


def _without_bandwidth_feedback(sdp: str) -> str:
    """`sdp` without the absolute send time header extension and ``goog-remb`` feedback.

    A camera's stream is encoded once for every viewer at a fixed bitrate, so no
    receiver's bandwidth estimate can change it. Offered, they would make every
    receiver run a bitrate estimator on each packet and send REMB reports (aiortc's does:
    most of a receiver's work per packet), for nothing. Left out of the offer, the
    answer leaves them out too, and the sender stops stamping packets with them."""
    return "".join(
        line for line in sdp.splitlines(keepends=True)
        if not (line.startswith("a=extmap:") and line.split()[-1] == ABS_SEND_TIME)
        and not (line.startswith("a=rtcp-fb:") and line.split()[-1] == "goog-remb"))


def _candidate(init: dict[str, Any]) -> Any:
    """aiortc's RTCIceCandidate for a client's RTCIceCandidateInit; None for the empty
    candidate, which is end-of-candidates."""
    from aiortc.sdp import candidate_from_sdp

    text = str(init.get("candidate") or "").strip()
    if not text:
        return None
    if text.startswith("candidate:"):
        text = text[len("candidate:"):]
    candidate = candidate_from_sdp(text)
    mid = init.get("sdpMid")
    line = init.get("sdpMLineIndex")
    candidate.sdpMid = str(mid) if mid is not None else None
    candidate.sdpMLineIndex = line if isinstance(line, int) else None
    if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
        candidate.sdpMLineIndex = 0  # the bundle's transport
    return candidate


class MediaHub:
    """The event loop thread holding every emulated gateway's media peers."""

    def __init__(self) -> None:
        self.peers: dict[str, Any] = {}
        #: lower-case camera id -> its stream (lives on this loop)
        self.streams: dict[str, CameraStream] = {}
        #: client candidates that came before the answer, per session
        self.early: dict[str, list[Any]] = {}
        #: the simulator listens on loopback only, and so do its media peers
        self.loop, self.thread = start_loop("sim-media", LOOPBACK_ADDRESSES)

    def _run(self, coro: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def offer(self, session_id: str, camera: str,
              ice_servers: list[IceServerSpec] | None = None) -> str:
        """A real peer streaming `camera`'s test picture; its offer SDP (candidates in).
        With `ice_servers` (the gateway's and the request's) it gathers server-reflexive
        and relayed candidates too, as the gateway does."""
        return str(self._run(self._offer(session_id, camera, ice_servers or [])
                             ).result(OFFER_TIMEOUT_S))

    async def _offer(self, session_id: str, camera: str,
                     ice_servers: list[IceServerSpec]) -> str:
        from aiortc import RTCPeerConnection, RTCRtpSender

        pc = RTCPeerConnection(configuration=configuration(ice_servers))
        stream = self.streams.setdefault(camera.lower(), CameraStream(camera))
        video = pc.addTransceiver(_track(stream), direction="sendonly")
        # the stream is VP8 (with its retransmissions): offer nothing it cannot send
        video.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs
                                   if c.mimeType.lower() in ("video/vp8", "video/rtx")])
        pc.createDataChannel("ptz")

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                _stop_tracks(pc)

        @pc.on("datachannel")
        def on_channel(channel: Any) -> None:
            if channel.protocol != PROTOCOL:
                return
            commands = CommandChannel(camera)

            def on_message(message: str | bytes) -> None:
                text = message if isinstance(message, str) else message.decode("utf-8",
                                                                                "replace")
                channel.send(commands.answer(text))

            channel.on("message", on_message)

        offer = await pc.createOffer()
        offer.sdp = _without_bandwidth_feedback(offer.sdp)
        await pc.setLocalDescription(offer)
        self.peers[session_id] = pc
        while len(self.peers) > MAX_PEERS:
            oldest = next(iter(self.peers))
            self.early.pop(oldest, None)
            await _close(self.peers.pop(oldest))
        return str(pc.localDescription.sdp)

    def answer(self, session_id: str, sdp: str) -> None:
        """Apply the client's answer; ICE and DTLS proceed in the background."""
        self._run(self._answer(session_id, sdp))

    async def _answer(self, session_id: str, sdp: str) -> None:
        from aiortc import RTCSessionDescription

        pc = self.peers.get(session_id)
        if pc is None:
            return
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        except Exception as exc:  # a client's bad answer ends its media, not the simulator
            log.info("session %s: the answer was not usable for media: %s", session_id, exc)
            self.early.pop(session_id, None)
            await _close(self.peers.pop(session_id))
            return
        for candidate in self.early.pop(session_id, []):
            await self._give(session_id, pc, candidate)

    def add_candidate(self, session_id: str, init: dict[str, Any]) -> None:
        """Hand a client's trickled candidate (RTCIceCandidateInit) to the peer."""
        self._run(self._add_candidate(session_id, init))

    async def _add_candidate(self, session_id: str, init: dict[str, Any]) -> None:
        pc = self.peers.get(session_id)
        if pc is None:
            return
        try:
            candidate = _candidate(init)
        except (AssertionError, ValueError, IndexError) as exc:
            log.info("session %s: candidate %r not usable: %s", session_id, init, exc)
            return
        if pc.remoteDescription is None:
            # the sample posts candidates as they come, which can be before its answer
            early = self.early.setdefault(session_id, [])
            if len(early) < MAX_EARLY_CANDIDATES:  # a client that never answers stays small
                early.append(candidate)
            return
        await self._give(session_id, pc, candidate)

    @staticmethod
    async def _give(session_id: str, pc: Any, candidate: Any) -> None:
        try:
            await pc.addIceCandidate(candidate)
        except ValueError as exc:  # a second end-of-candidates, a closed peer
            log.info("session %s: candidate not added: %s", session_id, exc)

    def close(self, session_ids: list[str]) -> None:
        self._run(self._close(session_ids))

    async def _close(self, session_ids: list[str]) -> None:
        for sid in session_ids:
            self.early.pop(sid, None)
            pc = self.peers.pop(sid, None)
            if pc is not None:
                await _close(pc)


def _stop_tracks(pc: Any) -> None:
    # aiortc leaves a sender's track running: stop it, so the camera stream loses a viewer
    for sender in pc.getSenders():
        if sender.track is not None:
            sender.track.stop()


async def _close(pc: Any) -> None:
    _stop_tracks(pc)
    await pc.close()


_hub: MediaHub | None = None
_hub_lock = threading.Lock()


def hub() -> MediaHub:
    global _hub
    with _hub_lock:
        if _hub is None:
            _hub = MediaHub()
        return _hub

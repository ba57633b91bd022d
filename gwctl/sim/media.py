"""Real WebRTC media for emulated gateways (optional: the ``webrtc`` extra, aiortc).

With ``GWCTL_SIM_MEDIA=1`` in the simulator's environment and aiortc installed, a session
request is answered with the offer of a real aiortc peer that streams a synthetic test
picture for the camera (a colour per camera, a bar moving across it, 320x240 at 15 fps)
and opens a data channel; the client's answer (``PATCH Session``) starts ICE, DTLS and
SRTP for real, so clients receive frames on loopback. The peers run on one event loop in
a background thread, shared by every gateway of the process. Without the variable (or
without aiortc) the simulator keeps its signalling-only offers -- whose candidates follow
the configured ICE servers, which a real peer would try to reach.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
from concurrent.futures import Future
from typing import Any

log = logging.getLogger(__name__)

ENV_SWITCH = "GWCTL_SIM_MEDIA"
WIDTH, HEIGHT, FPS = 320, 240, 15
OFFER_TIMEOUT_S = 15.0
MAX_PEERS = 512


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


def _track(camera: str) -> Any:
    from aiortc import VideoStreamTrack
    from av import VideoFrame

    y, u, v = _camera_colour(camera)

    class TestPicture(VideoStreamTrack):
        """A flat picture in the camera's colour with a bright bar sweeping across."""

        def __init__(self) -> None:
            super().__init__()
            self.count = 0

        async def recv(self) -> Any:
            pts, time_base = await self.next_timestamp()
            frame = VideoFrame(WIDTH, HEIGHT, "yuv420p")
            bar = (self.count * 8) % WIDTH
            self.count += 1
            row = bytes([y] * bar + [235] * min(16, WIDTH - bar)
                        + [y] * max(0, WIDTH - bar - 16))
            luma = frame.planes[0]
            luma.update(row.ljust(luma.line_size, b"\0") * HEIGHT)
            for plane, value in ((frame.planes[1], u), (frame.planes[2], v)):
                plane.update(bytes([value]) * plane.buffer_size)
            frame.pts, frame.time_base = pts, time_base
            return frame

    return TestPicture()


class MediaHub:
    """The event loop thread holding every emulated gateway's media peers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.peers: dict[str, Any] = {}
        self.thread = threading.Thread(target=self.loop.run_forever, name="sim-media",
                                       daemon=True)
        self.thread.start()

    def _run(self, coro: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def offer(self, session_id: str, camera: str) -> str:
        """A real peer streaming `camera`'s test picture; its offer SDP (candidates in)."""
        return str(self._run(self._offer(session_id, camera)).result(OFFER_TIMEOUT_S))

    async def _offer(self, session_id: str, camera: str) -> str:
        from aiortc import RTCConfiguration, RTCPeerConnection

        # no ICE servers: without a configuration aiortc asks a public STUN server, which
        # loopback sessions do not need (and an offline machine waits 5 s for)
        pc = RTCPeerConnection(configuration=RTCConfiguration(iceServers=[]))
        pc.addTrack(_track(camera))
        pc.createDataChannel("ptz")
        await pc.setLocalDescription(await pc.createOffer())
        self.peers[session_id] = pc
        while len(self.peers) > MAX_PEERS:
            oldest = next(iter(self.peers))
            await self.peers.pop(oldest).close()
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
            await self.peers.pop(session_id).close()

    def close(self, session_ids: list[str]) -> None:
        self._run(self._close(session_ids))

    async def _close(self, session_ids: list[str]) -> None:
        for sid in session_ids:
            pc = self.peers.pop(sid, None)
            if pc is not None:
                await pc.close()


_hub: MediaHub | None = None
_hub_lock = threading.Lock()


def hub() -> MediaHub:
    global _hub
    with _hub_lock:
        if _hub is None:
            _hub = MediaHub()
        return _hub

"""The probe's WebRTC client (``--media``; the ``webrtc`` extra: aiortc).

For each session a real aiortc peer takes the gateway's offer, answers it (the answer goes
back with ``PATCH Session``), and runs ICE, DTLS and SRTP; the time the first video frame
comes out of the decoder is recorded. All peers share one event loop in a background
thread, so the probe's session threads stay plain threads.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from gwctl.errors import UsageError


def require() -> None:
    try:
        import aiortc  # noqa: F401
    except ImportError:
        raise UsageError("--media needs aiortc: pip install 'gwctl[webrtc]'") from None


def trickled(sdp: str) -> list[str]:
    """The candidates of `sdp` as the JSON-encoded RTCIceCandidateInit strings a peer
    trickles (the gateway's ``GET IceCandidates``, a client's ``POST IceCandidates``),
    each naming its media section (``sdpMid``, ``sdpMLineIndex``)."""
    from aiortc.sdp import SessionDescription, candidate_to_sdp

    return [json.dumps({"candidate": "candidate:" + candidate_to_sdp(c),
                        "sdpMid": m.rtp.muxId, "sdpMLineIndex": index})
            for index, m in enumerate(SessionDescription.parse(sdp).media)
            for c in m.ice_candidates]


#: (url, username, credential) of a STUN or TURN server
IceServerSpec = tuple[str, str | None, str | None]

#: host candidate addresses for the peers of this thread's event loop (None: aioice's own)
_gathering = threading.local()

#: a peer talking to a gateway on this machine offers host candidates on loopback only
LOOPBACK_ADDRESSES = ("127.0.0.1",)


@functools.cache
def _hook_host_addresses() -> None:
    """aioice chooses a peer's host candidates itself -- every interface except loopback
    (aioice/ice.py, ``get_host_addresses``) -- and aiortc passes it no list. A peer on a
    machine whose only interface is loopback then has no candidate at all, and one
    talking to a gateway on this machine sends its media over the other interfaces. The
    module function is wrapped once; threads started by `start_loop` with addresses get
    those, every other thread aioice's choice (two threads racing to the first call would
    wrap it twice, which chooses the same)."""
    from aioice import ice

    original = ice.get_host_addresses

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        chosen: tuple[str, ...] | None = getattr(_gathering, "addresses", None)
        if chosen is None:
            return original(use_ipv4, use_ipv6)
        return [a for a in chosen if (use_ipv6 if ":" in a else use_ipv4)]

    ice.get_host_addresses = host_addresses


def start_loop(name: str, host_addresses: tuple[str, ...] | None = None
               ) -> tuple[asyncio.AbstractEventLoop, threading.Thread]:
    """A new event loop running in daemon thread `name`, for aiortc peers; with
    `host_addresses` its peers gather host candidates on those addresses only."""
    _hook_host_addresses()
    loop = asyncio.new_event_loop()

    def run() -> None:
        _gathering.addresses = host_addresses
        loop.run_forever()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return loop, thread


def configuration(servers: list[IceServerSpec], relay_only: bool = False) -> Any:
    """aiortc's RTCConfiguration for `servers`. aiortc takes one STUN and one TURN server
    (the first of each; ``stuns:`` it does not speak, so those are left out). Without
    servers the list is empty on purpose: aiortc's default would query a public STUN
    server, which loopback sessions do not need (and an offline machine waits 5 s for)."""
    from aiortc import RTCConfiguration, RTCIceServer
    from aiortc.rtcconfiguration import RTCBundlePolicy, RTCIceTransportPolicy

    ice = [RTCIceServer(urls=url, username=user, credential=credential)
           for url, user, credential in servers
           if url.split(":", 1)[0].lower() in ("stun", "turn", "turns")]
    return RTCConfiguration(
        iceServers=ice, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
        iceTransportPolicy=RTCIceTransportPolicy.RELAY if relay_only
        else RTCIceTransportPolicy.ALL)


class MediaClient:
    """Peers receiving the gateway's video, one per session. With `ice_servers` they
    gather server-reflexive (STUN) and relayed (TURN) candidates too; `relay_only` keeps
    them to relayed ones, as a browser with ``iceTransportPolicy: "relay"``;
    `host_addresses` limits their host candidates (`LOOPBACK_ADDRESSES` for a gateway on
    this machine)."""

    def __init__(self, ice_servers: list[IceServerSpec] | None = None,
                 relay_only: bool = False,
                 host_addresses: tuple[str, ...] | None = None) -> None:
        require()
        self.ice_servers = list(ice_servers or [])
        self.relay_only = relay_only
        self.loop, self.thread = start_loop("probe-media", host_addresses)
        self.peers: list[Any] = []
        self._frames: dict[int, Future[float]] = {}
        self._tasks: set[asyncio.Future[None]] = set()
        #: decoded frames per peer so far
        self.frames: dict[int, int] = {}

    def answer(self, offer_sdp: str) -> tuple[int, str, list[str]]:
        """(peer key, JSON-encoded answer, the answer's candidates as trickled) for
        `offer_sdp`."""
        key, sdp = asyncio.run_coroutine_threadsafe(self._answer(offer_sdp),
                                                    self.loop).result(30)
        return key, json.dumps({"type": "answer", "sdp": sdp}), trickled(sdp)

    async def _answer(self, offer_sdp: str) -> tuple[int, str]:
        from aiortc import RTCPeerConnection, RTCSessionDescription

        pc = RTCPeerConnection(configuration=configuration(self.ice_servers,
                                                           self.relay_only))
        key = len(self.peers)
        self.peers.append(pc)
        first: Future[float] = Future()
        self._frames[key] = first

        @pc.on("track")
        def on_track(track: Any) -> None:
            if track.kind != "video":
                return

            async def receive() -> None:
                try:
                    while True:
                        await track.recv()  # a decoded frame
                        self.frames[key] = self.frames.get(key, 0) + 1
                        if not first.done():
                            first.set_result(time.monotonic())
                except Exception as exc:  # the track ended (before a frame: the finding)
                    if not first.done():
                        first.set_exception(exc)

            task = asyncio.ensure_future(receive())
            self._tasks.add(task)  # held until done: the loop keeps only weak references
            task.add_done_callback(self._tasks.discard)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return key, str(pc.localDescription.sdp)

    def first_frame(self, key: int, timeout_s: float) -> float | None:
        """Monotonic time of the first decoded frame, None when none came in time."""
        try:
            return self._frames[key].result(timeout_s)
        except (FutureTimeout, Exception):
            return None

    def close(self) -> None:
        async def close_all() -> None:
            for pc in self.peers:
                await pc.close()

        try:
            asyncio.run_coroutine_threadsafe(close_all(), self.loop).result(30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)

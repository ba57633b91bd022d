"""The simulator's media peer: what it hands out and takes as trickled candidates."""

from __future__ import annotations

import json

import pytest

from gwctl.sim import media

OFFER = "\r\n".join([
    "v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
    "m=video 50696 UDP/TLS/RTP/SAVPF 97", "c=IN IP4 192.0.2.2",
    "a=candidate:f9 1 udp 2130706431 192.0.2.2 50696 typ host", "a=mid:0",
    "m=application 50696 UDP/DTLS/SCTP webrtc-datachannel", "a=mid:1",
    "a=candidate:d0 1 udp 2130706431 fd00::2 34737 typ host", ""])


def test_offer_candidates_are_trickled_with_their_section() -> None:
    pytest.importorskip("aiortc", reason="the 'webrtc' extra (aiortc) is not installed")
    # in the first section the mid follows the candidate
    assert [json.loads(c) for c in media.trickled(OFFER)] == [
        {"candidate": "candidate:f9 1 udp 2130706431 192.0.2.2 50696 typ host",
         "sdpMid": "0", "sdpMLineIndex": 0},
        {"candidate": "candidate:d0 1 udp 2130706431 fd00::2 34737 typ host",
         "sdpMid": "1", "sdpMLineIndex": 1}]


def test_a_browser_candidate_becomes_aiortc_s_and_the_empty_one_ends_them() -> None:
    pytest.importorskip("aiortc", reason="the 'webrtc' extra (aiortc) is not installed")
    # what Chromium sends by default: its host address hidden behind an mDNS name
    cand = media._candidate({
        "candidate": "candidate:4232590027 1 udp 2113937151 4b61c0dc-f23a-461e-8f6f-"
                     "c02e1009ffaa.local 45947 typ host generation 0 ufrag HbJr "
                     "network-cost 999", "sdpMid": "0", "sdpMLineIndex": 0})
    assert (cand.ip, cand.port, cand.type, cand.sdpMid) == (
        "4b61c0dc-f23a-461e-8f6f-c02e1009ffaa.local", 45947, "host", "0")
    assert media._candidate({"candidate": "", "sdpMid": "0"}) is None
    # neither mid nor index: the bundle's (only) transport
    bare = media._candidate({"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"})
    assert bare.sdpMLineIndex == 0


def test_a_newcomer_s_keyframe_leaves_the_cadence_where_it_was() -> None:
    step = 1 / media.FPS
    # a newcomer's keyframe between two frames: the next frame of the cadence stays due
    assert media._next_due(10.0, 10.0 - step / 2, newcomer=True) == 10.0
    # a frame of the cadence, on time or a hair early (a timer): the next one an interval on
    assert media._next_due(10.0, 10.0, newcomer=False) == pytest.approx(10.0 + step)
    assert media._next_due(10.0, 10.0 - 1e-6, newcomer=False) == pytest.approx(10.0 + step)
    # a keyframe asked for when the frame was due anyway takes its place
    assert media._next_due(10.0, 10.01, newcomer=True) == pytest.approx(10.0 + step)
    # late: the cadence restarts from now instead of catching up in a burst
    assert media._next_due(10.0, 10.5, newcomer=False) == 10.5


def test_the_offer_asks_receivers_for_no_bandwidth_estimate() -> None:
    pytest.importorskip("aiortc", reason="the 'webrtc' extra (aiortc) is not installed")
    from gwctl.probe.media import MediaClient

    hub = media.hub()  # the simulator's, shared by its gateways
    client = MediaClient()
    try:
        offer = hub.offer("bandwidth-s1", "cam-1")
        _, answer, _ = client.answer(offer)
    finally:
        client.close()
        hub.close(["bandwidth-s1"])
    answer_sdp = json.loads(answer)["sdp"]
    for sdp in (offer, answer_sdp):
        lines = sdp.splitlines()
        assert not [line for line in lines if media.ABS_SEND_TIME in line
                    or line.endswith(" goog-remb")]
        # what the stream does use stays: the bundle's mid, retransmissions, picture loss
        assert "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid" in lines
        assert any(line.endswith(" nack pli") for line in lines)
    # stripped from aiortc's own offer, where they were
    assert media._without_bandwidth_feedback(
        "a=extmap:3 " + media.ABS_SEND_TIME + "\r\na=rtcp-fb:97 goog-remb\r\n"
        "a=rtcp-fb:97 nack\r\n") == "a=rtcp-fb:97 nack\r\n"


def _host_candidates(sdp: str) -> set[str]:
    return {line.split()[4] for line in sdp.splitlines()
            if line.startswith("a=candidate:") and " typ host" in line}


def test_loopback_peers_gather_and_stream_on_loopback_only() -> None:
    """aioice leaves loopback out of a peer's host candidates; the simulator's peers and
    a probe's peers for a gateway on this machine offer 127.0.0.1 and nothing else, and
    frames still arrive (a machine whose only interface is loopback can run them)."""
    pytest.importorskip("aiortc", reason="the 'webrtc' extra (aiortc) is not installed")
    from aioice import ice

    from gwctl.probe.media import LOOPBACK_ADDRESSES, MediaClient

    hub = media.hub()
    client = MediaClient(host_addresses=LOOPBACK_ADDRESSES)
    try:
        offer = hub.offer("loopback-s1", "cam-2")
        key, answer, trickle = client.answer(offer)
        hub.answer("loopback-s1", json.loads(answer)["sdp"])
        assert client.first_frame(key, 20) is not None
    finally:
        client.close()
        hub.close(["loopback-s1"])
    assert _host_candidates(offer) == {"127.0.0.1"}
    assert _host_candidates(json.loads(answer)["sdp"]) == {"127.0.0.1"}
    assert trickle and all(" 127.0.0.1 " in json.loads(c)["candidate"] for c in trickle)
    # threads the hook was not asked for keep aioice's own choice, loopback left out
    assert "127.0.0.1" not in ice.get_host_addresses(use_ipv4=True, use_ipv6=False)

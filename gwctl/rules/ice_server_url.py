"""A WebRTC ICE server URL that browsers reject: scheme, host or port is wrong.

Each entry of ``WebRTC:iceServers`` is ``{url}`` or ``{url, username, credential}``
(the gateway reads ``url``, not the browser API's ``urls``). The URL is
``stun:host[:port]``, ``stuns:``, ``turn:host[:port][?transport=udp|tcp]`` or ``turns:``
-- no ``//``, no path. A browser given a malformed ICE server throws when it creates the
peer connection, so no WebRTC session starts at all. The 2023 R1/R2 single-server form
``WebRTC:STUN:Hostname:Address`` is checked the same way.

PASS::

    webrtc:
      ice_servers:
        - url: stun:stun.example.com:3478
        - {url: "turns:turn.example.com:5349?transport=tcp", username: gw, credential: env:TURN}

FAIL::

    webrtc:
      ice_servers:
        - url: stun://stun.example.com:3478
        - url: turn.example.com:99999
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _cfg, _ice
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "ice-server-url"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    for i, server in _ice.servers(target):
        key = (*_ice.ICE, str(i))
        if not isinstance(server, dict):
            yield from target.report(ID, LEVEL, f"ICE server {i} must be an object "
                                     "{url[, username, credential]}", key)
            continue
        url = _ice.url_of(server)
        if not url:
            hint = " (the gateway reads 'url', not 'urls')" if _cfg.has(server, "urls") else ""
            yield from target.report(ID, LEVEL, f"ICE server {i} has no url{hint}", key)
            continue
        why = _ice.url_problem(url)
        if why:
            yield from target.report(ID, LEVEL, f"ICE server URL {url!r}: {why}",
                                     (*key, "url"))
    stun = _cfg.text(target.value(_ice.STUN))
    if stun:
        why = _ice.url_problem(stun)
        if why:
            yield from target.report(ID, LEVEL, f"STUN server URL {stun!r}: {why}", _ice.STUN)

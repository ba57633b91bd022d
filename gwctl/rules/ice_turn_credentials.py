"""A TURN server without ``username`` and ``credential``: no relay is ever allocated.

TURN servers authenticate every allocation; a browser given ``turn:`` or ``turns:``
without both fields cannot use it (Chrome and Firefox reject the configuration
outright), so clients behind a symmetric NAT -- the reason to have TURN at all -- get no
video. The manual's example lists ``turn:mystun.zyx:5349`` without them. STUN servers take
no credentials.

PASS::

    webrtc:
      ice_servers:
        - {url: "turns:turn.example.com:5349", username: gateway, credential: env:TURN}

FAIL::

    { "WebRTC": { "iceServers": [ { "url": "turn:mystun.zyx:5349" } ] } }
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _cfg, _ice
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "ice-turn-credentials"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    for i, server in _ice.servers(target):
        url = _ice.url_of(server)
        if not url or _ice.scheme_of(url) not in ("turn", "turns"):
            continue
        missing = [f for f in ("username", "credential") if not _cfg.text(_cfg.get(server, f))]
        if missing:
            message = (f"TURN server {url!r} has no {' and no '.join(missing)}: browsers "
                       "cannot allocate a relay on it")
            yield from target.report(ID, LEVEL, message, (*_ice.ICE, str(i)))

"""The same ICE server URL is listed twice.

Browsers try every ICE server; a duplicate only adds gathering time, and usually means
two layers of the fleet each added the server (lists are replaced, not merged, by the
more specific layer) or that a typo hides the server that was meant.

PASS::

    webrtc: {ice_servers: [{url: "stun:a.example.com"}, {url: "stun:b.example.com"}]}

FAIL::

    webrtc: {ice_servers: [{url: "stun:a.example.com"}, {url: "STUN:a.example.com"}]}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _ice
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "ice-server-duplicate"
LEVEL: Final = Level.WARNING
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    seen: dict[str, int] = {}
    for i, server in _ice.servers(target):
        url = _ice.url_of(server)
        if not url:
            continue
        folded = url.strip().lower()
        if folded in seen:
            message = f"ICE server {url!r} is listed twice (first as entry {seen[folded]})"
            yield from target.report(ID, LEVEL, message, (*_ice.ICE, str(i), "url"))
        else:
            seen[folded] = i

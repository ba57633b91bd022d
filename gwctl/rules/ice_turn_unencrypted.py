"""A production gateway offers TURN only over unencrypted ``turn:``.

``turn:`` carries the TURN credentials' exchange and the relayed media over plain UDP/TCP;
``turns:`` wraps it in TLS (usually on port 443 or 5349, which also passes restrictive
firewalls). Reported when a ``turn:`` server is configured, no ``turns:`` server is, and
the environment is one of ``environments`` (default: production).

PASS::

    webrtc:
      ice_servers:
        - {url: "turns:turn.example.com:5349", username: gw, credential: env:TURN}

FAIL::

    webrtc:
      ice_servers:
        - {url: "turn:turn.example.com:3478", username: gw, credential: env:TURN}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _ice
from gwctl.rules.base import Options, in_environments
from gwctl.rules.target import Target

ID: Final = "ice-turn-unencrypted"
LEVEL: Final = Level.WARNING
OPTIONS: Final[dict[str, Any]] = {"environments": ["production"]}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None or not in_environments(target, options):
        return
    plain = []
    for i, server in _ice.servers(target):
        scheme = _ice.scheme_of(_ice.url_of(server) or "")
        if scheme == "turns":
            return
        if scheme == "turn":
            plain.append(i)
    if plain:
        i = plain[0]
        message = (f"TURN is offered only over unencrypted turn: on a {target.environment} "
                   "gateway; add a turns: server (TLS, e.g. port 5349 or 443)")
        yield from target.report(ID, LEVEL, message, (*_ice.ICE, str(i), "url"))

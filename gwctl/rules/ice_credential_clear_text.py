"""A TURN credential written in clear text in the fleet file.

The fleet file lives in git, in CI logs and on every laptop that checks it out. Write the
credential as a reference -- ``env:NAME`` (an environment variable) or ``file:PATH`` (a
file next to the fleet, kept out of git) -- and gwctl resolves it only when it renders
files for a host; plans, diffs and JSON output show it masked either way. Fleet mode
only (a live appsettings file necessarily holds the value).

PASS::

    webrtc:
      ice_servers:
        - {url: "turns:turn.example.com:5349", username: gateway, credential: env:TURN_SECRET}

FAIL::

    webrtc:
      ice_servers:
        - {url: "turns:turn.example.com:5349", username: gateway, credential: s3cret}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.fleet.secrets import is_reference
from gwctl.problems import Level, Problem, pointer
from gwctl.rules import _cfg
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetTarget, Target

ID: Final = "ice-credential-clear-text"
LEVEL: Final = Level.WARNING
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY

_MESSAGE = ("TURN credential of ICE server {i} is written in clear text: use a reference "
            "(env:NAME or file:PATH), resolved only when files are rendered for a host")


def check(target: Target, options: Options) -> Iterator[Problem]:
    if not isinstance(target, FleetTarget):
        return
    settings = target.gateway.settings
    servers = (settings.get("webrtc") or {}).get("ice_servers") or []
    for i, server in enumerate(servers):
        credential = server.get("credential") if isinstance(server, dict) else None
        if isinstance(credential, str) and credential and not is_reference(credential):
            yield from target.report_setting(ID, LEVEL, _MESSAGE.format(i=i),
                                             pointer("webrtc", "ice_servers", i, "credential"))
    # the raw escape hatch can carry ICE servers too
    raw = settings.get("appsettings") or {}
    webrtc_name = _cfg.spelled(raw, "WebRTC")
    ice_name = _cfg.spelled(raw.get(webrtc_name), "iceServers") if webrtc_name else None
    if webrtc_name is None or ice_name is None:
        return
    for index, server in _cfg.items(raw[webrtc_name][ice_name]):
        name = _cfg.spelled(server, "credential")
        value = server[name] if name else None
        if isinstance(value, str) and value and not is_reference(value):
            yield from target.report_setting(
                ID, LEVEL, _MESSAGE.format(i=index),
                pointer("appsettings", webrtc_name, ice_name, index, name or "credential"))

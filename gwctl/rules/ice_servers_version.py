"""ICE servers declared in a shape the gateway's release does not read.

The WebRTC configuration changed shape twice (manual, What's new):

* before 2023 R1 the STUN server is set in ``GatewayConfig.json``; appsettings WebRTC
  settings are ignored;
* 2023 R1 and R2 read exactly one STUN server from ``WebRTC:STUN:Hostname:Address``:
  several servers, or any TURN server, cannot be expressed (gwctl renders the first
  server only);
* from 2023 R3 the list ``WebRTC:iceServers`` with STUN and TURN servers; the old
  ``STUN:Hostname:Address`` is no longer read.

PASS (2023 R2 with one STUN server)::

    management_server: {host: ms1, version: "2023 R2"}
    settings: {webrtc: {ice_servers: [{url: "stun:stun.example.com:3478"}]}}

FAIL (2023 R2 with a TURN server)::

    management_server: {host: ms1, version: "2023 R2"}
    settings:
      webrtc:
        ice_servers:
          - {url: "stun:stun.example.com:3478"}
          - {url: "turns:turn.example.com", username: gw, credential: env:TURN}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem, pointer
from gwctl.rules import _cfg, _ice
from gwctl.rules.base import Options
from gwctl.rules.target import FleetTarget, Target
from gwctl.versions.features import feature, supports

ID: Final = "ice-servers-version"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}




def _single_stun(target: Target) -> Iterator[Problem]:
    """2023 R1/R2: one STUN server."""
    since = feature("webrtc-ice-servers").since
    if isinstance(target, FleetTarget):
        servers = (target.gateway.settings.get("webrtc") or {}).get("ice_servers") or []
        for i, server in enumerate(servers):
            url = str(server.get("url", "")) if isinstance(server, dict) else ""
            scheme = _ice.scheme_of(url)
            if scheme in ("turn", "turns") and not supports("turn-servers", target.version):
                why = (f"{target.version} has no TURN support (TURN servers need "
                       f"{feature('turn-servers').since})")
            elif i > 0:
                why = (f"{target.version} reads only one STUN server "
                       "(WebRTC:STUN:Hostname:Address), so this one is not rendered")
            elif scheme not in ("stun", "stuns"):
                why = f"{target.version} reads one STUN server, and this is not a stun: URL"
            else:
                continue
            message = f"ICE server {i} ({url}): {why}; several ICE servers need {since}"
            yield from target.report_setting(ID, LEVEL, message,
                                             pointer("webrtc", "ice_servers", i))
        return
    if target.in_override(_ice.ICE):
        message = (f"{target.version} reads one STUN server from WebRTC:STUN:Hostname:Address; "
                   f"WebRTC:iceServers is ignored before {since}")
        yield from target.report(ID, LEVEL, message, _ice.ICE)
    stun = _cfg.text(target.value(_ice.STUN)) or ""
    if stun and _ice.scheme_of(stun) not in ("stun", "stuns"):
        message = (f"{target.version} supports one STUN server, not {stun!r}: TURN needs "
                   f"{feature('turn-servers').since}")
        yield from target.report(ID, LEVEL, message, _ice.STUN)


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.override is None:
        return
    version = target.version
    if supports("webrtc-ice-servers", version):
        if target.in_override(_ice.STUN):
            message = (f"WebRTC:STUN:Hostname:Address is the 2023 R1/R2 form; {version} reads "
                       "WebRTC:iceServers and ignores it")
            yield from target.report(ID, LEVEL, message, _ice.STUN)
        return
    if supports("webrtc-stun-single", version):
        yield from _single_stun(target)
        return
    for key in (_ice.ICE, _ice.STUN):
        if target.in_override(key):
            message = (f"{version} reads its STUN server from GatewayConfig.json, not from "
                       f"appsettings: this WebRTC setting is ignored (appsettings WebRTC "
                       f"settings need {feature('webrtc-stun-single').since})")
            yield from target.report(ID, LEVEL, message, key)

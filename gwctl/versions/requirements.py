"""What a gateway's configuration needs from its release.

Each `Requirement` names something the configuration uses (the CORS section, several ICE
servers, a TURN server, the single-STUN or the ``iceServers`` shape of the WebRTC section)
and the feature table rows (`gwctl.versions.features`) that provide it. They come from the
declared settings (whatever shape they are rendered in) and from the shapes a rendered
``appsettings.Production.json`` is written in; a raw ``appsettings`` key is marked, since
gwctl cannot re-render it for another release. The apply gate refuses to push what the
gateway's installed release lacks, and upgrade plans list what the target release lacks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gwctl.fleet.model import Gateway
from gwctl.netjson.config import fold
from gwctl.problems import pointer
from gwctl.render.appsettings import render_appsettings
from gwctl.versions.features import feature, supports
from gwctl.versions.release import Version


@dataclass(frozen=True)
class Requirement:
    """Something a gateway's configuration uses, and the features that provide it."""

    what: str
    any_of: tuple[str, ...]
    #: pointer into the gateway's merged settings
    pointer: str
    #: written through the raw ``appsettings`` escape hatch: gwctl cannot re-render it
    raw: bool = False

    def met_by(self, version: Version) -> bool:
        return any(supports(f, version) for f in self.any_of)

    @property
    def since(self) -> Version:
        return min(feature(f).since for f in self.any_of)

    def available(self) -> str:
        """``since 2022 R3`` / ``2023 R1 to 2023 R2`` — for messages."""
        spans = []
        for f in (feature(i) for i in self.any_of):
            if f.until is None:
                spans.append(f"since {f.since}")
            else:
                spans.append(f"{f.since} to {f.until.previous_release()}")
        return " or ".join(spans)


def _spelled(section: Any, name: str) -> str | None:
    if not isinstance(section, dict):
        return None
    return next((k for k in section if fold(k) == fold(name)), None)


def settings_requirements(gw: Gateway) -> list[Requirement]:
    """What the gateway's declared settings need, whatever shape they are rendered in."""
    s = gw.settings
    out: list[Requirement] = []
    if "cors" in s:
        out.append(Requirement("the CORS section", ("cors",), "/cors"))
    ice = (s.get("webrtc") or {}).get("ice_servers")
    if ice:
        out.append(Requirement("ICE servers in appsettings (WebRTC)",
                               ("webrtc-stun-single", "webrtc-ice-servers"),
                               "/webrtc/ice_servers"))
        if len(ice) > 1:
            out.append(Requirement(f"{len(ice)} ICE servers", ("webrtc-ice-servers",),
                                   "/webrtc/ice_servers/1"))
        for i, server in enumerate(ice):
            url = str(server.get("url", "")).lower()
            if url.startswith(("turn:", "turns:")):
                out.append(Requirement("a TURN server", ("turn-servers",),
                                       pointer("webrtc", "ice_servers", i, "url")))
                break
    raw = s.get("appsettings") or {}
    cors = _spelled(raw, "CORS")
    if cors is not None:
        out.append(Requirement("the CORS section (raw appsettings)", ("cors",),
                               pointer("appsettings", cors), raw=True))
    webrtc = _spelled(raw, "WebRTC")
    if webrtc is not None:
        section = raw[webrtc]
        stun = _spelled(section, "STUN")
        if stun is not None:
            out.append(Requirement("WebRTC:STUN, the single-STUN shape (raw appsettings)",
                                   ("webrtc-stun-single",),
                                   pointer("appsettings", webrtc, stun), raw=True))
        servers = _spelled(section, "iceServers")
        if servers is not None:
            out.append(Requirement("WebRTC:iceServers (raw appsettings)",
                                   ("webrtc-ice-servers",),
                                   pointer("appsettings", webrtc, servers), raw=True))
    return out


def rendered_requirements(gw: Gateway, rendered: Mapping[str, Any]) -> list[Requirement]:
    """The shapes a rendered ``appsettings.Production.json`` is written in."""
    out: list[Requirement] = []
    webrtc_key = _spelled(dict(rendered), "WebRTC")
    if webrtc_key is None:
        return out
    section = rendered[webrtc_key]
    modelled = bool((gw.settings.get("webrtc") or {}).get("ice_servers") is not None)
    ptr = "/webrtc/ice_servers" if modelled else pointer("appsettings", webrtc_key)
    if _spelled(section, "STUN") is not None:
        out.append(Requirement("WebRTC:STUN:Hostname:Address, the single-STUN shape",
                               ("webrtc-stun-single",), ptr, raw=not modelled))
    if _spelled(section, "iceServers") is not None:
        out.append(Requirement("WebRTC:iceServers", ("webrtc-ice-servers",), ptr,
                               raw=not modelled))
    return out


def requirements(gw: Gateway, rendered: Mapping[str, Any] | None = None
                 ) -> list[Requirement]:
    """Settings needs plus the shapes of `rendered` (default: rendered for ``gw.version``)."""
    if rendered is None:
        rendered = render_appsettings(gw)
    out = settings_requirements(gw)
    seen = {r.any_of for r in out}
    for r in rendered_requirements(gw, rendered):
        if r.any_of not in seen:
            seen.add(r.any_of)
            out.append(r)
    return out


def missing(reqs: Iterable[Requirement], version: Version) -> list[Requirement]:
    return [r for r in reqs if not r.met_by(version)]

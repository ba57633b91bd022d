"""``appsettings.Production.json`` from a gateway's settings.

Only the sections the user declared are written: everything else keeps coming from the
installer's ``appsettings.json``. Section and key names are spelled as the gateway's
own file spells them. The raw ``appsettings`` escape hatch is laid underneath the
modelled sections, matching keys ignoring case, so a modelled value always wins (and a
collision is reported by a rule rather than silently producing two spellings).
"""

from __future__ import annotations

from typing import Any

from gwctl.fleet.model import Gateway
from gwctl.fleet.secrets import Secret
from gwctl.netjson.config import fold
from gwctl.problems import pointer
from gwctl.versions.features import supports


def render_appsettings(gw: Gateway) -> dict[str, Any]:
    """The override document for `gw`, secrets as `Secret` objects."""
    s = gw.settings
    modelled: dict[str, Any] = {}
    if "logging" in s and s["logging"].get("levels"):
        modelled["Logging"] = {"LogLevel": dict(s["logging"]["levels"])}
    if "cors" in s:
        modelled["CORS"] = _cors(s["cors"])
    if "webrtc" in s:
        webrtc = _webrtc(gw, s["webrtc"])
        if webrtc is not None:
            modelled["WebRTC"] = webrtc
    if "reverse_proxy" in s:
        rp = s["reverse_proxy"]
        section: dict[str, Any] = {}
        # shared with the fleet model, not copied: rendered data is read-only like the model
        if rp.get("routes"):
            section["Routes"] = rp["routes"]
        if rp.get("clusters"):
            section["Clusters"] = rp["clusters"]
        if section:
            modelled["ReverseProxy"] = section
    return overlay(s.get("appsettings") or {}, modelled)


def _cors(cors: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "enabled" in cors:
        out["Enabled"] = bool(cors["enabled"])
    for key, header in (("allow_origins", "Access-Control-Allow-Origin"),
                        ("allow_headers", "Access-Control-Allow-Headers"),
                        ("allow_methods", "Access-Control-Allow-Methods")):
        if key in cors:
            out[header] = ",".join(cors[key])
    return out


def _webrtc(gw: Gateway, webrtc: dict[str, Any]) -> dict[str, Any] | None:
    if "ice_servers" not in webrtc:
        return None
    servers = webrtc["ice_servers"]
    if supports("webrtc-stun-single", gw.version):
        # 2023 R1/R2 read one STUN server from WebRTC:STUN:Hostname:Address; rules report
        # the servers this shape cannot carry
        return {"STUN": {"Hostname": {"Address": servers[0]["url"]}}} if servers else None
    out = []
    for i, server in enumerate(servers):
        item: dict[str, Any] = {"url": server["url"]}
        if "username" in server:
            item["username"] = server["username"]
        if "credential" in server:
            ptr = pointer("webrtc", "ice_servers", i, "credential")
            item["credential"] = Secret(server["credential"], gw.locate_setting(ptr))
        out.append(item)
    return {"iceServers": out}


def overlay(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """Merge `top` over `base` matching keys ignoring case; `top`'s spelling wins."""
    out = dict(base)
    spelled = {fold(k): k for k in out}
    for key, value in top.items():
        existing_key = spelled.get(fold(key))
        if existing_key is not None:
            existing = out.pop(existing_key)
            if isinstance(existing, dict) and isinstance(value, dict):
                value = overlay(existing, value)
        out[key] = value
        spelled[fold(key)] = key
    return out

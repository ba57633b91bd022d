"""``appsettings.Production.json`` from a gateway's settings.

Only the sections the user declared are written: everything else keeps coming from the
installer's ``appsettings.json``. Section and key names are spelled as the gateway's
own file spells them. The raw ``appsettings`` escape hatch is laid underneath the
modelled sections, matching keys ignoring case, so a modelled value always wins (and a
collision is reported by a rule rather than silently producing two spellings).

Any string value of the raw ``appsettings`` and of ``reverse_proxy`` routes and clusters
may be a secret reference (``env:NAME``, ``file:PATH``), like a TURN credential: a
client secret, a connection string, a destination address with a password in it.
"""

from __future__ import annotations

from typing import Any

from gwctl.fleet.model import Gateway
from gwctl.fleet.secrets import Secret, is_reference
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
            section["Routes"] = _references(gw, rp["routes"], ("reverse_proxy", "routes"))
        if rp.get("clusters"):
            section["Clusters"] = _references(gw, rp["clusters"], ("reverse_proxy", "clusters"))
        if section:
            modelled["ReverseProxy"] = section
    return overlay(_references(gw, s.get("appsettings") or {}, ("appsettings",)), modelled)


def _references(gw: Gateway, node: Any, path: tuple[str | int, ...]) -> Any:
    """`node` with its secret references as `Secret` objects; `node` itself (not a
    copy) when it holds none."""
    if isinstance(node, str):
        return Secret(node, gw.locate_setting(pointer(*path))) if is_reference(node) else node
    items: list[tuple[Any, Any]]
    if isinstance(node, dict):
        items = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    else:
        return node
    changed = {k: new for k, v in items if (new := _references(gw, v, (*path, k))) is not v}
    if not changed:
        return node
    if isinstance(node, dict):
        return {k: changed.get(k, v) for k, v in items}
    return [changed.get(i, v) for i, v in items]


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

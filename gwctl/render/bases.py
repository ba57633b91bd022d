"""Bundled reference ``appsettings.json`` files, for when a host's real base is not at hand.

gwctl never writes ``appsettings.json``; it needs one only to compute the effective
configuration. The bundled base is the 2025 R2 file reconstructed from the manual; for
earlier releases the routes of features that release lacks are dropped (feature table)
and the WebRTC/CORS sections follow the shapes of that release.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

from gwctl.fleet.model import Fleet, Gateway
from gwctl.netjson.config import FlatConfig, flatten_document
from gwctl.netjson.parser import parse
from gwctl.versions.features import supports
from gwctl.versions.release import Version

BASE_RELEASE = "2025 R2"

#: stock routes that exist only from the release that introduced their feature
ROUTE_FEATURES: dict[str, str] = {
    "PtzPresetsCommands": "ptz-preset-task",
    "CameraAbsolutePositionCommands": "absolute-position-task",
    "OutputCommands": "output-tasks",
    "registeredServices-rest-api": "registered-services",
    "bookmarks-rest-api": "bookmarks",
    "evidenceLocks-rest-api": "evidence-locks",
    "securityNamespaces-rest-api": "security-namespaces",
    "effectivePermissions-rest-api": "effective-permissions",
    "events-rest-api": "rest-events-alarms",
    "event-sessions-rest-api": "rest-events-alarms",
    "alarms-rest-api": "rest-events-alarms",
    "ws-events": "events-state-ws",
    "ws-messages": "ws-messages",
}


def _template() -> str:
    return (resources.files("gwctl.data").joinpath("bases").joinpath("appsettings.2025R2.json")
            .read_text("utf-8"))


def _json_str(value: str) -> str:
    return json.dumps(value)[1:-1]


@lru_cache(maxsize=256)
def reference_base_text(version: Version, management_url: str, gateway_url: str) -> str:
    """The reference ``appsettings.json`` text for a gateway of `version`."""
    text = (_template()
            .replace("__MANAGEMENT_SERVER_URL__", _json_str(management_url.rstrip("/")))
            .replace("__EVENT_SERVER_URL__", _json_str(management_url.rstrip("/")))
            .replace("__GATEWAY_URL__", _json_str(gateway_url.rstrip("/"))))
    if version.release_key >= Version.parse(BASE_RELEASE).release_key:
        return text
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("//"))
    data = json.loads("".join(line for line in text.splitlines(keepends=True)
                              if not line.startswith("//")))
    routes = data["ReverseProxy"]["Routes"]
    for route_id, feature_id in ROUTE_FEATURES.items():
        if not supports(feature_id, version):
            routes.pop(route_id, None)
    if supports("webrtc-stun-single", version) or not supports("webrtc-ice-servers", version):
        data.pop("WebRTC", None)
    if not supports("cors", version):
        data.pop("CORS", None)
    note = f"// Adapted to {version.name}: routes and sections of later releases removed.\n"
    return header + note + json.dumps(data, indent=2) + "\n"


@lru_cache(maxsize=256)
def reference_base(version: Version, management_url: str, gateway_url: str) -> FlatConfig:
    text = reference_base_text(version, management_url, gateway_url)
    return flatten_document(parse(text, file=f"<reference appsettings.json {version.name}>"))


def base_config(fleet: Fleet, gw: Gateway, base_text: str | None = None,
                base_name: str | None = None) -> FlatConfig:
    """The host's base file when given, else the bundled reference base for its version."""
    if base_text is not None:
        return flatten_document(parse(base_text, file=base_name or "appsettings.json"))
    return reference_base(gw.version, fleet.site_of(gw).management_server.url, gw.root_url)

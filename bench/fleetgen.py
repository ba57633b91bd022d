"""The fleet of the core benchmark: 1,000 gateways across 100 sites, 40 custom routes each.

Shared by ``bench/render_fleet.py`` and ``bench/lint_fleet.py`` so both measure the same
input. Most routes are declared once per site (as real fleets do: a site's gateways front
the same services) and a few per gateway, so every gateway ends up with
``routes_per_gateway`` custom routes and every rendered override is distinct. The fleet
is valid: a clean lint is the common case worth timing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def _route(prefix: str, k: int) -> dict[str, Any]:
    """One custom route; every fifth has a method list, every seventh a query match."""
    route: dict[str, Any] = {
        "ClusterId": f"svc{k % 3}",
        "Order": 100 + k,
        "Match": {"Path": f"{prefix}/svc{k}/{{**remainder}}"},
        "Transforms": [
            {"PathPattern": f"/svc{k}/{{**remainder}}"},
            {"X-Forwarded": "Append", "Prefix": "Off"},
            {"RequestHeader": "X-Forwarded-Prefix", "Append": f"/api{prefix}/svc{k}"},
        ],
    }
    if k % 5 == 0:
        route["Match"]["Methods"] = ["GET", "POST"]
    if k % 7 == 0:
        route["Match"]["QueryParameters"] = [
            {"Name": "task", "Values": ["Start", "Stop"], "Mode": "Exact",
             "IsCaseSensitive": False}]
    return route


def generate_fleet(sites: int = 100, gateways_per_site: int = 10, routes_per_gateway: int = 40,
                   routes_per_gateway_own: int = 3) -> dict[str, Any]:
    """The benchmark fleet as plain data (what ``yaml.safe_load`` of the file gives)."""
    shared = routes_per_gateway - routes_per_gateway_own
    doc: dict[str, Any] = {
        "apiVersion": "gwctl/v1",
        "defaults": {"settings": {
            "environment": "production",
            "logging": {"levels": {"Default": "Information", "Microsoft": "Warning",
                                   "Yarp": "Warning"}},
            "nlog": {"log_directory": r"C:\ProgramData\Milestone\ApiGateway\Logs",
                     "min_level": "Info",
                     "archive": {"every": "Day", "above_size": 10_000_000, "max_files": 30}},
        }},
        "sites": {},
    }
    for s in range(sites):
        site = f"site{s:03d}"
        ms_host = f"ms{s:03d}.example.com"
        routes = {f"site-{site}-r{k}": _route(f"/ext/{site}", k) for k in range(shared)}
        clusters = {f"svc{c}": {"Destinations": {"primary": {
            "Address": f"https://svc{c}.{site}.example.com/"}}} for c in range(3)}
        gateways: dict[str, Any] = {}
        for g in range(gateways_per_site):
            name = f"{site}-gw{g}"
            own = {f"{name}-r{k}": _route(f"/local/{name}", shared + k)
                   for k in range(routes_per_gateway_own)}
            gateways[name] = {
                "host": ms_host if g == 0 else f"{name}.example.com",
                "settings": {"reverse_proxy": {"routes": own}},
            }
        doc["sites"][site] = {
            "management_server": {"host": ms_host, "version": "2025 R2", "encryption": True},
            "settings": {
                "cors": {"enabled": True,
                         "allow_origins": [f"https://portal.{site}.example.com",
                                           "https://dashboard.example.com:8443"],
                         "allow_headers": ["Authorization", "Content-Type"],
                         "allow_methods": ["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"]},
                "webrtc": {"ice_servers": [
                    {"url": "stun:stun.example.com:3478"},
                    {"url": f"turns:turn.{site}.example.com:5349", "username": "gateway",
                     "credential": f"env:TURN_{s:03d}"}]},
                "reverse_proxy": {"routes": routes, "clusters": clusters},
            },
            "gateways": gateways,
        }
    return doc


def write_fleet(path: str | Path, **kwargs: int) -> Path:
    """Write the benchmark fleet as one YAML file; returns its path."""
    p = Path(path)
    p.write_text(yaml.safe_dump(generate_fleet(**kwargs), sort_keys=False, width=120),
                 encoding="utf-8")
    return p

"""A cluster destination has no ``Address``: the gateway does not start.

YARP's ``DestinationValidator`` refuses a destination whose address is missing or empty
("No address found for destination 'primary' on cluster 'vendor'") and ``ConfigValidator``
the whole proxy configuration with it (microsoft/reverse-proxy
src/ReverseProxy/Configuration/ClusterValidators/DestinationValidator.cs,
src/ReverseProxy/Configuration/ConfigValidator.cs). An address that is present but
unusable (blank, relative, another scheme) is *not* a start-up error: see
``cluster-destination-uri``.
An address written as a secret reference (``env:NAME``) is known only when files are
rendered for a host, and is not checked.

PASS::

    clusters: {vendor: {Destinations: {primary: {Address: "https://vendor.example.com/"}}}}

FAIL::

    clusters: {vendor: {Destinations: {primary: {Address: ""}}}}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.fleet.secrets import Secret
from gwctl.problems import Level, Problem
from gwctl.rules import _cfg, _yarp_routes
from gwctl.rules.base import Options
from gwctl.rules.target import Target
from gwctl.yarp import destination

ID: Final = "cluster-destination-address"
LEVEL: Final = Level.ERROR
EFFECT: Final = "start"
OPTIONS: Final[dict[str, Any]] = {}


def destinations(target: Target) -> Iterator[tuple[str, str, Any]]:
    """(cluster id, destination name, destination) of the effective configuration."""
    for cid, cluster in _cfg.items(_cfg.walk(target.view, _yarp_routes.CLUSTERS)):
        for name, dest in _cfg.items(_cfg.get(cluster, "Destinations")):
            yield cid, name, dest


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    for cid, name, dest in destinations(target):
        key = (*_yarp_routes.CLUSTERS, cid, "Destinations", name)
        value = _cfg.get(dest, "Address") if isinstance(dest, dict) else None
        if isinstance(value, Secret):
            continue
        address = _cfg.text(value)
        if destination.missing(address):
            message = (f"cluster {cid!r}, destination {name!r} has no Address: YARP refuses "
                       "the configuration and the gateway does not start")
            yield from target.report(ID, LEVEL, message, key)

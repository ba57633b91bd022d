"""A cluster destination's ``Address`` is missing or not an absolute http(s) URI.

YARP refuses a destination without an address at startup ("No address found for
destination"), and builds each proxied request's URI from the address: a relative or
malformed one (``vendor.example.com``, ``https//vendor``, ``ftp://...``) fails every
request routed to the cluster. An address written as a secret reference (``env:NAME``)
is known only when files are rendered for a host, and is not checked.

PASS::

    clusters: {vendor: {Destinations: {primary: {Address: "https://vendor.example.com/"}}}}

FAIL::

    clusters: {vendor: {Destinations: {primary: {Address: "vendor.example.com"}}}}
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

from gwctl.fleet.secrets import Secret
from gwctl.problems import Level, Problem
from gwctl.rules import _cfg, _yarp_routes
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "cluster-destination-address"
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}

_URI = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<host>\[[0-9A-Fa-f:.]+\]|"
                  r"[^/:?#\s\[\]]+)(?::(?P<port>[0-9]*))?(?P<rest>[/?#]\S*)?$")


def address_problem(address: str) -> str | None:
    m = _URI.match(address.strip())
    if m is None:
        return ("is not an absolute URI" + ("" if "://" in address
                                         else ": write e.g. https://" + address.strip()))
    if m.group("scheme").lower() not in ("http", "https"):
        return f"uses scheme {m.group('scheme')!r} (YARP forwards over http or https only)"
    port = m.group("port")
    if port is not None and (not port.isdigit() or not 0 < int(port) < 65536):
        return f"has port {port!r} (not 1..65535)"
    return None


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
        if not address:
            message = (f"cluster {cid!r}, destination {name!r} has no Address: YARP refuses "
                       "the configuration")
            yield from target.report(ID, LEVEL, message, key)
            continue
        why = address_problem(address)
        if why:
            message = (f"cluster {cid!r}, destination {name!r}: Address {address!r} {why}; "
                       "every request to this cluster fails")
            yield from target.report(ID, LEVEL, message, (*key, "Address"))

"""A destination ``Address`` that is not an absolute http(s) URI: its requests fail (502).

YARP loads such an address without complaint; it builds each outgoing request's URI by
concatenating the address and the request path (``RequestUtilities.MakeDestinationAddress``,
microsoft/reverse-proxy src/ReverseProxy/Forwarder/RequestUtilities.cs), and
``HttpForwarder`` answers **502 Bad Gateway** for every request whose URI is relative
(``vendor.example.com``, ``/backend/``), uses another scheme (``ftp://``) or an
impossible port (src/ReverseProxy/Forwarder/HttpForwarder.cs). The gateway starts, the
other routes work; ``gwctl sim`` answers those requests 502 too. A *missing* address is
a start-up error instead (``cluster-destination-address``).

PASS::

    clusters: {vendor: {Destinations: {primary: {Address: "https://vendor.example.com/"}}}}

FAIL::

    clusters: {vendor: {Destinations: {primary: {Address: "vendor.example.com"}}}}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.fleet.secrets import Secret
from gwctl.problems import Level, Problem
from gwctl.rules import _cfg, _yarp_routes
from gwctl.rules.base import Options
from gwctl.rules.cluster_destination_address import destinations
from gwctl.rules.target import Target
from gwctl.yarp import destination

ID: Final = "cluster-destination-uri"
LEVEL: Final = Level.ERROR
EFFECT: Final = f"request:{destination.BAD_ADDRESS_STATUS}"
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    for cid, name, dest in destinations(target):
        value = _cfg.get(dest, "Address") if isinstance(dest, dict) else None
        if isinstance(value, Secret):
            # a secret reference is known only when files are rendered for a host
            continue
        address = _cfg.text(value)
        if address is None or destination.missing(address):
            continue
        why = destination.address_problem(address)
        if why:
            message = (f"cluster {cid!r}, destination {name!r}: Address {address!r} {why}; "
                       f"the gateway starts, but every request to this cluster answers "
                       f"{destination.BAD_ADDRESS_STATUS}")
            key = (*_yarp_routes.CLUSTERS, cid, "Destinations", name, "Address")
            yield from target.report(ID, LEVEL, message, key)

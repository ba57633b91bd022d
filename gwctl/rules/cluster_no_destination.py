"""A cluster without destinations: the gateway starts, and its routes answer 503.

YARP accepts a cluster whose ``Destinations`` is empty or missing; for each request
routed to it ``ForwarderMiddleware`` finds no available destination and answers
**503 Service Unavailable** ("No available destinations after load balancing";
microsoft/reverse-proxy src/ReverseProxy/Forwarder/ForwarderMiddleware.cs). ``gwctl sim``
answers the same. Only clusters that a route uses are reported.

PASS::

    clusters: {vendor: {Destinations: {primary: {Address: "https://vendor.example.com/"}}}}

FAIL::

    clusters: {vendor: {Destinations: {}}}
    routes: {vendor: {ClusterId: vendor, Match: {Path: "/vendor/{**rest}"}}}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _cfg, _yarp_routes
from gwctl.rules.base import Options
from gwctl.rules.target import Target
from gwctl.yarp import destination

ID: Final = "cluster-no-destination"
LEVEL: Final = Level.ERROR
EFFECT: Final = f"request:{destination.NO_DESTINATION_STATUS}"
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    used = {r.facts.cluster.lower() for r in _yarp_routes.routes(target)}
    for cid, cluster in _cfg.items(_cfg.walk(target.view, _yarp_routes.CLUSTERS)):
        if cid.lower() not in used or any(True for _ in _cfg.items(
                _cfg.get(cluster, "Destinations"))):
            continue
        message = (f"cluster {cid!r} has no destinations: the gateway starts, but every "
                   f"request routed to it answers {destination.NO_DESTINATION_STATUS}")
        yield from target.report(ID, LEVEL, message, (*_yarp_routes.CLUSTERS, cid))

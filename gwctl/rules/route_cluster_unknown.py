"""A route's ``ClusterId`` names no cluster: the gateway starts, and every request fails.

YARP loads a route whose cluster does not exist without complaint, then answers each
request it matches with **503 Service Unavailable** ("no cluster found":
microsoft/reverse-proxy, src/ReverseProxy/Model/ProxyPipelineInitializerMiddleware.cs;
``gwctl sim`` does the same). Cluster ids
compare ignoring case against every cluster of the effective configuration (the base's
``managementserver``, ``apigateway``, ``eventserver``, ... and the override's). A route
without ``ClusterId`` fails the same way.

PASS::

    routes: {vendor: {ClusterId: vendor, Match: {Path: "/vendor/{**remainder}"}}}
    clusters: {vendor: {Destinations: {primary: {Address: "https://vendor.example.com/"}}}}

FAIL::

    routes: {vendor: {ClusterId: vendr, Match: {Path: "/vendor/{**remainder}"}}}
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _yarp_routes
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "route-cluster-unknown"
LEVEL: Final = Level.ERROR
EFFECT: Final = "request:503"
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    clusters = _yarp_routes.cluster_ids(target)
    for route in _yarp_routes.routes(target):
        cluster = route.facts.cluster
        if cluster and cluster.lower() in clusters:
            continue
        if cluster:
            close = difflib.get_close_matches(cluster.lower(), sorted(clusters), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            message = (f"route {route.id!r}: ClusterId {cluster!r} names no cluster{hint}: "
                       "the gateway starts, but every request to this route answers 503")
            key = (*route.key, "ClusterId")
        else:
            message = f"route {route.id!r} has no ClusterId: every request to it answers 503"
            key = route.key
        yield from target.report(ID, LEVEL, message, key)

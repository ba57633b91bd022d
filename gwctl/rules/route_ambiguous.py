"""Two custom routes match the same requests with the same Order: those requests fail.

ASP.NET Core ranks the routes that match a request by ``Order`` (default 0), then by how
specific the path template is, then by their method, host, header and query matchers.
Two routes that tie on all of that and both match throw ``AmbiguousMatchException``:
HTTP 500 for every such request (dotnet/aspnetcore src/Http/Routing/src/Matching/
DefaultEndpointSelector.cs, ``ReportAmbiguity``). gwctl compares normalised match criteria (path
templates without parameter names, literals ignoring case; methods; hosts; header and
query matchers) and reports routes that are identical in all of them. Give one route a
lower ``Order`` or narrow its match. (A custom route that ties with a stock route is
reported by ``route-shadows-stock``.)

PASS::

    routes:
      a: {ClusterId: c1, Match: {Path: "/vendor/{**rest}"}}
      b: {ClusterId: c2, Order: -1, Match: {Path: "/vendor/{**rest}", Methods: [POST]}}

FAIL::

    routes:
      a: {ClusterId: c1, Match: {Path: "/vendor/{id}"}}
      b: {ClusterId: c2, Match: {Path: "/Vendor/{name}"}}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _yarp_routes
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "route-ambiguous"
LEVEL: Final = Level.ERROR
EFFECT: Final = "request:500"
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    seen: dict[_yarp_routes.Signature, _yarp_routes.Route] = {}
    for route in _yarp_routes.routes(target):
        sig = route.facts.signature
        if route.stock or sig is None:
            continue
        first = seen.get(sig)
        if first is None:
            seen[sig] = route
            continue
        message = (f"route {route.id!r} matches exactly the requests of route {first.id!r} "
                   f"with the same Order {sig.order}: each such request fails with "
                   "AmbiguousMatchException (HTTP 500); change one route's Order or match")
        yield from target.report(ID, LEVEL, message, _yarp_routes.match_key(target, route),
                                 extra={"other": first.id})

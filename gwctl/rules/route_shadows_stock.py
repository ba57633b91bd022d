"""A custom route takes requests that belong to a stock route of the gateway.

The installer's ``appsettings.json`` routes the VMS APIs (``rest-api`` for
``/rest/v1/{**remainder}``, ``idp``, ``ws-events``, ...). A custom route whose match
covers every request of a stock route and ranks at least as high takes them over:

* with a lower ``Order`` it wins outright, and the stock API stops answering;
* with the same ``Order`` and an equally specific template (e.g. ``/rest/v1/{**remainder}``
  declared again for another cluster) the two tie, and every such request fails with
  ``AmbiguousMatchException`` (HTTP 500).

To change where a stock route goes, override that route by its own id (or its cluster's
address); list a custom route in the ``allow`` option when taking over a stock route is
intended.

PASS (more specific than any stock route)::

    routes:
      vendor: {ClusterId: vendor, Match: {Path: "/rest/v1/vendor/{**remainder}"}}

FAIL::

    routes:
      my-rest: {ClusterId: vendor, Match: {Path: "/rest/v1/{**remainder}"}}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _cfg, _yarp_routes
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "route-shadows-stock"
LEVEL: Final = Level.ERROR
EFFECT: Final = "silent"
OPTIONS: Final[dict[str, Any]] = {"allow": []}


def _describe(ids: list[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:5])
    return shown + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")


StockIndex = tuple[dict[str, list[_yarp_routes.Route]], list[_yarp_routes.Route]]


def _index(stock: list[_yarp_routes.Route]) -> StockIndex:
    """Stock routes by folded first literal segment, and those starting otherwise."""
    by_first: dict[str, list[_yarp_routes.Route]] = {}
    anywhere: list[_yarp_routes.Route] = []
    for r in stock:
        first = r.facts.first_literal
        if first is None:
            anywhere.append(r)
        else:
            by_first.setdefault(first, []).append(r)
    return by_first, anywhere


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None or not target.stock_route_ids:
        return
    all_routes = _yarp_routes.routes(target)
    # untouched stock routes are the same objects for every gateway of a release: the
    # stock index and the results for a custom route's signature are shared then
    touched = _yarp_routes.override_route_ids(target) & target.stock_route_ids
    scope = None if touched else ("route-shadows-stock",
                                  id(_cfg.walk(target.base, _yarp_routes.ROUTES)))
    index = target.shared.get(scope) if scope is not None else None
    if index is None:
        index = _index([r for r in all_routes if r.stock and r.facts.signature is not None])
        if scope is not None:
            target.shared[scope] = index
    by_first, anywhere = index
    allow = {str(a).lower() for a in options.get("allow") or ()}
    for route in all_routes:
        sig = route.facts.signature
        if route.stock or sig is None or route.id.lower() in allow:
            continue
        key = (scope, sig) if scope is not None else None
        found: list[tuple[str, str]] | None = target.shared.get(key) if key else None
        if found is None:
            first = route.facts.first_literal
            candidates = (by_first.get(first, []) + anywhere if first is not None
                          else [r for group in by_first.values() for r in group] + anywhere)
            found = [(s.id, kind) for s in candidates
                     if (kind := _yarp_routes.outranks(route.facts, s.facts)) is not None]
            if key is not None:
                target.shared[key] = found
        if not found:
            continue
        shadowed = [i for i, kind in found if kind == "shadow"]
        tied = [i for i, kind in found if kind == "tie"]
        parts = []
        if shadowed:
            parts.append(f"takes every request of stock route(s) {_describe(shadowed)} "
                         "(a lower Order), so those VMS APIs stop answering")
        if tied:
            parts.append(f"ties with stock route(s) {_describe(tied)} (same Order "
                         f"{sig.order}, equally specific): those requests fail with "
                         "AmbiguousMatchException (HTTP 500)")
        message = f"custom route {route.id!r} " + "; it ".join(parts)
        yield from target.report(ID, LEVEL, message, _yarp_routes.match_key(target, route),
                                 extra={"stock_routes": [i for i, _ in found]})

"""An override array is shorter than the base's: the base's later elements stay active.

Arrays are merged *by index*: ``appsettings.Production.json`` overrides element 0, 1, ...
of the same array in ``appsettings.json`` and cannot remove the elements after its own
last one. Overriding a stock route's three ``Transforms`` with one transform therefore
keeps the base's second and third transform. The message names the elements that stay
and shows the array the gateway ends up with. To really replace a stock route, give
every element (or route the path through a new route id with a lower ``Order``).

PASS (as many elements as the base)::

    "idp": { "Transforms": [ { "PathPattern": "/IDP/{**remainder}" },
                             { "X-Forwarded": "Set", "Prefix": "Off" },
                             { "RequestHeader": "X-Forwarded-Prefix", "Set": "/api/idp" } ] }

FAIL (the base's 2nd and 3rd transform of route ``idp`` stay)::

    "idp": { "Transforms": [ { "PathPattern": "/IDP/v2/{**remainder}" } ] }
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _cfg, _yarp_routes
from gwctl.rules._cfg import Key
from gwctl.rules._memo import by_identity
from gwctl.rules._shared import dotted, list_paths, show
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "array-shorter-than-base"
LEVEL: Final = Level.WARNING
OPTIONS: Final[dict[str, Any]] = {}


def _lists_below(name: str, section: Any) -> list[tuple[Key, list[Any]]]:
    return list_paths(section, (name,))


def _base_lists(target: Target) -> list[tuple[Key, list[Any]]]:
    """Non-empty base arrays; those of stock routes only where the override touches them."""
    out: list[tuple[Key, list[Any]]] = []
    for name, section in _cfg.items(target.base):
        if name.lower() != "reverseproxy":
            # the base's sections are shared by every gateway of a release: walk each once
            out.extend(by_identity(target.shared, (ID, name)).get(
                section, partial(_lists_below, name)))
    touched = _yarp_routes.override_route_ids(target) & target.stock_route_ids
    if touched:
        routes = _cfg.walk(target.base, _yarp_routes.ROUTES)
        for rid, route in _cfg.items(routes):
            if rid.lower() in touched:
                out.extend(list_paths(route, (*_yarp_routes.ROUTES, rid)))
    return out


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.override is None:
        return
    for key, base_list in _base_lists(target):
        over = _cfg.walk(target.override, key)
        if not _cfg.is_section(over) or not over:
            continue
        n = len(_cfg.children(over))
        if n >= len(base_list):
            continue
        kept = ", ".join(f"[{i}] {show(base_list[i], 80)}" for i in range(n, len(base_list)))
        effective = _cfg.walk(target.view, key)
        message = (f"{dotted(key)} has {n} element(s) here but {len(base_list)} in the base "
                   f"appsettings.json; arrays merge by index, so the base's {kept} stay "
                   f"active: the gateway sees {show(effective, 240)}")
        yield from target.report(ID, LEVEL, message, key,
                                 extra={"kept": [show(v) for v in base_list[n:]]})

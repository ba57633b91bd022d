"""YARP route transforms of a target: which are refused, which merges change them.

What a transform must look like is `gwctl.yarp.transforms` (shared with the simulator);
this module applies it to the routes of a target, once per route object, and finds the
stock transforms a partial override merges into by index.
"""

from __future__ import annotations

import functools
from typing import Any

from gwctl.rules import _cfg
from gwctl.rules._yarp_routes import ROUTES, RouteFacts, override_route_ids
from gwctl.yarp import transforms


def check_transform(t: Any) -> list[tuple[str, str | None]]:
    """Why YARP rejects transform `t`: (message, offending key) pairs; empty when valid."""
    if not isinstance(t, dict):
        return [("a transform must be an object of string keys", None)]
    return list(_check_items(tuple((str(k), _cfg.text(v)) for k, v in t.items())))


# a fleet's routes repeat a few transforms (the same X-Forwarded or PathPattern on every
# site): the verdict depends on the keys and values alone, in their order
@functools.lru_cache(maxsize=4096)
def _check_items(items: tuple[tuple[str, str | None], ...]) -> tuple[tuple[str, str | None],
                                                                        ...]:
    return tuple(transforms.check(dict(items)))


def merge_conflicts(target: Any) -> dict[tuple[str, int], tuple[Any, Any, Any]]:
    """Transforms of stock routes that the override's array merges into by index.

    (folded route id, index) -> (base item, override item, merged item) for every index
    where the merged transform has keys the override's item does not: the gateway sees
    the base's keys too. Memoised per target.
    """
    found: dict[tuple[str, int], tuple[Any, Any, Any]] | None = target.memo.get("tconflicts")
    if found is not None:
        return found
    found = {}
    touched = override_route_ids(target) & target.stock_route_ids
    if touched:
        base_routes = _cfg.walk(target.base, ROUTES)
        over_routes = _cfg.walk(target.override, ROUTES)
        for rid, base_route in _cfg.items(base_routes):
            if rid.lower() not in touched:
                continue
            b = _cfg.children(_cfg.get(base_route, "Transforms"))
            o = _cfg.children(_cfg.get(_cfg.get(over_routes, rid), "Transforms"))
            for i in range(min(len(b), len(o))):
                if not (isinstance(b[i], dict) and isinstance(o[i], dict)):
                    continue
                merged = _cfg.merge(b[i], o[i])
                if {k.lower() for k in merged} != {k.lower() for k in o[i]}:
                    found[(rid.lower(), i)] = (b[i], o[i], merged)
    target.memo["tconflicts"] = found
    return found


def transform_errors(facts: RouteFacts) -> list[tuple[int, list[tuple[str, str | None]]]]:
    """(index, errors) of the route's invalid transforms, computed once per route object."""
    found: list[tuple[int, list[tuple[str, str | None]]]] | None = facts.memo.get("transforms")
    if found is None:
        found = [(i, errors) for i, t in enumerate(facts.transforms)
                 if (errors := check_transform(t))]
        facts.memo["transforms"] = found
    return found

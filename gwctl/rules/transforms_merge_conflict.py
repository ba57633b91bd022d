"""Overriding a stock route's Transforms merges by index into a transform nobody wrote.

``Transforms`` is an array, and arrays merge by index: the override's transform 0 is laid
over the base's transform 0 *key by key*. Replacing the base's
``{"X-Forwarded": "Append", "Prefix": "Off"}`` with ``{"PathPattern": "/x"}`` yields
``{"X-Forwarded": "Append", "Prefix": "Off", "PathPattern": "/x"}``, which YARP rejects
at startup (an error). When the merged transform is still valid but keeps keys the
override did not write (``{"X-Forwarded": "Set"}`` over ``{"X-Forwarded": "Append",
"Prefix": "Off"}`` keeps ``Prefix: Off``) it is a warning. Write the whole transform at
the same index (every key of the base's), or keep the order of the base's transforms.

PASS (same transform kinds at the same indices)::

    "idp": { "Transforms": [ { "PathPattern": "/IDP/{**remainder}" },
                             { "X-Forwarded": "Set", "Prefix": "Off" } ] }

FAIL (transform 1 of stock route ``idp`` is an X-Forwarded transform)::

    "idp": { "Transforms": [ { "PathPattern": "/IDP/{**remainder}" },
                             { "RequestHeader": "X-Gateway", "Set": "gw1" } ] }
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _yarp_routes, _yarp_transforms
from gwctl.rules._shared import show
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "transforms-merge-conflict"
LEVEL: Final = Level.ERROR
EFFECT: Final = "start"
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    conflicts = _yarp_transforms.merge_conflicts(target)
    if not conflicts:
        return
    for route in _yarp_routes.routes(target):
        for (rid, i), (_base, over, merged) in conflicts.items():
            if rid != route.id.lower():
                continue
            extra = [k for k in merged if k.lower() not in {o.lower() for o in over}]
            broken = _yarp_transforms.check_transform(merged)
            consequence = ("YARP rejects it and the gateway does not start" if broken
                           else "the gateway silently keeps them")
            message = (f"transform {i} of stock route {route.id!r} merges by index with the "
                       f"base's {show(_base)}: the gateway sees {show(merged)}, with "
                       f"{', '.join(extra)} that this override did not write; {consequence}")
            yield from target.report(ID, LEVEL if broken else Level.WARNING, message,
                                     (*route.key, "Transforms", str(i)),
                                     extra={"merged": show(merged)})

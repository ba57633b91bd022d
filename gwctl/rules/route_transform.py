"""A route transform that YARP rejects: unknown key, missing or extra companion keys.

Each transform is one object with one known key plus exactly its companions, e.g.
``{PathPattern}``, ``{PathPrefix}``, ``{PathRemovePrefix}``, ``{PathSet}``,
``{QueryRouteParameter, Set|Append}``, ``{QueryValueParameter, Set|Append}``,
``{QueryRemoveParameter}``, ``{RequestHeader, Set|Append}``, ``{RequestHeaderRemove}``,
``{RequestHeadersCopy}``, ``{RequestHeaderOriginalHost}``,
``{ResponseHeader, Set|Append[, When]}``, ``{ResponseHeaderRemove[, When]}``,
``{X-Forwarded[, For, Prefix, Host, Proto, HeaderPrefix]}``,
``{Forwarded[, Action, ForFormat, ByFormat]}``, ``{ClientCert}``,
``{HttpMethodChange, Set}``. Keys compare ignoring case, but the X-Forwarded values
(``Off|Set|Append|Remove``) are parsed *case-sensitively*: ``"append"`` stops the gateway,
while ``When`` compares ignoring case. A path value without its leading ``/`` is fine
(YARP adds it); a ``PathPattern`` that is not a route template stops the gateway
(microsoft/reverse-proxy src/ReverseProxy/Transforms/PathTransformFactory.cs,
src/ReverseProxy/Transforms/Builder/TransformBuilder.cs).
Transforms that a partial override merged into (``transforms-merge-conflict``) are left
to that rule.

PASS (from the stock ``idp`` route)::

    Transforms:
      - {PathPattern: "/IDP/{**remainder}"}
      - {X-Forwarded: Append, Prefix: "Off"}
      - {RequestHeader: X-Forwarded-Prefix, Append: /api/idp}

FAIL::

    Transforms:
      - {PathPattern: "/IDP/{**remainder}", RequestHeader: X-Trace}
      - {X-Forwarded: append}
      - {PathPattern: "/IDP/{**remainder}/x"}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _yarp_routes, _yarp_transforms
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "route-transform"
LEVEL: Final = Level.ERROR
EFFECT: Final = "start"
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    conflicts = _yarp_transforms.merge_conflicts(target)
    for route in _yarp_routes.routes(target):
        for i, errors in _yarp_transforms.transform_errors(route.facts):
            if (route.id.lower(), i) in conflicts:
                continue
            key = (*route.key, "Transforms", str(i))
            for message, field in errors:
                at = (*key, field) if field and target.in_override((*key, field)) else key
                yield from target.report(ID, LEVEL, f"route {route.id!r}, transform {i}: "
                                         f"{message}", at)

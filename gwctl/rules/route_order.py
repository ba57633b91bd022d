"""A route's ``Order`` is not a whole number: YARP cannot load the configuration.

``Order`` ranks routes (lower first, default 0) and is read with ``int.Parse`` and
``NumberStyles.AllowLeadingSign`` (microsoft/reverse-proxy src/ReverseProxy/Configuration/
ConfigProvider/ConfigurationReadingExtensions.cs, ``ReadInt32``): ``"10"`` and ``"-1"``
work, ``"1.5"``, ``"high"`` or ``" 10"`` stop the gateway.

PASS::

    vendor: {ClusterId: vendor, Order: -1, Match: {Path: "/vendor/{**remainder}"}}

FAIL::

    vendor: {ClusterId: vendor, Order: 1.5, Match: {Path: "/vendor/{**remainder}"}}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules import _cfg, _yarp_routes
from gwctl.rules.base import Options
from gwctl.rules.target import Target

ID: Final = "route-order"
LEVEL: Final = Level.ERROR
EFFECT: Final = "start"
OPTIONS: Final[dict[str, Any]] = {}


def check(target: Target, options: Options) -> Iterator[Problem]:
    if target.view is None:
        return
    for route in _yarp_routes.routes(target):
        value = route.facts.order_raw
        if value is not None and route.facts.order is None:
            shown = _cfg.text(value)
            message = (f"route {route.id!r}: Order {shown!r} is not a whole number "
                       "(-2147483648..2147483647)" if shown is not None
                       else f"route {route.id!r}: Order must be a number, not a section")
            yield from target.report(ID, LEVEL, message, (*route.key, "Order"))

"""The rendered appsettings.Production.json nests deeper than 64 levels: the gateway does not start.

The gateway reads its appsettings files with System.Text.Json, whose maximum depth is 64
nested objects and arrays (the JSON provider leaves ``JsonDocumentOptions.MaxDepth`` at
its default: dotnet/runtime src/libraries/Microsoft.Extensions.Configuration.Json/src/
JsonConfigurationFileParser.cs); a deeper file stops it at startup (a live file is reported by
``json-syntax``). Only the raw ``appsettings`` escape hatch and free-form route metadata
can nest that deep: flatten them, or use ``Section:Key`` names.

PASS::

    settings:
      appsettings:
        Kestrel: {Limits: {MaxRequestBodySize: 1048576}}

FAIL (65 nested mappings)::

    settings:
      appsettings:
        L1: {L2: {L3: ... {L65: {}} ...}}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.netjson.parser import MAX_DEPTH
from gwctl.problems import Level, Problem
from gwctl.rules import _cfg
from gwctl.rules._cfg import Key
from gwctl.rules._shared import dotted
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetTarget, Target

ID: Final = "appsettings-too-deep"
LEVEL: Final = Level.ERROR
EFFECT: Final = "start"
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


#: the level of route and cluster objects (``ReverseProxy:Routes:<id>``; the file is 1)
_SHARED_LEVEL = 4


def _height(node: dict[str, Any] | list[Any], memo: dict[int, tuple[Any, int]],
            level: int = 1) -> int:
    """How many objects and arrays deep `node` (at `level`) nests, itself included.

    Route and cluster objects are shared between the gateways of a site, so their
    height is kept per object (with the object, so that its id stays its own); keeping
    every small container would cost more than walking it again. The recursion is
    bounded: the fleet reader refuses YAML nested deeper than
    `gwctl.fleet.yaml_reader.MAX_DEPTH`, and rendering adds a few levels above it.
    """
    if level == _SHARED_LEVEL:
        hit = memo.get(id(node))
        if hit is not None and hit[0] is node:
            return hit[1]
    deepest = 0
    for v in node.values() if isinstance(node, dict) else node:
        if isinstance(v, dict | list):
            deepest = max(deepest, _height(v, memo, level + 1))
    if level == _SHARED_LEVEL:
        memo[id(node)] = (node, deepest + 1)
    return deepest + 1


def _too_deep(node: Any, key: Key, depth: int) -> Key | None:
    """The first object or array nested deeper than the gateway reads, if any."""
    if not isinstance(node, dict | list):
        return None
    if depth > MAX_DEPTH:
        return key
    for k, v in _cfg.items(node):
        found = _too_deep(v, (*key, k), depth + 1)
        if found is not None:
            return found
    return None


def check(target: Target, options: Options) -> Iterator[Problem]:
    if not isinstance(target, FleetTarget) or target.override is None:
        return
    # the height of a shared subtree is known after the first gateway: only a tree that
    # is too deep somewhere is searched for the first place where it is
    override = target.override
    if (not isinstance(override, dict | list)
            or _height(override, target.shared.setdefault(ID, {})) <= MAX_DEPTH):
        return
    key = _too_deep(target.override, (), 1)
    if key is None:
        return
    where = dotted(key) if len(key) <= 6 else f"{dotted(key[:3])}:...:{dotted(key[-2:])}"
    message = (f"appsettings.Production.json would nest deeper than {MAX_DEPTH} levels at "
               f"{where}: the gateway's JSON reader stops there and the gateway does not "
               "start")
    yield from target.report(ID, LEVEL, message, key)

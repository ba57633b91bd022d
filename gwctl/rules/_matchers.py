"""Shared checks of YARP's query-parameter and header matchers.

``Mode`` is read with ``Enum.Parse`` when present (microsoft/reverse-proxy
src/ReverseProxy/Configuration/ConfigurationReadingExtensions.cs, ``ReadEnum``): an empty
``Mode`` throws while the configuration is read -- it is not the default mode -- and so
does a null one on .NET 8/9, where the JSON provider stores null as ``""``
(`gwctl.netjson.runtime`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gwctl.problems import Level, Problem
from gwctl.rules import _cfg, _yarp_routes
from gwctl.rules._cfg import Key
from gwctl.rules.target import Target

Finding = tuple[str, Key]


def _findings(matchers: list[Any], section: str, what: str, modes: tuple[str, ...],
              no_values: tuple[str, ...]) -> list[Finding]:
    """(message after "route 'x', ", key relative to the route) for one route's matchers."""
    folded = {m.lower(): m for m in modes}
    out: list[Finding] = []
    for i, m in enumerate(matchers):
        key: Key = ("Match", section, str(i))
        where = f"{what} {i}"
        if not isinstance(m, dict):
            out.append((f"{where} must be an object", key))
            continue
        name = _cfg.text(_cfg.get(m, "Name"))
        if not name:
            out.append((f"{where} has no Name", key))
        mode_node = _cfg.get(m, "Mode")
        mode_raw = _cfg.text(mode_node)
        # a null reads as "" up to .NET 9 and as {} (an empty section) from .NET 10, in a
        # file and in a fleet alike (gwctl.rules.sources._as_read)
        if _cfg.spelled(m, "Mode") is not None and (mode_node is None or mode_raw == ""):
            # ConfigurationReadingExtensions.ReadEnum: Enum.Parse("") throws (a JSON null is
            # "" up to .NET 9 and stays null -- the default mode -- on .NET 10)
            out.append((f"{where}: Mode is empty (YARP's Enum.Parse throws while reading the "
                        f"configuration; leave Mode out for the default {modes[0]})",
                        (*key, "Mode")))
            continue
        mode = folded.get((mode_raw or modes[0]).strip().lower())
        if mode is None:
            out.append((f"{where}: Mode {mode_raw!r} is not one of {', '.join(modes)} (YARP "
                        "cannot load the route)", (*key, "Mode")))
            continue
        values = _yarp_routes.string_list(_cfg.get(m, "Values"))
        label = f"{what} {name!r}" if name else where
        if mode in no_values and values:
            out.append((f"{label}: Values must not be given with Mode {mode} (YARP refuses "
                        "the route)", (*key, "Values")))
        elif mode not in no_values and not values:
            out.append((f"{label}: Mode {mode} needs Values (YARP refuses the route)", key))
        case = _cfg.text(_cfg.get(m, "IsCaseSensitive"))
        if case is not None and case.strip().lower() not in ("true", "false"):
            out.append((f"{label}: IsCaseSensitive must be true or false, not {case!r}",
                        (*key, "IsCaseSensitive")))
    return out


def check_matchers(target: Target, rule: str, level: Level, section: str, what: str,
                   modes: tuple[str, ...], no_values: tuple[str, ...]) -> Iterator[Problem]:
    """Name set; Mode a known value (ignoring case); Values present unless the mode takes none."""
    for route in _yarp_routes.routes(target):
        facts = route.facts
        matchers = facts.query if section == "QueryParameters" else facts.headers
        if not matchers:
            continue
        found: list[Finding] | None = facts.memo.get(rule)
        if found is None:
            found = _findings(matchers, section, what, modes, no_values)
            facts.memo[rule] = found
        for message, key in found:
            yield from target.report(rule, level, f"route {route.id!r}, {message}",
                                     (*route.key, *key))

"""Shared plumbing of the host rules (``host_*.py``): their scope.

The host rules judge what the ``read_host`` operation found on gateway hosts
(`gwctl.iis.hostinfo.HostInfo`): they run once on the fleet, like the version rules, in a
`HostScope` that carries the facts per gateway id. Only the commands that read hosts
(``diff``, ``plan``, ``apply``, ``doctor``) build one; offline ``validate`` and
``lint-file`` cannot know a host and run the host rules in a plain `FleetScope`, where
they find nothing. The findings themselves come from `gwctl.iis.conditions`, so plans,
doctor and the rules cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from gwctl.iis.conditions import conditions
from gwctl.problems import Level, Problem
from gwctl.rules.target import FleetScope

if TYPE_CHECKING:
    from gwctl.fleet.model import Fleet
    from gwctl.iis.hostinfo import HostInfo


class HostScope(FleetScope):
    """The fleet, plus the facts read from its gateway hosts (gateway id -> facts)."""

    def __init__(self, fleet: Fleet, hosts: Mapping[str, HostInfo]) -> None:
        super().__init__(fleet)
        self.hosts = dict(hosts)


def report(scope: FleetScope, rule: str, level: Level) -> Iterator[Problem]:
    """The problems of `rule` on every host of a `HostScope` (none in a plain scope)."""
    hosts: Mapping[str, HostInfo] = getattr(scope, "hosts", {})
    by_id = {gw.id: gw for gw in scope.fleet.gateways()}
    for gateway_id, info in sorted(hosts.items()):
        gw = by_id.get(gateway_id)
        if gw is None:
            continue
        for c in conditions(info):
            if c.rule == rule:
                yield from scope.report(rule, level, f"{c.message}; remedy: {c.remedy}",
                                        gw.pointer, subject=gateway_id,
                                        extra={"remedy": c.remedy, "blocks_apply": c.blocks,
                                               "section": c.section})

"""What a rule module is: the interface the registry and the runner rely on.

A rule is a module (yamllint-style) with

* ``ID`` -- kebab-case, stable: fleets configure and suppress rules by it;
* ``LEVEL`` -- `Level.ERROR` (the gateway refuses to start, fails requests, or is opened
  up) or `Level.WARNING` (risky, or silently not what was meant);
* ``OPTIONS`` -- option name -> default; a fleet's ``rules:`` entry may override them;
* ``check(target, options)`` -- yields `Problem`s (built with ``target.report...``);
* a module docstring: the user documentation, first line a summary, with a PASS and a
  FAIL example (``gwctl rules ID`` prints it).

Optional: ``MODES`` (``{"fleet", "file"}`` by default) for rules that only make sense on
the fleet (how a value was written) or only on live files. A rule may yield a problem at
a lower level than ``LEVEL`` for a milder variant of its finding; a fleet's ``level:``
setting overrides both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from gwctl.problems import Level, Problem
from gwctl.rules.target import FleetScope, Target

Options = Mapping[str, Any]
BOTH_MODES = frozenset({"fleet", "file"})
FLEET_ONLY = frozenset({"fleet"})


class RuleInfo(Protocol):
    @property
    def ID(self) -> str: ...

    @property
    def LEVEL(self) -> Level: ...

    @property
    def OPTIONS(self) -> Mapping[str, Any]: ...


class GatewayRule(RuleInfo, Protocol):
    """Runs on one gateway's configuration (fleet mode) or one live file (file mode)."""

    def check(self, target: Target, options: Options) -> Iterator[Problem]: ...


class FleetRule(RuleInfo, Protocol):
    """Runs once on the whole fleet (names and hosts across sites)."""

    def check(self, scope: FleetScope, options: Options) -> Iterator[Problem]: ...


def in_environments(target: Target, options: Options) -> bool:
    """Whether the target's environment is one of the option ``environments``."""
    envs = options.get("environments") or ()
    return target.environment in {str(e).lower() for e in envs}

"""A version could not be discovered; the declared one was checked instead (discovery only).

A gate that cannot read a version must not pass silently: an unreachable host, a gateway
without an inventory host, an unreadable installed-products registry, or a management
server whose version neither ServerConfig.xml nor ``/.well-known/uris`` gave. Lower it
with ``rules: {version-discovery-failed: {level: warning}}`` when some hosts are
knowingly out of reach.

Source: gwctl (PRODUCT.md › Contracts: exit 1 on a failed operation).

PASS: every gateway host answers ``read_versions`` and one source gives the management
server's version.

FAIL::

    # inventory: no host for gateway branch-gw1, or its WinRM port is closed
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.problems import Level, Problem
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope
from gwctl.versions import checks as versioncheck

ID: Final = versioncheck.DISCOVERY_FAILED
LEVEL: Final = Level.ERROR
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    yield from versioncheck.scope_problems(ID, scope)

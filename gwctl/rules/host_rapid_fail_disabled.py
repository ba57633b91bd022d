"""The gateway's app pool has rapid-fail protection off: a crashing gateway is never stopped.

IIS's default (``<failure rapidFailProtection="true">`` in applicationHost.config, 5
worker failures within 5 minutes) stops an app pool whose worker keeps failing; HTTP.sys
then answers ``503`` until someone starts the pool, and the pool's state tells monitoring
that the gateway is down. With protection off, IIS never stops the pool however often its
worker fails: a gateway whose configuration does not load keeps its pool ``Started`` and
keeps answering the start failure (``500.30`` in-process, ``502.5`` out-of-process; see
`gwctl.iis.behaviour`), and only the answers show it. gwctl's health check reads the
answers, so apply still notices and rolls back; ``gwctl doctor``'s ``app-pool`` check and
any monitor of the pool state do not (doctor's ``iis-errors`` and ``startup-errors`` do).

Host rule: judged where gwctl read the host (``diff``, ``plan``, ``apply``, ``doctor``);
``validate`` cannot know a host and reports nothing. The pool's settings come from the
``read_host`` operation (``app_pool.rapid_fail_protection``), resolved through
``applicationPoolDefaults`` as IIS resolves them.

PASS (IIS's default: no ``<failure>`` element, or)::

    <add name="VideoOS ApiGateway AppPool">
      <failure rapidFailProtection="true" />
    </add>

FAIL::

    <add name="VideoOS ApiGateway AppPool">
      <failure rapidFailProtection="false" />
    </add>
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from gwctl.iis.conditions import RAPID_FAIL_DISABLED
from gwctl.problems import Level, Problem
from gwctl.rules import _hosts
from gwctl.rules.base import FLEET_ONLY, Options
from gwctl.rules.target import FleetScope

ID: Final = RAPID_FAIL_DISABLED
LEVEL: Final = Level.WARNING
OPTIONS: Final[dict[str, Any]] = {}
MODES: Final = FLEET_ONLY


def check(scope: FleetScope, options: Options) -> Iterator[Problem]:
    yield from _hosts.report(scope, ID, LEVEL)

"""Planning across the fleet: render, read each host, compare -- concurrently, bounded.

A host that cannot be reached gets a plan with an error; it never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gwctl.deploy.activation import ACTIVATION, ACTIVATION_PATH
from gwctl.deploy.gateway_plan import GatewayPlan, plan_gateway
from gwctl.errors import GwctlError, OperationError
from gwctl.fleet.model import Fleet
from gwctl.fleet.secrets import SecretResolver
from gwctl.hosts.facts import HostFacts, facts_from, stat_request
from gwctl.hosts.fanout import fan_out
from gwctl.hosts.targets import Target, TransportFactory, open_transport
from gwctl.ops.batch import BatchError, Step
from gwctl.output import redact
from gwctl.render.bases import base_config
from gwctl.render.files import RenderedFile, render_gateway
from gwctl.transport.base import Transport
from gwctl.versions.discovery import GatewayDiscovery, host_discovery, versions_params

log = logging.getLogger("gwctl.deploy.gateway_plan")

DEFAULT_WORKERS = 32

Progress = Callable[[GatewayPlan], None]


@dataclass
class Planner:
    fleet: Fleet
    resolver: SecretResolver
    transports: TransportFactory = open_transport
    workers: int = DEFAULT_WORKERS
    #: also read the host's installed versions, in the same command as its files (apply:
    #: the version gate needs them for every gateway that changes)
    with_versions: bool = False

    def plan_one(self, target: Target, rendered: list[RenderedFile] | None = None
                 ) -> GatewayPlan:
        gw = target.gateway
        if rendered is None:
            rendered = render_gateway(gw, self.resolver)
        try:
            with self.transports(target.host) as transport:
                facts, versions = self._read(transport, target)
        except GwctlError as exc:
            log.debug("%s: %s", target.name, exc)
            return GatewayPlan(gw.id, target.name, error=redact.scrub(str(exc)))
        plan = plan_gateway(gw, target.name, facts, rendered,
                            lambda: base_config(self.fleet, gw))
        plan.host_info = facts.host
        plan.versions = versions
        plan.disabled_rules = disabled_rules(self.fleet)
        return plan

    def _read(self, transport: Transport, target: Target
              ) -> tuple[HostFacts, GatewayDiscovery | None]:
        """The host's files, facts (and with `with_versions` its installed versions): one
        read-only command, sent again if the exchange breaks."""
        gw = target.gateway
        # the host's facts ride on the same stat as the files: no extra round trip
        paths, params = stat_request(gw, extra={ACTIVATION: ACTIVATION_PATH}, with_host=True)
        if not self.with_versions:
            return facts_from(transport.run("stat", params), paths, with_host=True), None
        server_config = self.fleet.site_of(gw).management_server.server_config
        versions: dict[str, Any] | GwctlError
        try:
            stat, versions = transport.run_batch(
                [Step("stat", params),
                 Step("read_versions", versions_params(gw, server_config))])
        except BatchError as exc:
            if exc.index == 0:
                raise
            # the versions could not be read: the gate falls back to the declared ones,
            # as when its own read fails
            stat, versions = exc.results[0], OperationError(exc.message, code=exc.code)
        found = host_discovery(target, server_config, versions, 0.0)
        return facts_from(stat, paths, with_host=True), found

    def plan_all(self, targets: list[Target], progress: Progress | None = None
                 ) -> list[GatewayPlan]:
        # rendered up front so that a missing secret fails before any host is read
        rendered = [render_gateway(t.gateway, self.resolver) for t in targets]
        return fan_out(lambda i: self.plan_one(targets[i], rendered[i]), len(targets),
                       workers=self.workers, progress=progress)



def disabled_rules(fleet: Fleet) -> frozenset[str]:
    """The rule ids the fleet's ``rules:`` section turns off (``false`` or
    ``enabled: false``); the rules runner checks that each has a reason."""
    return frozenset(rule for rule, raw in (fleet.rule_config or {}).items()
                     if raw is False or (isinstance(raw, dict) and raw.get("enabled") is False))

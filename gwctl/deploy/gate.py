"""The version gate of ``gwctl apply``: may this configuration be pushed to this gateway?

Before a gateway is touched, apply reads the gateway's installed version over its
transport and its management server's (ServerConfig.xml on a co-located host, else
``/.well-known/uris`` through the gateway); a version that cannot be read falls back to
the declared one. The push is refused when, from 2023 R3 on, the gateway's release
differs from its management server's (the side that must be upgraded first is named),
or when the configuration uses something the installed release lacks
(`gwctl.versions.requirements`: CORS before 2022 R3, TURN before 2023 R3, a WebRTC shape
rendered for another release, ...). ``--allow-version-mismatch`` logs a refusal loudly,
records it in the result, and pushes anyway.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gwctl.fleet.model import Fleet, Gateway
from gwctl.hosts.targets import Target, TransportFactory, open_transport
from gwctl.versions.boundaries import VERSION_MATCH_SINCE
from gwctl.versions.discovery import GatewayDiscovery, HttpSettings, discover_target
from gwctl.versions.release import Version
from gwctl.versions.requirements import missing, requirements
from gwctl.versions.state import release_label

if TYPE_CHECKING:
    from gwctl.deploy.gateway_plan import GatewayPlan

# the logger name stderr has always shown for the override warning
log = logging.getLogger("gwctl.versions.release")


@dataclass
class GateDecision:
    """Whether ``gwctl apply`` may push to one gateway, and why not."""

    gateway: str
    gateway_version: str
    gateway_source: str
    management_server_version: str
    management_server_source: str
    reasons: list[str] = field(default_factory=list)
    overridden: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return bool(self.reasons)

    @property
    def blocks(self) -> bool:
        return self.refused and not self.overridden

    def summary(self) -> str:
        return "; ".join(self.reasons)

    def to_json(self) -> dict[str, Any]:
        return {"gateway": self.gateway, "allowed": not self.blocks,
                "refused": self.refused, "overridden": self.overridden,
                "reasons": list(self.reasons), "notes": list(self.notes),
                "gateway_version": self.gateway_version, "gateway_source": self.gateway_source,
                "management_server_version": self.management_server_version,
                "management_server_source": self.management_server_source}


def gate_reasons(gw: Gateway, gateway_version: Version, ms_version: Version,
                 rendered: Mapping[str, Any] | None = None) -> list[str]:
    """Why the configuration rendered for `gw` must not be pushed to a gateway that runs
    `gateway_version` under a management server on `ms_version` (empty: it may)."""
    reasons = []
    since = VERSION_MATCH_SINCE
    newer = max(gateway_version, ms_version)
    if (not gateway_version.same_release(ms_version)
            and newer.release_key >= since.release_key):
        side = ("upgrade the gateway first" if gateway_version < ms_version
                else "upgrade the management server first")
        reasons.append(
            f"the gateway runs {gateway_version.name} but its management server runs "
            f"{ms_version.name}; since {since} they must match ({side})")
    for r in missing(requirements(gw, rendered), gateway_version):
        reasons.append(f"the configuration uses {r.what} ({r.available()}), which "
                       f"{gateway_version.name} lacks")
    return reasons


class ApplyGate:
    """The version gate of ``gwctl apply``: called before a gateway is touched.

    Decisions are cached, so `prefetch` (concurrent, before the confirmation prompt) and
    the call from the rollout agree. With ``allow_mismatch`` a refusal is logged loudly
    and recorded, and the push goes ahead.
    """

    def __init__(self, fleet: Fleet, transports: TransportFactory | None = None, *,
                 allow_mismatch: bool = False, http: HttpSettings | None = None,
                 workers: int = 32) -> None:
        self.fleet = fleet
        self.transports = transports or open_transport
        self.allow_mismatch = allow_mismatch
        self.http = http
        self.workers = workers
        self._cache: dict[str, GateDecision] = {}
        self._lock = threading.Lock()

    def __call__(self, target: Target, plan: GatewayPlan | None = None) -> GateDecision:
        return self.evaluate(target, plan)

    def evaluate(self, target: Target, plan: GatewayPlan | None = None) -> GateDecision:
        """The decision for `target`; the installed versions come from `plan` when its read
        took them (``Planner.with_versions``), else from the host now."""
        gw = target.gateway
        with self._lock:
            cached = self._cache.get(gw.id)
        if cached is not None:
            return cached
        decision = self._decide(target, plan.versions if plan is not None else None)
        if decision.refused and self.allow_mismatch:
            decision.overridden = True
            log.warning("VERSION GATE OVERRIDDEN (--allow-version-mismatch) for %s: %s",
                        gw.id, decision.summary())
        with self._lock:
            self._cache.setdefault(gw.id, decision)
            return self._cache[gw.id]

    def prefetch(self, targets: Sequence[Target],
                 plans: Sequence[GatewayPlan | None] = ()) -> list[GateDecision]:
        """Decide for every target concurrently; `plans` (in the order of `targets`) carry
        the versions their read took."""
        if not targets:
            return []
        given = list(plans) or [None] * len(targets)
        with ThreadPoolExecutor(max_workers=min(self.workers, len(targets))) as pool:
            return list(pool.map(self.evaluate, targets, given))

    def _decide(self, target: Target, read: GatewayDiscovery | None) -> GateDecision:
        gw = target.gateway
        ms = self.fleet.site_of(gw).management_server
        found, readings = discover_target(self.fleet, target, transports=self.transports,
                                          http=self.http, read=read)
        notes = []
        gv = gw.version
        g_src = "declared" if gw.version_declared else "the management server's"
        if found.reading is not None and found.reading.version is not None:
            gv, g_src = found.reading.version, f"installed ({found.reading.describe()})"
        elif found.installed is False:
            notes.append(f"no API Gateway is installed on {target.name}")
        elif found.error:
            notes.append(f"gateway version not read ({found.error}); the declared one is used")
        trusted = next((r for r in readings if r.ok), None)
        mv, m_src = ms.version, "declared"
        if trusted is not None and trusted.version is not None:
            mv, m_src = trusted.version, f"installed ({trusted.describe()})"
        else:
            errors = "; ".join(f"{r.describe()}: {r.error}" for r in readings)
            notes.append(f"management server version not read ({errors or 'no source'}); "
                         f"the declared one is used")
        reasons = gate_reasons(gw, gv, mv)
        return GateDecision(gw.id, release_label(gv), g_src, release_label(mv), m_src,
                            reasons, notes=notes)

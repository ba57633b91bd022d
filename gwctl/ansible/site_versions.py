"""Site-level upgrade-order checks for the role: ``gwctl check-versions -i`` inside a play.

``gwctl check-versions`` discovers every gateway's installed version (and the management
server's, from ``ServerConfig.xml`` on its host or ``/.well-known/uris``) and runs the
version rules over whole sites: the management server before the gateways, the
co-located gateway with it, a gateway on the management server's host from 2024 R2, no
2021 R2 pre-release... In a play each host can only be read through its own connection,
so the reading is split in two:

1. `read` (every host, its own connection): the host's installed versions, kept in the
   run's private local temporary directory (as the fleet cache is);
2. `check` (``run_once``, reaching no host): the readings of the play's hosts become one
   discovery, and the version rules run over it exactly as for ``gwctl check-versions``;
   any error fails the run with every problem, file:line first.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import Any

from gwctl.ansible import fleet_cache
from gwctl.hosts.inventory import InventoryHost
from gwctl.hosts.targets import TransportFactory, pair
from gwctl.problems import Level
from gwctl.rules.runner import validate_versions
from gwctl.versions.discovery import Discovery, SiteDiscovery, discover_target


def _folder(cache_dir: str, fleet: str) -> Path:
    folder = Path(cache_dir) / f"gwctl-versions-{fleet_cache.digest(Path(fleet))[:32]}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def read(*, fleet: str, host: str, groups: list[str], host_vars: dict[str, Any],
         transports: TransportFactory, cache_dir: str) -> dict[str, Any]:
    """Read this host's installed versions for the site-level check."""
    loaded, errors = fleet_cache.load(fleet, cache_dir)
    if loaded is None:
        return {"failed": True, "msg": "the fleet does not validate:\n" + "\n".join(errors)}
    targets, _ = pair(loaded, list(loaded.gateways()), [InventoryHost(host, groups, host_vars)])
    if not targets:
        return {"skipped": True, "changed": False,
                "skip_reason": f"{host}: no gateway of the fleet to read"}
    found, readings = discover_target(loaded, targets[0], transports=transports)
    name = hashlib.sha256(found.gateway.encode()).hexdigest()[:32]
    partial = _folder(cache_dir, fleet) / f"{name}.{os.getpid()}.tmp"
    partial.write_bytes(pickle.dumps((found, readings)))
    partial.replace(partial.with_name(f"{name}.pickle"))
    installed = found.version.name if found.version is not None else None
    return {"changed": False, "gateway": found.gateway, "installed": installed,
            "msg": f"{found.gateway}: installed {installed or 'unknown'}"}


def check(*, fleet: str, cache_dir: str) -> dict[str, Any]:
    """The version rules over the readings of this run (``gwctl check-versions -i``)."""
    loaded, errors = fleet_cache.load(fleet, cache_dir)
    if loaded is None:
        return {"failed": True, "msg": "the fleet does not validate:\n" + "\n".join(errors)}
    discovery = Discovery({})
    for path in sorted(_folder(cache_dir, fleet).glob("*.pickle")):
        found, readings = pickle.loads(path.read_bytes())  # this run's own files
        site = found.gateway.split("/", 1)[0]
        sd = discovery.sites.setdefault(site, SiteDiscovery(site))
        sd.gateways[found.gateway] = found
        sd.readings.extend(readings)
    if not discovery.sites:
        return {"skipped": True, "changed": False,
                "skip_reason": "no gateway's versions were read"}
    problems = [p for p in validate_versions(loaded, discovery, sites=list(discovery.sites))
                if p.suppressed is None]
    failing = [p for p in problems if p.level is Level.ERROR]
    lines = [f"{p.file}:{p.line}:{p.column}: {p.message} ({p.rule})" for p in problems]
    out: dict[str, Any] = {"changed": False, "sites": sorted(discovery.sites),
                           "problems": lines}
    if failing:
        return {**out, "failed": True,
                "msg": "the upgrade order is broken:\n" + "\n".join(lines)}
    return {**out, "msg": f"installed versions ok ({len(discovery.sites)} site(s), "
                          f"{sum(len(s.gateways) for s in discovery.sites.values())} "
                          "gateway(s))"}

"""What the Ansible role's action plugin calls: converge one inventory host.

The plugin passes the host's already-templated Ansible variables; everything else --
validation, planning, the version gate, applying -- is the engine's, exactly as for the
CLI. The result is an Ansible task result (``changed``, ``failed``, ``msg``, ``diff``),
with secrets masked.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from gwctl import api
from gwctl.fleet.model import Fleet
from gwctl.output import redact
from gwctl.problems import Level


@lru_cache(maxsize=4)
def _fleet(path: str, mtime: float) -> tuple[Fleet | None, list[str]]:
    result = api.validate(path)
    errors = [f"{p.file}:{p.line}:{p.column}: {p.message} ({p.rule})"
              for p in result.problems if p.level is Level.ERROR and p.suppressed is None]
    return (result.fleet if not errors else None), errors


def converge(*, fleet: str, host: str, groups: list[str], host_vars: dict[str, Any],
             check: bool, want_diff: bool, health_timeout: float = 30.0,
             allow_version_mismatch: bool = False) -> dict[str, Any]:
    from gwctl.deploy.apply import ApplyOptions, apply_gateway
    from gwctl.deploy.fleet_plan import Planner
    from gwctl.deploy.gate import ApplyGate
    from gwctl.deploy.health import HealthSettings
    from gwctl.fleet.secrets import SecretResolver
    from gwctl.hosts.inventory import InventoryHost
    from gwctl.hosts.targets import open_transport, pair

    loaded, errors = _fleet(fleet, Path(fleet).stat().st_mtime if Path(fleet).exists() else 0)
    if loaded is None:
        return {"failed": True, "msg": "the fleet does not validate:\n" + "\n".join(errors)}
    redact.register_all(host_vars)
    inv_host = InventoryHost(host, groups, host_vars)
    targets, _ = pair(loaded, list(loaded.gateways()), [inv_host])
    if not targets:
        return {"failed": True, "msg": f"{host}: no gateway of the fleet is named {host!r} "
                                       "(name the host after the gateway or set gwctl_gateway)"}
    target = targets[0]
    plan = Planner(loaded, SecretResolver(loaded.base_dir)).plan_one(target)
    out: dict[str, Any] = {"gateway": plan.gateway, "changed": plan.changed,
                           "recycle": plan.needs_recycle,
                           "semantic": [c.to_json() for c in plan.semantic]}
    if want_diff:
        out["diff"] = [{"before_header": f.path, "after_header": f.path, "prepared": f.diff}
                       for f in plan.files if f.action != "unchanged"]
    if plan.error:
        return {**out, "failed": True, "changed": False, "msg": plan.error}
    if check or not plan.changed:
        out["msg"] = "drift" if plan.changed else "in sync"
        return out
    options = ApplyOptions(health=HealthSettings(timeout_s=health_timeout),
                           gate=ApplyGate(loaded, open_transport,
                                          allow_mismatch=allow_version_mismatch))
    res = apply_gateway(target, plan, open_transport, options)
    out.update({"outcome": res.outcome, "steps": res.steps, "recycled": res.recycled,
                "msg": f"{res.outcome}" + (f": {res.detail}" if res.detail else "")})
    out["changed"] = res.outcome in ("changed", "rolled back")
    if res.outcome not in ("changed", "unchanged"):
        out["failed"] = True
    return out


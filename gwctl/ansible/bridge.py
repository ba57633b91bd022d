"""What the Ansible role's action plugin calls: converge or classify one inventory host.

The plugin passes the host's already-templated Ansible variables and a transport factory
that reaches the host through the task's own Ansible connection
(`gwctl.transport.ansible_connection`); everything else -- validation, planning, the
version gate, applying -- is the engine's, exactly as for the CLI. The result is an
Ansible task result (``changed``, ``failed``, ``skipped``, ``msg``, ``diff``), with
secrets masked.

An inventory host that names no gateway of the fleet is skipped with the reason, as
``gwctl diff``/``apply`` ignore inventory hosts they have no gateway for.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

# imported here, not in the functions: Ansible imports the action plugin (and so this
# module) in its main process, and every per-host, per-task worker it forks inherits
# these modules instead of importing them again
from gwctl.ansible import audit, fleet_cache
from gwctl.deploy.apply import ApplyOptions, apply_gateway
from gwctl.deploy.audit import event_builder
from gwctl.deploy.fleet_plan import Planner
from gwctl.deploy.gate import ApplyGate
from gwctl.deploy.gateway_plan import GatewayPlan
from gwctl.deploy.health import HealthSettings, check, health_for
from gwctl.fleet.maintenance import check_windows
from gwctl.fleet.model import Fleet
from gwctl.fleet.secrets import SecretResolver
from gwctl.hosts.inventory import InventoryHost
from gwctl.hosts.targets import Target, TransportFactory, pair
from gwctl.output import redact


def _target(fleet: str, host: str, groups: list[str], host_vars: dict[str, Any],
            cache_dir: str | None = None) -> tuple[Fleet, Target] | dict[str, Any]:
    """The fleet and this host's target, or the task result that ends the task."""
    loaded, errors = fleet_cache.load(fleet, cache_dir)
    if loaded is None:
        return {"failed": True, "msg": "the fleet does not validate:\n" + "\n".join(errors)}
    # a password (vaulted or not) must never show, whichever command reads it
    redact.register_all(host_vars)
    targets, _ = pair(loaded, list(loaded.gateways()), [InventoryHost(host, groups, host_vars)])
    if not targets:
        ref = host_vars.get("gwctl_gateway") or host
        return {"skipped": True, "changed": False,
                "skip_reason": f"{host}: no gateway of the fleet is named {ref!r} (name the "
                               "host after the gateway or set gwctl_gateway)"}
    return loaded, targets[0]


def classify(*, fleet: str, host: str, groups: list[str],
             host_vars: dict[str, Any], cache_dir: str | None = None) -> dict[str, Any]:
    """Which gateway this host is, its site and whether it shares the management server's
    host: what a playbook needs to order a rollout. The result puts the host in the groups
``xprotect_api_gateway_ms_host`` or ``xprotect_api_gateway_other`` and
``xprotect_api_gateway_site_<site>``. Reaches no host."""
    found = _target(fleet, host, groups, host_vars, cache_dir)
    if isinstance(found, dict):
        return found
    _, target = found
    gw = target.gateway
    kind = "ms_host" if gw.colocated else "other"
    site = re.sub(r"[^A-Za-z0-9_]", "_", gw.site_name)
    return {"changed": False, "gateway": gw.id, "site": gw.site_name,
            "colocated": gw.colocated, "colocation": gw.colocation.why,
            "version": str(gw.version),
            # Ansible adds the host to this group for any action's result: one group
            # whose parents are the rollout groups, instead of a group_by task per group
            "add_group": f"xprotect_api_gateway_{kind}_{site}",
            "parent_groups": [f"xprotect_api_gateway_{kind}",
                              f"xprotect_api_gateway_site_{site}"],
            "msg": f"{gw.id}: " + ("on" if gw.colocated else "not on")
                   + " the management server's host"}


def _diff_views(plan: GatewayPlan) -> list[dict[str, str]]:
    """Ansible's before/after form, so ``--diff`` prints an ordinary unified diff."""
    return [{"before_header": f"{f.path} (live)", "after_header": f"{f.path} (gwctl)",
             "before": f.before, "after": f.after}
            for f in plan.files if f.action != "unchanged"]


def converge(*, fleet: str, host: str, groups: list[str], host_vars: dict[str, Any],
             transports: TransportFactory, check: bool, want_diff: bool,
             health_timeout: float = 30.0, allow_version_mismatch: bool = False,
             outside_window: str | None = None, now: datetime | None = None,
             cache_dir: str | None = None, change_ref: str | None = None,
             audit_log: str | None = None) -> dict[str, Any]:
    found = _target(fleet, host, groups, host_vars, cache_dir)
    if isinstance(found, dict):
        return found
    loaded, target = found
    # the version gate's read rides on the plan's (one command when nothing changes)
    plan = Planner(loaded, SecretResolver(loaded.base_dir), transports,
                   with_versions=not check).plan_one(target)
    out: dict[str, Any] = {"gateway": plan.gateway, "changed": plan.changed,
                           "recycle": plan.needs_recycle, "status": plan.status,
                           "files": [{"path": f.path, "action": f.action,
                                      "sha256": f.new_sha256} for f in plan.files],
                           "semantic": [c.to_json() for c in plan.semantic],
                           "conditions": [c.to_json() for c in plan.conditions]}
    if want_diff:
        out["diff"] = _diff_views(plan)
    if plan.error:
        return {**out, "failed": True, "changed": False, "msg": plan.error}
    if plan.blockers:
        # check mode too: a plan that cannot take effect is no "would change"
        return {**out, "failed": True, "changed": False,
                "msg": "blocked, apply cannot fix: " + "; ".join(
                    f"{c.message}; remedy: {c.remedy}" for c in plan.blockers)}
    if check or not plan.changed:
        out["msg"] = "drift" if plan.changed else "in sync"
        return out
    refusal = (_change_ref_refusal(loaded, target.gateway.site_name, change_ref)
               or _window_refusal(loaded, target.gateway.site_name, outside_window, now))
    if refusal is not None:
        return {**out, "failed": True, "changed": False, "msg": refusal}
    if outside_window:
        out["outside_window"] = outside_window
    ctx = audit.context(loaded, fleet, host, host_vars, plan, change_ref or None,
                        outside_window or None)
    options = ApplyOptions(health=HealthSettings(timeout_s=health_timeout),
                           gate=ApplyGate(loaded, transports,
                                          allow_mismatch=allow_version_mismatch),
                           audit_event=event_builder(ctx))
    res = apply_gateway(target, plan, transports, options)
    warnings = audit.record(ctx, loaded, target, res, audit_log or None, transports)
    if warnings:
        out["warnings"] = warnings
    out.update({"outcome": res.outcome, "steps": res.steps, "recycled": res.recycled,
                "msg": f"{res.outcome}" + (f": {res.detail}" if res.detail else "")})
    out["changed"] = res.outcome in ("changed", "rolled back")
    if res.outcome not in ("changed", "unchanged"):
        out["failed"] = True
    return out


def _change_ref_refusal(fleet: Fleet, site: str, ref: str | None) -> str | None:
    """As `gwctl apply`: a site with change_ref_required takes no change without one."""
    if not fleet.site(site).policy.change_ref_required or (ref and ref.strip()):
        return None
    return (f"site {site} requires a change reference (change_ref_required in the fleet): "
            "set xprotect_api_gateway_change_ref. Nothing applied")


def _window_refusal(fleet: Fleet, site: str, reason: str | None,
                    now: datetime | None) -> str | None:
    """As `gwctl apply`: a change outside the site's maintenance windows is refused unless
    a reason is given (role variable xprotect_api_gateway_outside_window)."""

    (verdict,) = check_windows({site: fleet.site(site).policy}, now or datetime.now(UTC))
    if verdict.allowed or (reason and reason.strip()):
        return None
    return (f"{verdict.message}. Nothing applied: wait for the window, or set "
            "xprotect_api_gateway_outside_window to the reason")


def version_gate(*, fleet: str, host: str, groups: list[str], host_vars: dict[str, Any],
                 transports: TransportFactory, cache_dir: str | None = None
                 ) -> dict[str, Any]:
    """The version gate of ``gwctl apply`` for this gateway, read through the host:
    fails when its installed version breaks the manual's upgrade order (a gateway on
    another release than its management server, or one the configuration needs a newer
    release for). Changes nothing."""
    found = _target(fleet, host, groups, host_vars, cache_dir)
    if isinstance(found, dict):
        return found
    loaded, target = found
    decision = ApplyGate(loaded, transports).evaluate(target)
    out: dict[str, Any] = {"changed": False, "gateway": target.gateway.id,
                           "versions": decision.to_json()}
    if decision.refused:
        return {**out, "failed": True, "msg": f"{target.gateway.id}: {decision.summary()}"}
    out["msg"] = (f"{target.gateway.id}: gateway {decision.gateway_version}, "
                  f"{decision.gateway_source}; management server "
                  f"{decision.management_server_version}, {decision.management_server_source}")
    return out


def verify(*, fleet: str, host: str, groups: list[str], host_vars: dict[str, Any],
           transports: TransportFactory, health_timeout: float = 30.0,
           cache_dir: str | None = None) -> dict[str, Any]:
    """After a deployment: the host's files and running configuration match the fleet
    (what ``gwctl diff --detailed-exitcode`` checks), its version passes the gate (what
    ``gwctl check-versions`` checks per gateway) and its API answers. Changes nothing."""
    found = _target(fleet, host, groups, host_vars, cache_dir)
    if isinstance(found, dict):
        return found
    loaded, target = found
    gw = target.gateway.id
    plan = Planner(loaded, SecretResolver(loaded.base_dir), transports).plan_one(target)
    failures = []
    if plan.error:
        failures.append(f"not read: {plan.error}")
    elif plan.blockers:
        failures.append("blocked: " + "; ".join(c.message for c in plan.blockers))
    elif plan.changed:
        files = [f"{f.path} ({f.action})" for f in plan.files if f.action != "unchanged"]
        failures.append("drift: " + (", ".join(files) if files
                                     else "configuration on disk not yet active"))
    gate = version_gate(fleet=fleet, host=host, groups=groups, host_vars=host_vars,
                        transports=transports, cache_dir=cache_dir)
    if gate.get("failed"):
        failures.append(f"versions: {gate['msg'].removeprefix(gw + ': ')}")
    health = check(target.url, health_for(HealthSettings(timeout_s=health_timeout), host_vars))
    if not health.ok:
        failures.append(f"health: {health.detail}")
    out: dict[str, Any] = {"changed": False, "gateway": gw, "in_sync": not plan.changed,
                           "versions": gate.get("versions"), "healthy": health.ok}
    if failures:
        return {**out, "failed": True, "msg": f"{gw}: " + "; ".join(failures)}
    return {**out, "msg": f"{gw}: in sync, versions ok, healthy"}

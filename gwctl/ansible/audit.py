"""The Ansible role's audit trail: the record ``gwctl apply`` writes, for each host it applies.

The action plugin runs on the controller, once per inventory host, in a worker process of
its own; a play has no end an action plugin could wait for. So the role audits per host:
a converge that applied (outcome changed, rolled back or failed) appends one record of
`gwctl.deploy.audit`'s format to the controller's audit log, and the same record goes
into the host's Application event log with the command that releases its host lock, as
``gwctl apply`` sends it (`gwctl.deploy.apply.ApplyOptions.audit_event`; written once
more after the task if that command could not take it). A host in sync, check mode and a
change refused before the host was touched (window, change reference, blocked plan)
change nothing and write no record.

The log is the role variable ``xprotect_api_gateway_audit_log`` (the action's
``audit_log``) when set, else found as ``gwctl apply`` finds it (``$GWCTL_AUDIT_LOG``,
the fleet's ``defaults.audit_log``, the XDG state directory). The record differs from a
CLI run's only where a role run differs: ``exit_code`` is null (a task has none),
``via`` is ``"ansible"`` and ``ansible_host`` names the inventory host. Records of
parallel hosts never interleave: each is one ``O_APPEND`` write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gwctl.deploy.audit import (
    AuditContext,
    HostOutcome,
    append,
    digest_json,
    kerberos_principal,
    resolve_path,
    write_host_events,
)
from gwctl.deploy.gateway_plan import GatewayPlan
from gwctl.deploy.results import GatewayResult
from gwctl.deploy.saved_plan import fleet_digest
from gwctl.errors import GwctlError
from gwctl.fleet.model import Fleet
from gwctl.hosts.targets import Target, TransportFactory


def context(fleet: Fleet, fleet_path: str, host: str, host_vars: Mapping[str, Any],
            plan: GatewayPlan, change_ref: str | None,
            outside_window: str | None) -> AuditContext:
    """What the record says before the host is touched."""
    return AuditContext(
        action="apply", fleet_path=fleet_path, fleet_sha256=fleet_digest(fleet),
        change_ref=change_ref, outside_window=outside_window,
        kerberos_principal=kerberos_principal([dict(host_vars)], [host]),
        plan_sha256=digest_json([plan.to_json()]),
        extra={"via": "ansible", "ansible_host": host})


def record(ctx: AuditContext, fleet: Fleet, target: Target, result: GatewayResult,
           audit_log: str | None, transports: TransportFactory) -> list[str]:
    """Append the record of `result` to the controller's audit log and make sure the host's
    event log has it; the warnings for the task result (a change already made is never
    failed for its record)."""
    doc = ctx.record([HostOutcome.of(result)])
    warnings = []
    try:
        append(resolve_path(audit_log, fleet.audit_log, fleet.base_dir), doc)
    except GwctlError as exc:
        warnings.append(f"{exc}: this change is NOT in the audit log")
    written = {result.host} if result.event_written else set()
    warnings += write_host_events(doc, [target.host], transports, workers=1, written=written)
    return warnings


__all__ = ["context", "record"]

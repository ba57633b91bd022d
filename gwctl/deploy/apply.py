"""Applying a plan to one gateway: nothing on a host is ever left half-written.

Per gateway: take the host lock -> check the live files are still what the plan saw
(no lost update) -> back up -> write atomically (temp file + replace, on the host) ->
recycle the app pool only if appsettings changed (nlog.config reloads itself) -> health
check through that gateway -> on failure restore the backups, recycle, re-check.
The lock is released in every case; if the connection itself broke, a fresh one is
opened to release it (a lock that still cannot be released expires by its TTL).
"""

from __future__ import annotations

import getpass
import logging
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from gwctl.deploy.gateway_plan import FileChange, GatewayPlan
from gwctl.deploy.health import HealthSettings, check
from gwctl.errors import GwctlError, OperationError, TransportError
from gwctl.fleet.model import APP_POOL
from gwctl.hosts.targets import Target, TransportFactory
from gwctl.output import redact
from gwctl.transport.base import Transport

if TYPE_CHECKING:
    from gwctl.deploy.gate import GateDecision

log = logging.getLogger("gwctl.deploy.apply")

LOCK_PATH = r"C:\ProgramData\gwctl\apply.lock"
LOCK_TTL_S = 900
BACKUPS_KEPT = 10

Outcome = Literal["unchanged", "changed", "rolled back", "failed", "skipped"]


@dataclass
class ApplyOptions:
    health: HealthSettings = field(default_factory=HealthSettings)
    lock_ttl_s: int = LOCK_TTL_S
    backups_kept: int = BACKUPS_KEPT
    owner: str = field(default_factory=lambda: (
        f"{getpass.getuser()}@{socket.gethostname()} pid {os.getpid()}"))
    #: the version gate (gwctl.deploy.gate.ApplyGate), asked before a gateway is touched
    gate: Callable[[Target, GatewayPlan], GateDecision] | None = None


@dataclass
class GatewayResult:
    gateway: str
    host: str
    outcome: Outcome
    detail: str = ""
    recycled: bool = False
    steps: list[str] = field(default_factory=list)
    #: the version gate's decision (GateDecision.to_json), when a gate was asked
    version_gate: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data = {"gateway": self.gateway, "host": self.host, "outcome": self.outcome,
                "detail": self.detail, "recycled": self.recycled, "steps": self.steps}
        if self.version_gate is not None:
            data["version_gate"] = self.version_gate
        return data


class _Failed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)


def apply_gateway(target: Target, plan: GatewayPlan, transports: TransportFactory,
                  options: ApplyOptions) -> GatewayResult:
    result = GatewayResult(plan.gateway, target.name, "unchanged")
    changes = [f for f in plan.files if f.action != "unchanged"]
    if plan.error:
        result.outcome, result.detail = "failed", plan.error
        return result
    if not changes:
        return result
    if options.gate is not None and not _gate(target, plan, options.gate, result):
        return result
    with_host_lock(target, transports, options, result,
                   lambda t: _run(target, plan, changes, t, options, result))
    return result


def with_host_lock(target: Target, transports: TransportFactory, options: ApplyOptions,
                   result: GatewayResult, work: Callable[[Transport], None]) -> None:
    """Run `work` on a transport to the host while holding the host lock.

    A `GwctlError` from taking the lock or from `work` marks `result` failed. The lock is
    released in every case (over a fresh connection if this one broke).
    """
    # chosen here, not by the host: if the answer to lock_acquire is lost, the same token
    # both re-acquires (finding we hold it) and releases the lock
    token = secrets.token_hex(16)
    transport = transports(target.host)
    try:
        try:
            _lock(transport, token, options, result)
        except TransportError:
            transport.close()
            transport = transports(target.host)
            _lock(transport, token, options, result)
        work(transport)
    except GwctlError as exc:
        result.outcome = "failed"
        result.detail = redact.scrub(str(exc))
    finally:
        _release(target, transport, transports, token, result)


def _gate(target: Target, plan: GatewayPlan,
          gate: Callable[[Target, GatewayPlan], GateDecision], result: GatewayResult) -> bool:
    """Ask the version gate; False (outcome skipped, nothing touched) when it refuses."""
    try:
        decision = gate(target, plan)
    except GwctlError as exc:
        result.outcome = "skipped"
        result.detail = f"version gate: {redact.scrub(str(exc))}"
        return False
    result.version_gate = decision.to_json()
    if decision.blocks:
        result.outcome = "skipped"
        result.detail = (f"refused by the version gate: {decision.summary()} "
                         "(--allow-version-mismatch overrides)")
        return False
    if decision.overridden:
        log.warning("%s: pushing despite the version gate (--allow-version-mismatch): %s",
                    target.name, decision.summary())
        result.steps.append("version gate overridden")
    return True


def _lock(transport: Transport, token: str, options: ApplyOptions,
          result: GatewayResult) -> None:
    try:
        transport.run("lock_acquire", {"path": LOCK_PATH, "owner": options.owner,
                                       "ttl_seconds": options.lock_ttl_s, "token": token})
    except OperationError as exc:
        if exc.code == "locked":
            holder = getattr(exc, "detail", None) or {}
            who = holder.get("owner", "another apply") if isinstance(holder, dict) else holder
            until = holder.get("expires_at", "?") if isinstance(holder, dict) else "?"
            raise OperationError(f"host is locked by {who} (until {until})",
                                 code="locked") from None
        raise
    result.steps.append("locked")


def _run(target: Target, plan: GatewayPlan, changes: list[FileChange], transport: Transport,
         options: ApplyOptions, result: GatewayResult) -> None:
    gw = target.gateway
    now = transport.run("stat", {"paths": [c.path for c in changes]}).get("files") or {}
    for change in changes:
        live = now.get(change.path) or {}
        if (live.get("sha256") or None) != (change.old_sha256 or None):
            raise OperationError(f"{change.name} changed on the host since the plan was made; "
                                 "run diff again", code="conflict")
    result.steps.append("verified")
    backups: list[tuple[FileChange, str]] = []
    for change in changes:
        b = transport.run("backup", {"path": change.path, "backup_dir": gw.backup_dir,
                                     "keep": options.backups_kept})
        backups.append((change, str(b["backup_id"])))
    result.steps.append("backed up")
    try:
        for change in changes:
            transport.run("write_file", {"path": change.path, "sha256": change.new_sha256,
                                         "expected_sha256": change.old_sha256 or "absent"},
                          plan.payloads[change.name])
            result.steps.append(f"wrote {change.name}")
        if plan.needs_recycle:
            transport.run("recycle_app_pool", {"name": APP_POOL})
            result.recycled = True
            result.steps.append("recycled")
        health = check(target.url, options.health)
        if not health.ok:
            raise _Failed(f"health check failed: {health.detail}")
        result.steps.append("healthy")
        result.outcome = "changed"
    except (_Failed, GwctlError) as exc:
        reason = redact.scrub(str(exc))
        log.warning("%s: %s; rolling back", target.name, reason)
        _rollback(target, transport, backups, plan.needs_recycle, options, result, reason)


def _rollback(target: Target, transport: Transport, backups: list[tuple[FileChange, str]],
              recycle: bool, options: ApplyOptions, result: GatewayResult, reason: str) -> None:
    gw = target.gateway
    try:
        for change, backup_id in backups:
            transport.run("restore", {"path": change.path, "backup_dir": gw.backup_dir,
                                      "backup_id": backup_id})
        result.steps.append("restored")
        if recycle:
            transport.run("recycle_app_pool", {"name": APP_POOL})
            result.steps.append("recycled")
        health = check(target.url, options.health)
    except GwctlError as exc:
        result.outcome = "failed"
        result.detail = f"{reason}; rollback failed: {redact.scrub(str(exc))}"
        return
    result.outcome = "rolled back"
    result.detail = reason + ("" if health.ok else
                              f"; after rollback still unhealthy: {health.detail}")
    if not health.ok:
        result.outcome = "failed"


def _release(target: Target, transport: Transport, transports: TransportFactory,
             token: str, result: GatewayResult) -> None:
    if "locked" not in result.steps and result.detail.startswith("host is locked by"):
        transport.close()
        return
    for attempt in (transport, None):
        try:
            t = attempt or transports(target.host)
            with t:
                answer = t.run("lock_release", {"path": LOCK_PATH, "token": token})
            if answer.get("released"):
                result.steps.append("unlocked")
            return
        except OperationError as exc:
            # not_owner: the lock is someone else's (ours expired and was taken over)
            log.debug("%s: releasing the lock: %s", target.name, exc)
            return
        except GwctlError as exc:
            log.debug("%s: releasing the lock: %s", target.name, exc)
    result.steps.append("lock left to expire")


Apply = Callable[[Target, GatewayPlan], GatewayResult]

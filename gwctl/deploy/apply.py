"""Applying a plan to one gateway: nothing on a host is ever left half-written.

Per gateway, in one remote command: take the host lock -> back up each changed file,
each backup refusing when the live file is no longer what the plan read (the lost-update
check runs on the host, under the lock, before anything is copied or written) -> mark
the activation pending (refused when the record is not the one the plan read) -> write
atomically (temp file + replace, on the host) -> recycle the app pool only if
appsettings changed (nlog.config reloads itself). Then a health check through that
gateway -> mark the activation done and release the lock (one more command); on failure
restore the files from before the apply, recycle, re-check. The backups of one apply
share one id, chosen here, so that rollback finds them as a set. An activation left
pending by an apply that was cut short is completed by the next apply even when no byte
differs (`gwctl.deploy.activation`). The first command writes, so it is never sent twice
(`gwctl.deploy.hostlock.with_host_lock`): when its exchange breaks, the apply rolls back
under its record. The lock is released in every case; if the connection itself broke, a
fresh one is opened to release it (a lock that still cannot be released expires by its
TTL).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gwctl.deploy.activation import ACTIVATION_PATH, Activation, now_text
from gwctl.deploy.gateway_plan import FileChange, GatewayPlan
from gwctl.deploy.health import HealthSettings, check, health_for
from gwctl.deploy.hostlock import LOCK_PATH, LOCK_TTL_S, HostLock, owner_name, with_host_lock
from gwctl.deploy.results import GatewayResult, Outcome
from gwctl.errors import CredentialsExpired, GwctlError, OperationError
from gwctl.fleet.model import APP_POOL
from gwctl.hosts.targets import Target, TransportFactory
from gwctl.ops.backups import backup_id_at
from gwctl.ops.batch import BatchError, Step
from gwctl.output import redact
from gwctl.transport.base import Transport

if TYPE_CHECKING:
    from gwctl.deploy.gate import GateDecision

log = logging.getLogger("gwctl.deploy.apply")

__all__ = ["LOCK_PATH", "ApplyOptions", "GatewayResult", "Outcome", "activation_step",
           "apply_gateway", "finish", "mark_activation"]

BACKUPS_KEPT = 10

@dataclass
class ApplyOptions:
    #: each check logs on as the host's own health user where its inventory names one
    #: (`health_for`), else with these credentials
    health: HealthSettings = field(default_factory=HealthSettings)
    lock_ttl_s: int = LOCK_TTL_S
    backups_kept: int = BACKUPS_KEPT
    owner: str = field(default_factory=owner_name)
    #: the version gate (gwctl.deploy.gate.ApplyGate), asked before a gateway is touched
    gate: Callable[[Target, GatewayPlan], GateDecision] | None = None
    #: told (gateway id, what it is doing now) before each slow step, for progress displays
    on_step: Callable[[str, str], None] | None = None
    #: the audit record of a gateway just changed, as its host's ``write_event`` step: sent
    #: last in the command that marks the activation done and releases the lock (None:
    #: no event is written by the apply)
    audit_event: Callable[[GatewayResult], Step | None] | None = None

    def step(self, gateway: str, doing: str) -> None:
        if self.on_step is not None:
            self.on_step(gateway, doing)


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
    if plan.blockers:
        # a plan that cannot take effect must not end in "applied" (nothing is written)
        result.outcome = "failed"
        result.detail = "; ".join(f"{c.message}; remedy: {c.remedy}" for c in plan.blockers)
        return result
    if not changes and plan.pending is None:
        return result
    if options.gate is not None and not _gate(target, plan, options.gate, result):
        return result
    activate = _Activation.of(target, plan, changes, options, result)
    options.step(target.gateway.id, activate.doing())
    with_host_lock(target, transports, options.owner, options.lock_ttl_s, result,
                   lambda t, found, lock: _activated(target, activate, t, lock, options,
                                                     result),
                   first=activate.steps(),
                   recover=lambda t, exc, lock: _not_activated(target, activate, t, exc,
                                                               lock, options, result))
    return result


def _gate(target: Target, plan: GatewayPlan,
          gate: Callable[[Target, GatewayPlan], GateDecision], result: GatewayResult) -> bool:
    """Ask the version gate; False (outcome skipped, nothing touched) when it refuses."""
    try:
        decision = gate(target, plan)
    except GwctlError as exc:
        result.outcome = "skipped"
        result.detail = f"version gate: {redact.scrub(str(exc))}"
        result.credentials_expired = isinstance(exc, CredentialsExpired)
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


@dataclass(frozen=True)
class _Activation:
    """The command that applies a plan, sent with the lock_acquire: backups of the changed
    files (each refusing when the file is no longer what the plan read), the activation
    record *pending* (refusing when the record is not the one the plan read), the atomic
    writes, the recycle. Backups come first so that no write happens, and no record
    names restore points, unless every file is still as planned."""

    changes: list[FileChange]
    backups: list[Step]
    record: Activation
    marker: str
    mark: Step
    writes: list[Step]
    recycle: list[Step]

    @staticmethod
    def of(target: Target, plan: GatewayPlan, changes: list[FileChange],
           options: ApplyOptions, result: GatewayResult) -> _Activation:
        gw = target.gateway
        # one id for every backup of this apply: rollback finds the set by it
        backup_id = backup_id_at(datetime.now(UTC))
        pending = plan.pending
        if pending is not None:
            log.warning("%s: completing an interrupted activation: %s", target.name,
                        pending.describe())
            result.steps.append("completing interrupted activation")
        # the restore points of an interrupted apply are the files from before it began:
        # the last ones known to pass a health check, never the half-written state now
        points = dict(pending.restore_points) if pending else {}
        for change in changes:
            points.setdefault(change.name, backup_id)
        gate_said = result.version_gate or {}
        installed = (gate_said.get("gateway_version")
                     if str(gate_said.get("gateway_source", "")).startswith("installed")
                     else None)
        record = Activation("pending", gw.id, options.owner, now_text(), "apply",
                            plan.needs_recycle, points,
                            product_version=str(installed) if installed else None,
                            base_sha256=None if plan.base_sha256 == "absent"
                            else plan.base_sha256)
        marker, mark = activation_step(record, plan.activation_sha256)
        backups = [Step("backup", {"path": c.path, "backup_dir": gw.backup_dir,
                                   "keep": options.backups_kept, "backup_id": backup_id,
                                   "expected_sha256": c.old_sha256 or "absent"})
                   for c in changes]
        writes = [Step("write_file", {"path": c.path, "sha256": c.new_sha256,
                                      "expected_sha256": c.old_sha256 or "absent"},
                       plan.payloads[c.name]) for c in changes]
        recycle = ([Step("recycle_app_pool", {"name": APP_POOL})] if plan.needs_recycle
                   else [])
        return _Activation(changes, backups, record, marker, mark, writes, recycle)

    def steps(self) -> list[Step]:
        return [*self.backups, self.mark, *self.writes, *self.recycle]

    def doing(self) -> str:
        what = ([f"backing up and writing {', '.join(c.name for c in self.changes)}"]
                if self.changes else [])
        return ", ".join(what + ["recycling the app pool"] * bool(self.recycle)) or "activating"

    def wrote(self, writes_done: int) -> list[str]:
        return [f"wrote {c.name}" for c in self.changes[:writes_done]]


def _not_activated(target: Target, activate: _Activation, transport: Transport,
                   exc: GwctlError, lock: HostLock, options: ApplyOptions,
                   result: GatewayResult) -> None:
    """The apply's command failed after taking the lock, or its exchange broke."""
    if isinstance(exc, CredentialsExpired):
        raise exc  # refused at logon: nothing ran, and every further host fails alike
    if not isinstance(exc, BatchError):
        # which steps ran is unknown (never sent again: it writes): the record may be
        # there, so roll back under it; without it, the guarded record refuses
        _fail_and_roll_back(target, transport, activate.record, activate.marker, lock,
                            options, result, exc)
        return
    # the step after the lock_acquire that failed, counted within `activate.steps()`
    failed = exc.index - 1
    if failed < len(activate.backups):
        if exc.code == "conflict":
            name = activate.changes[failed].name
            raise OperationError(f"{name} changed on the host since the plan was made; run "
                                 "diff again", code="conflict") from None
        raise exc  # nothing written, no record: the lock release is all that is left
    result.backups = dict(activate.record.restore_points)
    if activate.changes:
        result.steps.append("backed up")
    if failed == len(activate.backups):
        if exc.code == "conflict":
            raise OperationError("another apply or rollback ran on the host since the plan "
                                 "was made; run diff again", code="conflict") from None
        raise exc  # the record was not written: nothing changed, nothing to roll back
    result.steps += activate.wrote(failed - len(activate.backups) - 1)
    _fail_and_roll_back(target, transport, activate.record, activate.marker, lock, options,
                        result, exc)


def _activated(target: Target, activate: _Activation, transport: Transport, lock: HostLock,
               options: ApplyOptions, result: GatewayResult) -> None:
    """The apply's command ran: health-check, then mark the activation done."""
    result.steps.append("verified")
    result.backups = dict(activate.record.restore_points)
    if activate.changes:
        result.steps.append("backed up")
    result.steps += activate.wrote(len(activate.changes))
    if activate.recycle:
        result.recycled = True
        result.steps.append("recycled")
    record, marker = activate.record, activate.marker
    try:
        options.step(target.gateway.id,
                     f"waiting for the health check (up to {options.health.timeout_s:g} s)")
        health = check(target.url, health_for(options.health, target.host.vars))
        if not health.ok:
            raise _Failed(f"health check failed: {health.detail}")
        result.steps.append("healthy")
        # set first: the audit event sent with the last command reports it
        result.outcome = "changed"
        event = options.audit_event(result) if options.audit_event is not None else None
        finish(transport, replace(record, state="active", at=now_text()), marker, lock,
               result, also=[event] if event is not None else [])
    except (_Failed, GwctlError) as exc:
        _fail_and_roll_back(target, transport, record, marker, lock, options, result, exc)


def activation_step(record: Activation, expected: str) -> tuple[str, Step]:
    """The write of the host's activation record over the one whose digest is `expected`
    ("absent": none), and the new digest (the next write's guard)."""
    data = record.encode()
    digest = hashlib.sha256(data).hexdigest()
    return digest, Step("write_file", {"path": ACTIVATION_PATH, "sha256": digest,
                                       "expected_sha256": expected}, data)


def mark_activation(transport: Transport, record: Activation, expected: str) -> str:
    """Write the host's activation record over the one whose digest is `expected`
    ("absent": none); the new digest, the next write's guard."""
    digest, step = activation_step(record, expected)
    transport.run(step.op, step.params, step.payload)
    return digest


def finish(transport: Transport, done: Activation, marker: str, lock: HostLock,
           result: GatewayResult, also: Sequence[Step] = ()) -> None:
    """Mark the activation done and release the lock, in one command; `also` (the audit
    event) runs after them, so that its failure can never keep a lock or a pending record.

    A failing record write raises (the lock is then released separately); a release that
    fails once the record is written is left as `with_host_lock` leaves it.
    """
    _, mark = activation_step(done, marker)
    try:
        answers = transport.run_batch([mark, lock.release_step(), *also])
    except BatchError as exc:
        if exc.index == 0:
            raise
        lock.released = True
        if exc.index == 1:
            # not_owner: our lock expired and was taken over; nothing of ours to release
            log.debug("%s: releasing the lock: %s", transport.name, exc)
            return
        if exc.results[1].get("released"):
            result.steps.append("unlocked")
        # the event is written again after the run (and a warning printed if it fails)
        log.debug("%s: %s", transport.name, exc)
        return
    lock.released = True
    if answers[1].get("released"):
        result.steps.append("unlocked")
    result.event_written = bool(also)


def _fail_and_roll_back(target: Target, transport: Transport, record: Activation, marker: str,
                        lock: HostLock, options: ApplyOptions, result: GatewayResult,
                        exc: Exception) -> None:
    reason = redact.scrub(str(exc))
    log.warning("%s: %s; rolling back", target.name, reason)
    _rollback(target, transport, record, marker, lock, options, result, reason)


def _rollback(target: Target, transport: Transport, record: Activation, marker: str,
              lock: HostLock, options: ApplyOptions, result: GatewayResult,
              reason: str) -> None:
    gw = target.gateway
    options.step(gw.id, "rolling back")
    try:
        # still pending until the restored files pass the health check: a rollback cut
        # short must not leave the host looking settled
        marker, mark = activation_step(replace(record, step="rollback", at=now_text()),
                                       marker)
        restores = [Step("restore", {"path": gw.install_path(name),
                                     "backup_dir": gw.backup_dir, "backup_id": backup_id})
                    for name, backup_id in sorted(record.restore_points.items())]
        recycle = [Step("recycle_app_pool", {"name": APP_POOL})] if record.recycle else []
        transport.run_batch([mark, *restores, *recycle])
        result.steps.append("restored")
        if record.recycle:
            result.steps.append("recycled")
        health = check(target.url, health_for(options.health, target.host.vars))
        if health.ok:
            done = replace(record, state="active", step="rollback", at=now_text())
            finish(transport, done, marker, lock, result)
    except GwctlError as exc:
        result.outcome = "failed"
        result.detail = f"{reason}; rollback failed: {redact.scrub(str(exc))}"
        return
    result.outcome = "rolled back"
    result.detail = reason + ("" if health.ok else
                              f"; after rollback still unhealthy: {health.detail}")
    if not health.ok:
        result.outcome = "failed"


Apply = Callable[[Target, GatewayPlan], GatewayResult]

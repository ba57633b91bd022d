"""Rolling a gateway back to the files it had before the last apply.

The backups an apply takes of its files share one id, the apply's (chosen by the
engine, after every backup already on the host); rollback restores the files whose newest
signed backup carries the newest such id -- the set of the most recent apply. The current
files are backed up first (as a set of the rollback's own id), so a rollback can itself
be rolled back. Then the app pool is
recycled (when appsettings changed) and the gateway health-checked. Like an apply, a
rollback marks the host's activation pending before it restores anything and done only
after the health check passed (`gwctl.deploy.activation`). When the host's activation is
pending (an apply or a rollback was cut short), rollback goes to that record's restore
points -- the files from before the interrupted run -- instead of the newest backups,
which may be copies of the half-written state.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from gwctl.deploy.activation import ACTIVATION_PATH, Activation, now_text, parse
from gwctl.deploy.apply import ApplyOptions, activation_step, finish
from gwctl.deploy.health import check, health_for
from gwctl.deploy.hostlock import HostLock, with_host_lock
from gwctl.deploy.results import GatewayResult
from gwctl.errors import InputError
from gwctl.fleet.model import APP_POOL
from gwctl.hosts.targets import Target, TransportFactory
from gwctl.ops.backups import backup_id_at
from gwctl.ops.batch import Step
from gwctl.render.files import APPSETTINGS, NLOG
from gwctl.transport.base import Transport
from gwctl.versions.discovery import host_discovery, versions_params
from gwctl.versions.release import Version

log = logging.getLogger("gwctl.deploy.rollback")

MANAGED = (APPSETTINGS, NLOG)


@dataclass(frozen=True)
class Chosen:
    name: str
    path: str
    backup_id: str
    created: datetime


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _listing(gw_path: str, backup_dir: str) -> Step:
    return Step("list_backups", {"path": gw_path, "backup_dir": backup_dir})


def choose_backups(transport: Transport, target: Target,
                   listed: list[dict[str, Any]] | None = None) -> list[Chosen]:
    """The backup set of the most recent apply, from the `listed` answers of list_backups for
    each of `MANAGED` (asked here when not given)."""
    gw = target.gateway
    if listed is None:
        listed = [transport.run(s.op, s.params)
                  for s in (_listing(gw.install_path(n), gw.backup_dir) for n in MANAGED)]
    newest: list[Chosen] = []
    for name, found in zip(MANAGED, listed, strict=True):
        path = gw.install_path(name)
        backups = found.get("backups") or []
        for foreign in [b for b in backups if not b.get("verified")]:
            # planted, altered, or older than signed backups: never a rollback target
            log.warning("%s: skipping backup %s of %s: not signed by gwctl on this host",
                        target.name, foreign.get("backup_id"), name)
        backups = [b for b in backups if b.get("verified")]
        if backups:
            b = backups[0]
            newest.append(Chosen(name, path, str(b["backup_id"]), _parse(str(b["created"]))))
    if not newest:
        return []
    latest = max(c.backup_id for c in newest)
    return [c for c in newest if c.backup_id == latest]


def _installed_release(target: Target, answer: dict[str, Any]) -> Version | None:
    """The gateway's release from a ``read_versions`` answer (None: not known), read as
    version discovery reads every such answer."""
    reading = host_discovery(target, None, answer, 0.0).reading
    return reading.version if reading is not None else None


def cross_version(record: Activation | None, installed: Version | None) -> str | None:
    """Why the last apply's backups belong to another release than the installed one."""
    if record is None or record.product_version is None or installed is None:
        return None
    try:
        then = Version.parse(record.product_version.split(" (", 1)[0])
    except InputError:
        return None
    if then.same_release(installed):
        return None
    return (f"the backups were taken under {record.product_version}, the gateway now runs "
            f"{installed.name} ({installed.full}): restoring them would put overrides "
            f"reviewed for {then.name} under {installed.name}'s appsettings.json; undo the "
            "upgrade instead, or pass --force to restore them anyway")


def rollback_gateway(target: Target, transports: TransportFactory,
                     options: ApplyOptions, *, force: bool = False) -> GatewayResult:
    """`force`: restore backups taken under another release than the installed one."""
    result = GatewayResult(target.gateway.id, target.name, "unchanged")
    gw = target.gateway
    changed: list[str] = []
    # with the lock, in its command: the record, both listings and the installed version
    # (all read-only), so that the choice below costs no further round trip
    first = [Step("stat", {"paths": [ACTIVATION_PATH], "content": True}),
             *[_listing(gw.install_path(n), gw.backup_dir) for n in MANAGED],
             Step("read_versions", versions_params(gw, None))]

    def restore(t: Transport, answers: list[dict[str, Any]], lock: HostLock) -> None:
        found = (answers[0].get("files") or {}).get(ACTIVATION_PATH) or {}
        record = parse(base64.b64decode(found["content_b64"])
                       if found.get("exists") and found.get("content_b64") else None)
        if record is not None and record.pending and record.restore_points:
            # an apply or rollback was cut short: finish going back to the files from
            # before it, not to the backups it took of the half-written state
            chosen = [Chosen(n, gw.install_path(n), i, datetime.min)
                      for n, i in sorted(record.restore_points.items())]
            result.steps.append(f"resuming the interrupted {record.step} of "
                                f"{record.owner or 'an unknown run'}")
        else:
            chosen = choose_backups(t, target, answers[1:-1])
        if not chosen:
            result.outcome, result.detail = "failed", "no backups to roll back to"
            return
        installed = _installed_release(target, answers[-1])
        why = cross_version(record, installed)
        if why is not None and not force:
            result.outcome, result.detail = "failed", why
            return
        if why is not None and record is not None:
            result.steps.append(f"restoring backups of {record.product_version} on another "
                                "release (--force)")
        pending = Activation("pending", gw.id, options.owner, now_text(), "rollback",
                             any(c.name == APPSETTINGS for c in chosen),
                             {c.name: c.backup_id for c in chosen},
                             product_version=(f"{installed.name} ({installed.full})"
                                              if installed is not None else None))
        result.backups = {c.name: c.backup_id for c in chosen}
        marker, mark = activation_step(pending, found.get("sha256") or "absent")
        # one command: the record, backups of the current files (so that a rollback can
        # itself be rolled back), the restores, the recycle
        backup_id = backup_id_at(datetime.now(UTC))
        backups = [Step("backup", {"path": c.path, "backup_dir": gw.backup_dir,
                                   "keep": options.backups_kept, "backup_id": backup_id})
                   for c in chosen]
        restores = [Step("restore", {"path": c.path, "backup_dir": gw.backup_dir,
                                     "backup_id": c.backup_id}) for c in chosen]
        recycle = [Step("recycle_app_pool", {"name": APP_POOL})] if pending.recycle else []
        answers = t.run_batch([mark, *backups, *restores, *recycle])
        for c, r in zip(chosen, answers[1 + len(backups):], strict=False):
            result.steps.append(f"restored {c.name} from {c.backup_id}")
            if r.get("changed"):
                changed.append(c.name)
        if pending.recycle:
            result.recycled = True
        health = check(target.url, health_for(options.health, target.host.vars))
        if not health.ok:
            result.outcome, result.detail = "failed", f"after rollback: {health.detail}"
            return
        resumed = record is not None and record.pending
        # known before the last command, so that its audit event can report it
        result.outcome = "rolled back" if changed or resumed else "unchanged"
        result.detail = ", ".join(s for s in result.steps if s.startswith("restored"))
        event = (options.audit_event(result)
                 if options.audit_event is not None and result.outcome != "unchanged"
                 else None)
        finish(t, replace(pending, state="active", at=now_text()), marker, lock, result,
               also=[event] if event is not None else [])

    with_host_lock(target, transports, options.owner, options.lock_ttl_s, result, restore,
                   first=first)
    return result

"""What apply, rollback and unlock share about *who may change what, when*: the change
reference, the maintenance windows, and the audit record written when they finish.

Rollback and unlock are never held to maintenance windows: they are how an operator
gets a broken gateway back, or frees a host a dead run left locked, and an incident
does not wait for the next window. They are audited like apply, and need a change
reference where the site requires one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from gwctl.errors import GwctlError, UsageError

if TYPE_CHECKING:
    from gwctl.deploy.audit import AuditContext, HostOutcome
    from gwctl.deploy.results import GatewayResult
    from gwctl.fleet.model import Fleet
    from gwctl.hosts.inventory import InventoryHost
    from gwctl.ops.batch import Step


class OutsideWindow(GwctlError):
    """An apply outside every maintenance window of a site it would change (exit 1)."""


def utc_now() -> datetime:
    """The clock every window decision reads (tests replace it)."""
    return datetime.now(UTC)


def add_audit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--change-ref", metavar="REF",
                   help="the change or ticket this run belongs to, recorded in the audit "
                        "log (required where a site sets change_ref_required)")
    p.add_argument("--audit-log", metavar="PATH",
                   help="append the audit record here (default: $GWCTL_AUDIT_LOG, the "
                        "fleet's defaults.audit_log, else $XDG_STATE_HOME/gwctl/audit.jsonl)")


def add_window_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--outside-window", metavar="REASON",
                   help="apply even outside a site's maintenance windows; REASON is "
                        "recorded in the audit log")


def require_change_ref(ns: argparse.Namespace, fleet: Fleet, sites: Iterable[str]) -> None:
    needing = sorted(s for s in set(sites) if fleet.site(s).policy.change_ref_required)
    ref = (getattr(ns, "change_ref", None) or "").strip()
    if needing and not ref:
        raise UsageError(f"site {', '.join(needing)} requires a change reference "
                         "(change_ref_required in the fleet): pass --change-ref REF")


def check_windows(ns: argparse.Namespace, fleet: Fleet, sites: Iterable[str],
                  human: TextIO) -> None:
    """Refuse (OutsideWindow) when a site is outside its windows, unless --outside-window
    gives a reason; then print what is overridden."""
    from gwctl.fleet.maintenance import check_windows as verdicts

    reason = getattr(ns, "outside_window", None)
    if reason is not None and not reason.strip():
        raise UsageError("--outside-window needs a reason (it is recorded in the audit log)")
    now = utc_now()
    closed = [v for v in verdicts({s: fleet.site(s).policy for s in set(sites)}, now)
              if not v.allowed]
    if not closed:
        return
    if reason is None:
        raise OutsideWindow("; ".join(v.message for v in closed)
                            + ". Nothing applied: wait for the window, or pass "
                              "--outside-window REASON (audited)")
    for v in closed:
        print(f"WARNING: {v.message}; applying anyway (--outside-window: {reason})",
              file=human, flush=True)


def audit_context(ns: argparse.Namespace, action: str, fleet: Fleet | None,
                  hosts: Sequence[InventoryHost], fleet_path: str | None) -> AuditContext:
    from gwctl.deploy.audit import AuditContext, kerberos_principal

    sha = None
    if fleet is not None:
        from gwctl.deploy.saved_plan import fleet_digest

        sha = fleet_digest(fleet)
    return AuditContext(
        action=action, fleet_path=fleet_path, fleet_sha256=sha,
        change_ref=(getattr(ns, "change_ref", None) or None),
        outside_window=getattr(ns, "outside_window", None),
        kerberos_principal=kerberos_principal([h.vars for h in hosts],
                                              [h.name for h in hosts]),
        plan_file=getattr(ns, "plan", None))


def write_audit(ns: argparse.Namespace, ctx: AuditContext, fleet: Fleet | None,
                outcomes: Sequence[HostOutcome], exit_code: int | None,
                error: str | None = None,
                hosts: Sequence[InventoryHost] = (),
                written: Collection[str] = ()) -> dict[str, Any]:
    """Append the record to the controller's audit log, then write it into the event
    logs of `hosts` the run touched (but those in `written`, whose event went with the
    apply's last command); returns it."""
    from gwctl.deploy.audit import append, resolve_path, write_host_events
    from gwctl.hosts.targets import open_transport

    if error is not None:
        ctx.extra["error"] = error
    record = ctx.record(outcomes, exit_code=exit_code)
    path = resolve_path(getattr(ns, "audit_log", None),
                        fleet.audit_log if fleet is not None else None,
                        fleet.base_dir if fleet is not None else None)
    try:
        append(path, record)
    except GwctlError as exc:
        # the run happened: say loudly that its record is missing, do not hide its outcome
        print(f"WARNING: {exc}: this run is NOT in the audit log", file=sys.stderr)
    for warning in write_host_events(record, hosts, open_transport, written=written):
        print(f"WARNING: {warning}", file=sys.stderr)
    return record


def audit_event(ctx: AuditContext) -> Callable[[GatewayResult], Step]:
    """The host's ``write_event`` step for a gateway just changed
    (`gwctl.deploy.audit.event_builder`, shared with the Ansible role)."""
    from gwctl.deploy.audit import event_builder

    return event_builder(ctx)

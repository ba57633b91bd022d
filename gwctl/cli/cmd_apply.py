"""Apply the fleet to its gateways safely.

Shows the plan (as `gwctl diff` does) and asks for confirmation unless --yes; without a
terminal on stdin it refuses unless --yes is given. Then, per gateway, in rolling order
(--canary gateways one at a time, then --batch at a time): take the host lock, check the
live files are unchanged since the plan, back up, write atomically, recycle the app pool
if appsettings changed, health-check through the gateway, and roll back automatically
when that fails. The rollout stops when more than --max-failures gateways failed.
A second apply with nothing to change changes nothing and recycles nothing.
Version gate: a gateway whose installed (else declared) version differs from its
management server's (2023 R3 and later), or lacks a feature its rendered configuration
uses, is skipped untouched unless --allow-version-mismatch (logged, and recorded in the
JSON result).
With a saved plan (`gwctl apply PLANFILE`, from `gwctl plan -o PLANFILE`) exactly that
plan is applied: the fleet must be the one planned, and a gateway whose host files,
activation record or rendering changed since the plan is refused (outcome skipped, with
the reason) while the others go ahead.
A whole apply holds a lock per site it touches (on the host of the site's co-located
gateway), from before it plans to its summary: a second apply of the site is refused
naming the holder, or waits --lock-timeout seconds. Each wave (canary, batches) is
announced, and each gateway's slow steps are shown (a live line on a terminal). Ctrl-C
lets the gateways in flight finish, skips the rest and prints the summary (exit 130).
Maintenance windows: a site that declares `maintenance_windows` is changed only inside
one; outside, apply refuses (exit 1) naming the site and the next window's start, unless
--outside-window REASON is given (the reason is audited). A site none of whose gateways
would change is not held to its windows. Where a site sets `change_ref_required`,
--change-ref is required (exit 64 without it).
Audit: every apply that got as far as the hosts appends one JSON line to the audit log
(--audit-log, $GWCTL_AUDIT_LOG, the fleet's defaults.audit_log, else
$XDG_STATE_HOME/gwctl/audit.jsonl): who, from where, the fleet's git commit, the plan
digest, the change reference, the per-host outcome and backup ids.
Exit 0 when every gateway ended unchanged or changed, 1 otherwise."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from gwctl.cli.change_policy import add_audit_options, add_window_option
from gwctl.cli.deploy_common import add_selection_options
from gwctl.errors import EXIT_FAILED, EXIT_OK, GwctlError, UsageError

#: the shell's code for a run ended by SIGINT
EXIT_INTERRUPTED = 130

if TYPE_CHECKING:
    from gwctl.cli.cmd_plan import SavedCheck
    from gwctl.cli.deploy_common import Selection
    from gwctl.deploy.apply import GatewayResult
    from gwctl.deploy.audit import AuditContext, HostOutcome
    from gwctl.deploy.gate import ApplyGate
    from gwctl.deploy.gateway_plan import GatewayPlan
    from gwctl.fleet.model import Fleet
    from gwctl.hosts.targets import Target


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("plan", nargs="?", metavar="PLANFILE",
                   help="apply exactly this saved plan ('gwctl plan -o FILE'); then -f, "
                        "--gateway, --site and --limit come from the plan, -i may override "
                        "its inventory path")
    add_selection_options(p, required=False)
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--canary", type=int, default=1, metavar="N",
                   help="gateways changed one at a time before the batches (default 1)")
    p.add_argument("--batch", default="25%", metavar="N|P%",
                   help="gateways changed at the same time after the canary (default 25%%)")
    p.add_argument("--max-failures", type=int, default=0, metavar="N",
                   help="stop the rollout when more gateways than this failed (default 0)")
    p.add_argument("--health-timeout", type=float, default=30.0, metavar="SECONDS",
                   help="how long a gateway may take to answer after a change (default 30)")
    p.add_argument("--health-user", metavar="USER",
                   help="also take a token and list sites through each gateway as USER "
                        "(password from $GWCTL_HEALTH_PASSWORD); a host's "
                        "gwctl_health_user/_password inventory variables win")
    p.add_argument("--insecure-health-check", action="store_true",
                   help="do not verify the gateways' TLS certificates in health checks")
    p.add_argument("--allow-version-mismatch", action="store_true",
                   help="push even to gateways the version gate refuses (a version unlike "
                        "the management server's, or lacking a feature the configuration "
                        "uses); logged and recorded in the result")
    p.add_argument("--lock-timeout", type=float, default=0.0, metavar="SECONDS",
                   help="wait this long for another apply's site lock (default 0: refuse "
                        "at once, naming the holder)")
    p.add_argument("--verify", action="store_true",
                   help="after a successful apply, run gwctl verify's checks on the selected "
                        "gateways (with --health-user for token, REST and signalling)")
    p.add_argument("--output", choices=("text", "json", "markdown"), default="text",
                   help="text, json (stable) or markdown (a pull-request comment)")
    add_window_option(p)
    add_audit_options(p)


def execute(ns: argparse.Namespace) -> int:
    from gwctl.cli.change_policy import audit_context, require_change_ref, write_audit
    from gwctl.cli.deploy_common import select
    from gwctl.deploy.hostlock import owner_name
    from gwctl.deploy.rollout import parse_batch
    from gwctl.deploy.sitelock import SiteLocks
    from gwctl.hosts.targets import open_transport

    if ns.canary < 0 or ns.max_failures < 0 or ns.lock_timeout < 0:
        raise UsageError("--canary, --max-failures and --lock-timeout must not be negative")
    parse_batch(ns.batch, 100)
    if ns.plan is not None:
        if ns.fleet or ns.gateway or ns.site or ns.limit:
            raise UsageError("a saved plan names its fleet and gateways: do not combine "
                             "PLANFILE with -f, --gateway, --site or --limit")
    elif not ns.fleet or not ns.inventory:
        raise UsageError("give -f FLEET and -i INVENTORY, or a saved plan (gwctl apply "
                         "PLANFILE)")
    if not ns.yes and not sys.stdin.isatty():
        raise UsageError("stdin is not a terminal: pass --yes to apply without confirmation")
    check: SavedCheck | None = None
    if ns.plan is not None:
        from gwctl.cli.cmd_plan import saved_selection

        sel, check = saved_selection(ns)
    else:
        found = select(ns)
        if found is None:
            return EXIT_FAILED
        sel = found
    owner = owner_name()
    sites = {t.gateway.site_name for t in sel.targets}
    require_change_ref(ns, sel.fleet, sites)
    fleet_path = ns.fleet or str(sel.fleet.source.files[0].file)
    # reconcile applies through here, and says so in the record
    action = getattr(ns, "audit_action", "apply")
    ctx = audit_context(ns, action, sel.fleet, [t.host for t in sel.targets], fleet_path)
    outcomes: list[GatewayResult] = []
    try:
        with SiteLocks(sel.fleet, sites, sel.hosts, open_transport, owner,
                       timeout_s=ns.lock_timeout):
            code = _locked(ns, sel, check, owner, ctx, outcomes)
    except GwctlError as exc:
        write_audit(ns, ctx, sel.fleet, _audited(outcomes), exc.exit_code, str(exc),
                    [t.host for t in sel.targets], _in_batch(outcomes))
        raise
    write_audit(ns, ctx, sel.fleet, _audited(outcomes), code, hosts=[t.host for t in sel.targets],
                written=_in_batch(outcomes))
    return code


def _in_batch(results: Sequence[GatewayResult]) -> set[str]:
    """Hosts whose audit event went with their apply's last command."""
    return {r.host for r in results if r.event_written}


def _audited(results: Sequence[GatewayResult]) -> list[HostOutcome]:
    from gwctl.deploy.audit import HostOutcome

    return [HostOutcome.of(r) for r in results]


def _locked(ns: argparse.Namespace, sel: Selection, check: SavedCheck | None,
            owner: str, ctx: AuditContext, outcomes: list[GatewayResult]) -> int:
    """Under the site locks: plan (or check the saved plan), confirm, roll out, report."""
    import os

    from gwctl.cli.change_policy import audit_event, check_windows
    from gwctl.cli.cmd_diff import present
    from gwctl.cli.deploy_common import StepDisplay, progress_printer
    from gwctl.deploy.apply import ApplyOptions, GatewayResult, apply_gateway
    from gwctl.deploy.audit import digest_json
    from gwctl.deploy.fleet_plan import Planner
    from gwctl.deploy.health import HealthSettings
    from gwctl.deploy.rollout import rollout
    from gwctl.fleet.secrets import SecretResolver
    from gwctl.hosts.targets import open_transport
    from gwctl.output import redact

    refused: list[GatewayResult] = []
    if check is not None:
        items, refused = check()
    else:
        # the version gate's read rides on the plan's: one command per unchanged gateway
        planner = Planner(sel.fleet, SecretResolver(sel.fleet.base_dir), workers=ns.workers,
                          with_versions=True)
        fresh = planner.plan_all(sel.targets, progress_printer(len(sel.targets)))
        items = list(zip(sel.targets, fresh, strict=True))
    plans = [p for _, p in items]
    ctx.plan_sha256 = digest_json([p.to_json() for p in plans])
    outcomes.extend(refused)
    human = sys.stdout if ns.output == "text" else sys.stderr
    if ns.output == "text":
        present(plans, "text")
    for r in refused:
        print(f"! {r.gateway} ({r.host}): {r.detail}", file=human)
    for gw, why in sel.missing:
        print(f"! {gw.id}: {why}", file=sys.stderr)
    if not any(p.changed or p.error or p.blockers for p in plans):
        print("nothing to apply", file=human)
        results = refused + [GatewayResult(p.gateway, p.host, "unchanged") for p in plans]
        outcomes[:] = results
        verified = (_verify_after(ns, sel.fleet, sel.targets,
                                  os.environ.get("GWCTL_HEALTH_PASSWORD"))
                    if ns.verify and not sel.missing else None)
        if ns.output != "text":
            _print_doc(ns.output, plans, results, ns.allow_version_mismatch, verified)
        if sel.missing or refused or (verified is not None and not verified["ok"]):
            return EXIT_FAILED
        return EXIT_OK
    check_windows(ns, sel.fleet, {t.gateway.site_name for t, p in items if p.changed}, human)
    gate = _version_gate(ns, sel.fleet, [(t, p) for t, p in items if p.changed and not p.error],
                         human)
    if not ns.yes:
        answer = input("Apply these changes? Only 'yes' is accepted: ")
        if answer.strip() != "yes":
            print("apply cancelled", file=sys.stderr)
            return EXIT_FAILED
    health = HealthSettings(timeout_s=ns.health_timeout,
                            verify_tls=not ns.insecure_health_check,
                            username=ns.health_user,
                            password=os.environ.get("GWCTL_HEALTH_PASSWORD"))
    if health.password:
        redact.register(health.password)
    display = StepDisplay(human)
    options = ApplyOptions(health=health, gate=gate, owner=owner, on_step=display.step,
                           audit_event=audit_event(ctx))

    def one(target: Target, plan: GatewayPlan) -> GatewayResult:
        return apply_gateway(target, plan, open_transport, options)

    def report(res: GatewayResult) -> None:
        if ns.output == "text" and res.outcome != "unchanged":
            display.line(f"  {res.gateway}: {res.outcome}"
                         + (f" ({res.detail})" if res.detail else ""), finished=res.gateway)

    def wave(label: str, gateways: list[str]) -> None:
        display.line(f"{label}: {', '.join(gateways)}")

    with _Interrupts(human) as interrupts:
        try:
            results = refused + rollout(items, one, canary=ns.canary, batch=ns.batch,
                                        max_failures=ns.max_failures, report=report,
                                        on_wave=wave, stop=interrupts.reason)
        finally:
            display.close()
    outcomes[:] = results
    if interrupts.reason() is not None:
        if ns.output == "text":
            print_summary(results)
        else:
            _print_doc(ns.output, plans, results, ns.allow_version_mismatch)
        untouched = sum(r.detail == interrupts.reason() for r in results)
        print(f"interrupted: the gateways in flight were finished, {untouched} were not "
              "started; each host holds its old or its new configuration", file=sys.stderr)
        return EXIT_INTERRUPTED
    bad = [r for r in results if r.outcome in ("failed", "rolled back", "skipped")]
    if ns.output == "text":
        print_summary(results)
    verified = (_verify_after(ns, sel.fleet, sel.targets, health.password)
                if ns.verify and not bad and not sel.missing else None)
    if ns.output != "text":
        _print_doc(ns.output, plans, results, ns.allow_version_mismatch, verified)
    if bad or sel.missing:
        return EXIT_FAILED
    return EXIT_FAILED if verified is not None and not verified["ok"] else EXIT_OK


def _verify_after(ns: argparse.Namespace, fleet: Fleet, targets: Sequence[Target],
                  password: str | None) -> dict[str, Any]:
    """``apply --verify``: the checks of ``gwctl verify`` on the gateways just applied (text
    printed here; json returned for the apply document's ``verify`` member)."""
    from gwctl.cli.cmd_verify import print_reports, run_verify
    from gwctl.verify.run import VerifyOptions, document

    opts = VerifyOptions(user=ns.health_user, password=password,
                         verify_tls=not ns.insecure_health_check)
    reports = run_verify(fleet, targets, opts, ns.workers)
    if ns.output == "text":
        print("verify:")
        print_reports(reports, "text")
    return document(reports)


class _Interrupts:
    """During the rollout, the first Ctrl-C (SIGINT) lets the gateways in flight finish
    -- write, recycle, health check, rollback if needed -- and skips the rest, so that
    the summary can be printed; a second one abandons at once (a gateway cut short keeps
    a pending activation record, which the next apply completes or rolls back)."""

    def __init__(self, human: TextIO) -> None:
        self.human = human
        self._reason: str | None = None
        self._previous: Any = None

    def reason(self) -> str | None:
        return self._reason

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._reason is not None:
            raise KeyboardInterrupt
        self._reason = "interrupted (SIGINT) before this gateway was touched"
        print("\ninterrupt: finishing the gateways in flight, then stopping (Ctrl-C again "
              "abandons them)", file=sys.stderr, flush=True)

    def __enter__(self) -> _Interrupts:
        # a process started with SIGINT ignored (nohup, a script's background job) is meant
        # to be deaf to the terminal's Ctrl-C, as Python itself leaves it then
        if threading.current_thread() is threading.main_thread() and \
                signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _version_gate(ns: argparse.Namespace, fleet: Fleet,
                  items: Sequence[tuple[Target, GatewayPlan]], human: TextIO) -> ApplyGate:
    """The version gate, asked now for every gateway that would change (concurrently),
    so that refusals show before the confirmation; apply_gateway asks it again (cached)."""
    from gwctl.deploy.gate import ApplyGate
    from gwctl.hosts.targets import open_transport
    from gwctl.versions.discovery import HttpSettings

    if ns.allow_version_mismatch:
        print("WARNING: --allow-version-mismatch: the version gate will NOT stop pushes to "
              "gateways whose version differs from their management server's or lacks a "
              "feature the configuration uses", file=sys.stderr, flush=True)
    gate = ApplyGate(fleet, open_transport, allow_mismatch=ns.allow_version_mismatch,
                     http=HttpSettings(verify_tls=not ns.insecure_health_check),
                     workers=ns.workers)
    for d in gate.prefetch([t for t, _ in items], [p for _, p in items]):
        if d.refused:
            verdict = ("refused by the version gate, OVERRIDDEN" if d.overridden
                       else "refused by the version gate, will be skipped")
            print(f"! {d.gateway}: {verdict}: {d.summary()}", file=human, flush=True)
    return gate


def _print_doc(output: str, plans: Sequence[GatewayPlan], results: Sequence[GatewayResult],
               allow_version_mismatch: bool = False,
               verified: dict[str, Any] | None = None) -> None:
    from gwctl.cli.cmd_diff import present

    extra: dict[str, Any] = {"results": [r.to_json() for r in results],
                             "allow_version_mismatch": allow_version_mismatch}
    if verified is not None:
        extra["verify"] = verified
    present(plans, output, extra)


def print_summary(results: Sequence[GatewayResult]) -> None:
    head = ("GATEWAY", "HOST", "OUTCOME", "RECYCLED")
    rows = [(r.gateway, r.host, r.outcome, "yes" if r.recycled else "no") for r in results]
    widths = [max(len(row[i]) for row in (head, *rows)) for i in range(4)]
    for row, res in zip((head, *rows), (None, *results), strict=True):
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
        detail = res.detail if res is not None else "DETAIL"
        print(f"{line}  {detail}".rstrip())

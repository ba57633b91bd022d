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
Exit 0 when every gateway ended unchanged or changed, 1 otherwise."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from gwctl.cli.deploy_common import add_selection_options
from gwctl.errors import EXIT_FAILED, EXIT_OK, UsageError

if TYPE_CHECKING:
    from gwctl.deploy.apply import GatewayResult
    from gwctl.deploy.gate import ApplyGate
    from gwctl.deploy.gateway_plan import GatewayPlan
    from gwctl.fleet.model import Fleet
    from gwctl.hosts.targets import Target


def register(p: argparse.ArgumentParser) -> None:
    add_selection_options(p)
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
                        "(password from $GWCTL_HEALTH_PASSWORD)")
    p.add_argument("--insecure-health-check", action="store_true",
                   help="do not verify the gateways' TLS certificates in health checks")
    p.add_argument("--allow-version-mismatch", action="store_true",
                   help="push even to gateways the version gate refuses (a version unlike "
                        "the management server's, or lacking a feature the configuration "
                        "uses); logged and recorded in the result")
    p.add_argument("--verify", action="store_true",
                   help="after a successful apply, run gwctl verify's checks on the selected "
                        "gateways (with --health-user for token, REST and signalling)")
    p.add_argument("--output", choices=("text", "json"), default="text")


def execute(ns: argparse.Namespace) -> int:
    import os

    from gwctl.cli.cmd_diff import print_plans
    from gwctl.cli.deploy_common import progress_printer, select
    from gwctl.deploy.apply import ApplyOptions, GatewayResult, apply_gateway
    from gwctl.deploy.fleet_plan import Planner
    from gwctl.deploy.health import HealthSettings
    from gwctl.deploy.rollout import parse_batch, rollout
    from gwctl.fleet.secrets import SecretResolver
    from gwctl.hosts.targets import open_transport
    from gwctl.output import redact

    if ns.canary < 0 or ns.max_failures < 0:
        raise UsageError("--canary and --max-failures must not be negative")
    parse_batch(ns.batch, 100)
    if not ns.yes and not sys.stdin.isatty():
        raise UsageError("stdin is not a terminal: pass --yes to apply without confirmation")
    sel = select(ns)
    if sel is None:
        return EXIT_FAILED
    planner = Planner(sel.fleet, SecretResolver(sel.fleet.base_dir), workers=ns.workers)
    plans = planner.plan_all(sel.targets, progress_printer(len(sel.targets)))
    human = sys.stdout if ns.output == "text" else sys.stderr
    if ns.output == "text":
        print_plans(plans)
    for gw, why in sel.missing:
        print(f"! {gw.id}: {why}", file=sys.stderr)
    items = list(zip(sel.targets, plans, strict=True))
    if not any(p.changed or p.error for p in plans):
        print("nothing to apply", file=human)
        verified = (_verify_after(ns, sel.fleet, sel.targets,
                                  os.environ.get("GWCTL_HEALTH_PASSWORD"))
                    if ns.verify and not sel.missing else None)
        if ns.output == "json":
            _print_json(plans, [GatewayResult(p.gateway, p.host, "unchanged") for p in plans],
                        ns.allow_version_mismatch, verified)
        if sel.missing or (verified is not None and not verified["ok"]):
            return EXIT_FAILED
        return EXIT_OK
    gate = _version_gate(ns, sel.fleet, [t for t, p in items if p.changed and not p.error],
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
    options = ApplyOptions(health=health, gate=gate)

    def one(target: Target, plan: GatewayPlan) -> GatewayResult:
        return apply_gateway(target, plan, open_transport, options)

    def report(res: GatewayResult) -> None:
        if ns.output == "text" and res.outcome != "unchanged":
            print(f"  {res.gateway}: {res.outcome}" + (f" ({res.detail})" if res.detail else ""),
                  file=human, flush=True)

    results = rollout(items, one, canary=ns.canary, batch=ns.batch,
                      max_failures=ns.max_failures, report=report)
    bad = [r for r in results if r.outcome in ("failed", "rolled back", "skipped")]
    if ns.output == "text":
        print_summary(results)
    verified = (_verify_after(ns, sel.fleet, sel.targets, health.password)
                if ns.verify and not bad and not sel.missing else None)
    if ns.output == "json":
        _print_json(plans, results, ns.allow_version_mismatch, verified)
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


def _version_gate(ns: argparse.Namespace, fleet: Fleet, targets: Sequence[Target],
                  human: TextIO) -> ApplyGate:
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
    for d in gate.prefetch(list(targets)):
        if d.refused:
            verdict = ("refused by the version gate, OVERRIDDEN" if d.overridden
                       else "refused by the version gate, will be skipped")
            print(f"! {d.gateway}: {verdict}: {d.summary()}", file=human, flush=True)
    return gate


def _print_json(plans: Sequence[GatewayPlan], results: Sequence[GatewayResult],
                allow_version_mismatch: bool = False,
                verified: dict[str, Any] | None = None) -> None:
    from gwctl.cli.cmd_diff import plan_document

    doc = plan_document(plans)
    doc["results"] = [r.to_json() for r in results]
    doc["allow_version_mismatch"] = allow_version_mismatch
    if verified is not None:
        doc["verify"] = verified
    sys.stdout.write(json.dumps(doc, indent=2) + "\n")


def print_summary(results: Sequence[GatewayResult]) -> None:
    head = ("GATEWAY", "HOST", "OUTCOME", "RECYCLED")
    rows = [(r.gateway, r.host, r.outcome, "yes" if r.recycled else "no") for r in results]
    widths = [max(len(row[i]) for row in (head, *rows)) for i in range(4)]
    for row, res in zip((head, *rows), (None, *results), strict=True):
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
        detail = res.detail if res is not None else "DETAIL"
        print(f"{line}  {detail}".rstrip())

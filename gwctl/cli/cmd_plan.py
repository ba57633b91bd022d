"""Plan now, apply later: read every selected host, show what applying would change (as
`gwctl diff` does) and save it to a plan file (-o) for `gwctl apply PLANFILE`.

The plan file holds digests, never secrets: the fleet's digest, per gateway the digests of
the files gwctl would write (secrets as references) and of the files and activation
record on the host when planned, and the masked diffs people review. `gwctl apply
PLANFILE` re-renders from the same fleet (refusing to start if the fleet changed),
re-reads each host, and refuses, per gateway and saying why, any gateway whose files,
activation record or rendering changed since; the others are applied as `gwctl apply`
does. Exit codes as `gwctl diff` (with --detailed-exitcode, 2 when there is drift)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gwctl.cli.deploy_common import add_selection_options
from gwctl.errors import EXIT_FAILED, GwctlError, InputError
from gwctl.output.plans import PLAN_FORMATS

if TYPE_CHECKING:
    from gwctl.cli.deploy_common import Selection
    from gwctl.deploy.gateway_plan import GatewayPlan
    from gwctl.deploy.results import GatewayResult
    from gwctl.hosts.targets import Target


def register(p: argparse.ArgumentParser) -> None:
    add_selection_options(p)
    p.add_argument("-o", "--out", required=True, metavar="FILE",
                   help="write the plan here (JSON; no secrets), for 'gwctl apply FILE'")
    p.add_argument("--detailed-exitcode", action="store_true",
                   help="exit 2 when there is drift (terraform's convention)")
    p.add_argument("--output", choices=PLAN_FORMATS, default="text",
                   help="what to print (as gwctl diff): text, json, markdown (a "
                        "pull-request comment) or github (annotations)")


def execute(ns: argparse.Namespace) -> int:
    from gwctl.cli.cmd_diff import present
    from gwctl.cli.deploy_common import plan_exit_code, plan_selection
    from gwctl.deploy import saved_plan
    from gwctl.hosts.targets import open_transport

    found = plan_selection(ns)
    if found is None:
        return EXIT_FAILED
    sel, pairs = found
    plans = [plan for _, plan in pairs]
    versions = saved_plan.installed_versions(sel.targets, open_transport, ns.workers)
    doc = saved_plan.build(sel.fleet, ns.fleet, ns.inventory,
                           {"gateway": ns.gateway, "site": ns.site, "limit": ns.limit},
                           pairs, versions)
    _write(Path(ns.out), json.dumps(doc, indent=2) + "\n")
    present(plans, ns.output)
    print(f"plan saved to {ns.out}; apply it with: gwctl apply {ns.out}", file=sys.stderr)
    return plan_exit_code(plans, ns.detailed_exitcode)


def _write(path: Path, text: str) -> None:
    """Atomically: a half-written plan must never be applied."""
    from gwctl.textio import write_atomic

    try:
        # a plan holds digests and secret references, never secrets: readable like a source
        write_atomic(path, text.encode("utf-8"), 0o644)
    except OSError as exc:
        raise InputError(f"cannot write the plan: {exc.strerror}", file=str(path)) from None


SavedCheck = Callable[[], tuple[list[tuple["Target", "GatewayPlan"]], list["GatewayResult"]]]


def saved_selection(ns: argparse.Namespace) -> tuple[Selection, SavedCheck]:
    """For ``gwctl apply PLANFILE``: the selection the plan names, and the check to run
    under the site locks -- fresh plans of the gateways that may still be applied, and a
    refusal for each that may not."""
    from gwctl import api
    from gwctl.cli.common import report
    from gwctl.cli.deploy_common import Selection, report_outside
    from gwctl.deploy import saved_plan
    from gwctl.hosts.inventory import load_inventory
    from gwctl.hosts.selection import split_problems
    from gwctl.hosts.targets import pair
    from gwctl.output import redact
    from gwctl.problems import has_errors

    saved = saved_plan.load(ns.plan)
    result = api.validate(saved.fleet_path)
    if result.fleet is None:
        report(result.problems, "text", ok_message="")
        raise GwctlError(f"the plan's fleet {saved.fleet_path} does not load")
    fleet = result.fleet
    if saved_plan.fleet_digest(fleet) != saved.fleet_sha256:
        raise GwctlError(f"the fleet {saved.fleet_path} changed since the plan was made "
                         f"({ns.plan}); nothing applied: run 'gwctl plan' again")
    entries = {e["gateway"]: e for e in saved.gateways}
    gateways = [fleet.gateway(gid) for gid in entries]
    inside, outside = split_problems(result.problems, gateways)
    if has_errors(inside):
        report(inside + outside, "text", ok_message="")
        raise GwctlError("the fleet has errors about the planned gateways; nothing applied")
    if outside:
        report_outside(outside)
    hosts = load_inventory(ns.inventory or saved.inventory,
                           vault_password_file=ns.vault_password_file)
    for h in hosts:
        pw = h.vars.get("ansible_password")
        if isinstance(pw, str):
            redact.register(pw)
    targets, missing = pair(fleet, gateways, hosts)
    sel = Selection(fleet, targets, missing, inside, outside, hosts)
    return sel, lambda: _check(ns, sel, entries)


def _check(ns: argparse.Namespace, sel: Selection, entries: dict[str, dict[str, Any]]
           ) -> tuple[list[tuple[Target, GatewayPlan]], list[GatewayResult]]:
    from gwctl.cli.deploy_common import progress_printer
    from gwctl.deploy import saved_plan
    from gwctl.deploy.fleet_plan import Planner
    from gwctl.deploy.results import GatewayResult
    from gwctl.fleet.secrets import SecretResolver
    from gwctl.hosts.targets import open_transport

    planner = Planner(sel.fleet, SecretResolver(sel.fleet.base_dir), workers=ns.workers)
    fresh = planner.plan_all(sel.targets, progress_printer(len(sel.targets)))
    versions = (saved_plan.installed_versions(sel.targets, open_transport, ns.workers)
                if any(e.get("product_version") for e in entries.values()) else {})
    items: list[tuple[Target, GatewayPlan]] = []
    refused: list[GatewayResult] = []
    for target, plan in zip(sel.targets, fresh, strict=True):
        entry = entries[target.gateway.id]
        reasons = ([f"the plan was made for host {entry['host']}, the inventory now says "
                    f"{target.name}"] if entry["host"] != target.name else
                   saved_plan.stale_reasons(entry, target.gateway, plan,
                                            versions.get(target.gateway.id)))
        if reasons:
            refused.append(GatewayResult(plan.gateway, target.name, "skipped",
                                         "refused, not as planned: " + "; ".join(reasons)))
        else:
            items.append((target, plan))
    return items, refused

"""Compare what the fleet declares with what each gateway host has now.

For every selected gateway: a unified diff of appsettings.Production.json and
nlog.config, the semantic changes to the configuration the gateway will run with
(formatting, key order, comments and case-only key differences are not drift), and
whether applying needs an app-pool recycle. Secrets are masked. Hosts are read
concurrently; an unreachable host is reported without stopping the others.
Exit codes: 0 no drift, 1 errors (including unreachable hosts), and with
--detailed-exitcode 2 when there is drift."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gwctl.cli.deploy_common import add_selection_options
from gwctl.errors import EXIT_DRIFT, EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from gwctl.deploy.gateway_plan import GatewayPlan


def register(p: argparse.ArgumentParser) -> None:
    add_selection_options(p)
    p.add_argument("--detailed-exitcode", action="store_true",
                   help="exit 2 when there is drift (terraform's convention)")
    p.add_argument("--output", choices=("text", "json"), default="text")


def execute(ns: argparse.Namespace) -> int:
    from gwctl.cli.deploy_common import progress_printer, select
    from gwctl.deploy.fleet_plan import Planner
    from gwctl.deploy.gateway_plan import GatewayPlan
    from gwctl.fleet.secrets import SecretResolver

    sel = select(ns)
    if sel is None:
        return EXIT_FAILED
    planner = Planner(sel.fleet, SecretResolver(sel.fleet.base_dir), workers=ns.workers)
    plans = planner.plan_all(sel.targets, progress_printer(len(sel.targets)))
    for gw, why in sel.missing:
        plans.append(GatewayPlan(gw.id, "-", error=why))
    if ns.output == "json":
        sys.stdout.write(json.dumps(plan_document(plans), indent=2) + "\n")
    else:
        print_plans(plans)
    if any(p.error for p in plans):
        return EXIT_FAILED
    if ns.detailed_exitcode and any(p.changed for p in plans):
        return EXIT_DRIFT
    return EXIT_OK


def plan_document(ps: Sequence[GatewayPlan]) -> dict[str, Any]:
    """The stable JSON plan (documented in docs/json-output.md)."""
    return {
        "version": 1,
        "gateways": [p.to_json() for p in ps],
        "summary": {
            "in_sync": sum(p.status == "in-sync" for p in ps),
            "drift": sum(p.status == "drift" for p in ps),
            "error": sum(p.status == "error" for p in ps),
            "recycle": sum(p.needs_recycle for p in ps),
        },
    }


def print_plans(plans: Sequence[GatewayPlan]) -> None:
    out = sys.stdout
    for p in plans:
        if p.error:
            out.write(f"! {p.gateway} ({p.host}): unreachable or failed: {p.error}\n")
            continue
        if not p.changed:
            notes = [f.note for f in p.files if f.note]
            out.write(f"= {p.gateway} ({p.host}): in sync"
                      + (f" ({'; '.join(notes)})" if notes else "") + "\n")
            continue
        out.write(f"~ {p.gateway} ({p.host}): "
                  f"{'recycle needed' if p.needs_recycle else 'no recycle needed'}\n")
        if p.pending is not None:
            out.write(f"  configuration on disk not yet active: {p.pending.describe()}; "
                      "apply completes it\n")
        for f in p.files:
            if f.action == "unchanged":
                continue
            out.write(f"  {f.action} {f.path}" + (f"  ({f.note})" if f.note else "") + "\n")
            for line in f.diff.splitlines():
                out.write(f"    {line}\n")
        if p.semantic:
            out.write("  effective configuration:\n")
            for c in p.semantic:
                sign = {"added": "+", "removed": "-", "changed": "~"}[c.action]
                value = (f"{c.old!r} -> {c.new!r}" if c.action == "changed"
                         else repr(c.new if c.action == "added" else c.old))
                out.write(f"    {sign} {c.key}: {value}\n")
    drift = sum(p.changed for p in plans)
    errors = sum(bool(p.error) for p in plans)
    out.write(f"{len(plans)} gateway(s): {drift} with drift, {errors} unreachable/failed\n")

"""Compare what the fleet declares with what each gateway host has now.

For every selected gateway: a unified diff of appsettings.Production.json and
nlog.config, the semantic changes to the configuration the gateway will run with
(formatting, key order, comments and case-only key differences are not drift), and
whether applying needs an app-pool recycle. Secrets are masked. The summary counts
gateways as terraform does: to create (gwctl writes their files for the first time), to
change, in sync, unreachable. --output markdown makes a pull-request comment, github
annotations; text is coloured on a terminal unless NO_COLOR is set. Hosts are read
concurrently; an unreachable host is reported without stopping the others.
Each host is also read for what decides whether the files take effect at all
(web.config, app pool, machine environment, app_offline.htm, log-directory ACL): a
gateway whose environment is not Production (appsettings.Production.json is never
loaded) or that has an app_offline.htm is "blocked" -- drift apply cannot fix -- with
the remedy. Exit codes: 0 no drift, 1 errors (including unreachable hosts) or a blocked
gateway, and with --detailed-exitcode 2 when there is drift."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gwctl.cli.deploy_common import add_selection_options
from gwctl.errors import EXIT_FAILED
from gwctl.output.plans import PLAN_FORMATS

if TYPE_CHECKING:
    from gwctl.deploy.gateway_plan import GatewayPlan


def register(p: argparse.ArgumentParser) -> None:
    add_selection_options(p)
    p.add_argument("--detailed-exitcode", action="store_true",
                   help="exit 2 when there is drift (terraform's convention)")
    p.add_argument("--output", choices=PLAN_FORMATS, default="text",
                   help="text (colour on a terminal unless NO_COLOR), json (stable), "
                        "markdown (a pull-request comment) or github (annotations)")


def execute(ns: argparse.Namespace) -> int:
    from gwctl.cli.deploy_common import plan_exit_code, plan_selection

    found = plan_selection(ns)
    if found is None:
        return EXIT_FAILED
    plans = [plan for _, plan in found[1]]
    present(plans, ns.output)
    return plan_exit_code(plans, ns.detailed_exitcode)


def plan_document(ps: Sequence[GatewayPlan]) -> dict[str, Any]:
    """The stable JSON plan (documented in docs/json-output.md)."""
    return {
        "version": 1,
        "gateways": [p.to_json() for p in ps],
        "summary": {
            "in_sync": sum(p.status == "in-sync" for p in ps),
            "drift": sum(p.status == "drift" for p in ps),
            "error": sum(p.status == "error" for p in ps),
            "blocked": sum(p.status == "blocked" for p in ps),
            "recycle": sum(p.needs_recycle for p in ps),
        },
    }


def present(plans: Sequence[GatewayPlan], output: str,
            extra: dict[str, Any] | None = None) -> None:
    """Print plans (and with `extra`, e.g. apply's results) in an --output format."""
    from gwctl.output.plans import PLAN_REPORTERS

    doc = plan_document(plans)
    doc.update(extra or {})
    PLAN_REPORTERS[output](doc, sys.stdout)

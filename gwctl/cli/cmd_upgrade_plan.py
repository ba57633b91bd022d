"""Plan the upgrade of each site to a target release, in the manual's order.

Per site: first the management server host (the XProtect VMS Products installer; a
co-located gateway is upgraded with it), then every other gateway of the site right
after (the API Gateway installer from the management server's download page), with the
checks to run between steps (``/.well-known/uris`` ProductVersion, ``gwctl versions``,
and at the end ``gwctl check-versions`` and ``gwctl diff``). Components already on the
target are shown as done, so a half-upgraded site shows only what remains.

Blocks: a downgrade; a target before 2022 R1; a site without a gateway (2023 R3+) or
without one on the management server host (2024 R2+) at the target; configuration that
uses a feature the target lacks, or raw appsettings in a shape the target renamed.
Settings gwctl re-renders for the target (the 2023 R1/R2 single-STUN form becomes
WebRTC:iceServers) are notes. With -i the installed versions are discovered first.

Output: text, json (stable) or markdown (for a change ticket). Exit 1 when a site is
blocked, else 0."""

from __future__ import annotations

import argparse
import json
import sys

from gwctl.cli.cmd_versions import add_discovery_options
from gwctl.cli.common import add_fleet_option
from gwctl.errors import EXIT_FAILED, EXIT_OK, InputError, UsageError


def register(p: argparse.ArgumentParser) -> None:
    add_fleet_option(p)
    p.add_argument("--to", required=True, metavar="RELEASE",
                   help="target release, e.g. \"2025 R2\" or 25.2")
    add_discovery_options(p, inventory_required=False)
    p.add_argument("--output", choices=("text", "json", "markdown"), default="text",
                   help="plan format (json is stable; markdown for a change ticket)")


def execute(ns: argparse.Namespace) -> int:
    from gwctl.cli.cmd_versions import load_fleet, resolve_scope, run_discovery
    from gwctl.cli.common import report
    from gwctl.versions.release import Version
    from gwctl.versions.state import site_states
    from gwctl.versions.upgrade import plan_upgrade, render_markdown, render_text

    try:
        target = Version.parse(ns.to).as_release()
    except InputError as exc:
        raise UsageError(f"--to: {exc.message}") from None
    fleet, load_problems = load_fleet(ns.fleet)
    if fleet is None:
        report(load_problems, "json" if ns.output == "json" else "text", ok_message="")
        return EXIT_FAILED
    scope = resolve_scope(ns, fleet)
    discovery = run_discovery(ns, fleet, scope) if ns.inventory else None
    states = site_states(fleet, discovery, scope.sites)
    plan = plan_upgrade(states, target, fleet_path=ns.fleet, inventory_path=ns.inventory,
                        discovered=discovery is not None)
    if ns.output == "json":
        sys.stdout.write(json.dumps(plan.to_json(), indent=2) + "\n")
    elif ns.output == "markdown":
        sys.stdout.write(render_markdown(plan))
    else:
        sys.stdout.write(render_text(plan))
    return EXIT_FAILED if plan.blocked else EXIT_OK

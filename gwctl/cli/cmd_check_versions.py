"""CI gate for versions: exit 1 when any version rule reports an error.

Without -i, the versions the fleet declares are checked (every site needs a gateway from
2023 R3, one on the management server host from 2024 R2, gateways on the management
server's release, no 2021 R2 pre-release, nothing below 2022 R1). With -i INVENTORY the
installed versions are discovered first (as ``gwctl versions`` does) and win over the
declared ones; declared versions that differ from the installed ones, and versions that
could not be read, are errors too. ``gwctl rules version-...`` documents each rule.
Output as ``gwctl validate``: text (file:line:col), json (stable) or github annotations."""

from __future__ import annotations

import argparse

from gwctl.cli.cmd_versions import add_discovery_options
from gwctl.cli.common import add_fleet_option, add_output_option
from gwctl.errors import EXIT_FAILED, InputError


def register(p: argparse.ArgumentParser) -> None:
    add_fleet_option(p)
    add_discovery_options(p, inventory_required=False)
    add_output_option(p)


def execute(ns: argparse.Namespace) -> int:
    from gwctl.cli.cmd_versions import (
        load_fleet,
        resolve_scope,
        run_discovery,
        version_problems,
    )
    from gwctl.cli.common import report, report_unreadable

    try:
        fleet, load_problems = load_fleet(ns.fleet)
    except InputError as exc:
        # a CI gate reading json or github output must see this as a problem too
        return report_unreadable(exc, ns.output)
    if fleet is None:
        report(load_problems, ns.output, ok_message="")
        return EXIT_FAILED
    scope = resolve_scope(ns, fleet)
    discovery = run_discovery(ns, fleet, scope) if ns.inventory else None
    problems = version_problems(fleet, discovery, scope)
    sites = scope.sites or [s.name for s in fleet.sites]
    count = (len(scope.only) if scope.only is not None
             else sum(len(fleet.site(s).gateways) for s in sites))
    what = "installed versions" if discovery is not None else "declared versions"
    return report(problems, ns.output,
                  ok_message=f"{ns.fleet}: {what} ok ({len(sites)} site(s), {count} "
                             f"gateway(s))")

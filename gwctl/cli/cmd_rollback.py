"""Restore a gateway's files from the backups taken by the last apply, recycle the app
pool if appsettings changed, and health-check the gateway. The current files are backed
up first, so a rollback can be undone by another rollback."""

from __future__ import annotations

import argparse
import sys

from gwctl.cli.deploy_common import add_inventory_options
from gwctl.errors import EXIT_FAILED, EXIT_OK


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gateway", required=True, metavar="NAME", help="NAME or SITE/NAME")
    p.add_argument("-f", "--fleet", required=True, metavar="PATH",
                   help="fleet file (for the gateway's install and backup directories)")
    add_inventory_options(p)
    p.add_argument("--health-timeout", type=float, default=30.0, metavar="SECONDS")


def execute(ns: argparse.Namespace) -> int:
    from gwctl import api
    from gwctl.cli.common import report
    from gwctl.deploy.apply import ApplyOptions
    from gwctl.deploy.health import HealthSettings
    from gwctl.deploy.rollback import rollback_gateway
    from gwctl.hosts.inventory import load_inventory
    from gwctl.hosts.targets import open_transport, pair

    result = api.load(ns.fleet)
    if result.fleet is None:
        return report(result.problems, "text", ok_message="")
    gw = result.fleet.gateway(ns.gateway)
    hosts = load_inventory(ns.inventory, vault_password_file=ns.vault_password_file,
                           no_ntlm=ns.no_ntlm,
                           configuration_name=ns.configuration_name)
    targets, missing = pair(result.fleet, [gw], hosts)
    if missing:
        print(f"error: {gw.id}: {missing[0][1]}", file=sys.stderr)
        return EXIT_FAILED
    options = ApplyOptions(health=HealthSettings(timeout_s=ns.health_timeout))
    res = rollback_gateway(targets[0], open_transport, options)
    print(f"{res.gateway}: {res.outcome}" + (f" ({res.detail})" if res.detail else ""))
    return EXIT_OK if res.outcome in ("rolled back", "unchanged") else EXIT_FAILED

"""Restore a gateway's files from the backups taken by the last apply, recycle the app
pool if appsettings changed, and health-check the gateway (also with a token and a REST
read when the host's inventory sets gwctl_health_user/_password). The current files are
backed up first, so a rollback can be undone by another rollback.
Rollback is allowed outside maintenance windows (it is the way back during an incident);
it needs --change-ref where the site sets change_ref_required, and is audited like apply
(the record's backups are the ones restored).
Backups taken under another product release than the one installed now (the last
apply's activation record says which) are refused unless --force: after an upgrade, the
way back is the upgrade's own, not old overrides under the new release's base."""

from __future__ import annotations

import argparse
import sys

from gwctl.cli.change_policy import add_audit_options
from gwctl.cli.deploy_common import add_inventory_options
from gwctl.errors import EXIT_FAILED, EXIT_OK, GwctlError


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gateway", required=True, metavar="NAME", help="NAME or SITE/NAME")
    p.add_argument("-f", "--fleet", required=True, metavar="PATH",
                   help="fleet file (for the gateway's install and backup directories)")
    add_inventory_options(p)
    p.add_argument("--health-timeout", type=float, default=30.0, metavar="SECONDS")
    p.add_argument("--force", action="store_true",
                   help="restore even backups taken under another product release than "
                        "the one installed now (refused by default: roll back the upgrade "
                        "instead)")
    add_audit_options(p)


def execute(ns: argparse.Namespace) -> int:
    from gwctl import api
    from gwctl.cli.change_policy import (
        audit_context,
        audit_event,
        require_change_ref,
        write_audit,
    )
    from gwctl.cli.common import report
    from gwctl.deploy.apply import ApplyOptions
    from gwctl.deploy.audit import HostOutcome
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
    require_change_ref(ns, result.fleet, [gw.site_name])
    ctx = audit_context(ns, "rollback", result.fleet, [targets[0].host], ns.fleet)
    options = ApplyOptions(health=HealthSettings(timeout_s=ns.health_timeout),
                           audit_event=audit_event(ctx))
    try:
        res = rollback_gateway(targets[0], open_transport, options, force=ns.force)
    except GwctlError as exc:
        write_audit(ns, ctx, result.fleet, [HostOutcome(gw.id, targets[0].name, "failed",
                                                        str(exc))], exc.exit_code, str(exc),
                    [targets[0].host])
        raise
    print(f"{res.gateway}: {res.outcome}" + (f" ({res.detail})" if res.detail else ""))
    code = EXIT_OK if res.outcome in ("rolled back", "unchanged") else EXIT_FAILED
    write_audit(ns, ctx, result.fleet, [HostOutcome(res.gateway, res.host, res.outcome,
                                                    res.detail, res.backups)], code,
                hosts=[targets[0].host], written={res.host} if res.event_written else set())
    return code

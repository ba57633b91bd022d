"""Remove the gwctl host lock that a run left behind on an inventory host.

A run that dies (kill -9, a crash, a cut network) can leave the host lock in place;
every later apply or rollback is then refused with "host is locked by ...". gwctl takes
such a lock over by itself when the owner named in it is a process of this controller
that no longer runs; a lock from another controller expires after its TTL (15 minutes
for gwctl's runs, never more than a day). `gwctl unlock` removes it now: it shows the
holder and asks (or needs --yes), and it removes only the lock it showed, never one that
a new run has taken meanwhile. Make sure the holder is really gone: the lock is what
keeps two runs from writing one gateway at the same time.
With --site-lock it removes the *site* lock instead: the lock a whole `gwctl apply` holds
on its site (on the site's anchor host, the one a refusal names; see `--lock-timeout`).
Every removal is audited (the audit log of `gwctl apply`; --change-ref is recorded when
given); unlock is allowed outside maintenance windows.
Exit 0 when the host is unlocked (or was not locked), 1 otherwise."""

from __future__ import annotations

import argparse
import sys

from gwctl.cli.change_policy import add_audit_options
from gwctl.cli.deploy_common import add_inventory_options
from gwctl.errors import EXIT_FAILED, EXIT_OK, UsageError


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", required=True, metavar="NAME", help="inventory host to unlock")
    add_inventory_options(p)
    p.add_argument("--site-lock", action="store_true",
                   help="remove the site lock (held by a whole apply of a site; it lives on "
                        "the site's anchor host, named in the refusal) instead of the host "
                        "lock")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_audit_options(p)


def execute(ns: argparse.Namespace) -> int:
    from gwctl.cli.change_policy import audit_context, write_audit
    from gwctl.cli.deploy_common import inventory_host
    from gwctl.deploy.audit import HostOutcome
    from gwctl.deploy.hostlock import LOCK_PATH, break_lock, owner_name, probe
    from gwctl.deploy.sitelock import SITE_LOCK_PATH
    from gwctl.hosts.targets import open_transport

    if not ns.yes and not sys.stdin.isatty():
        raise UsageError("stdin is not a terminal: pass --yes to unlock without confirmation")
    host = inventory_host(ns, ns.host)
    me = f"{owner_name()} (gwctl unlock)"
    path = SITE_LOCK_PATH if ns.site_lock else LOCK_PATH
    what = "site lock" if ns.site_lock else "lock"
    with open_transport(host) as transport:
        holder = probe(transport, me, path)
        if holder is None:
            print(f"{ns.host}: not locked" + (" (no site lock)" if ns.site_lock else ""))
            return EXIT_OK
        who = (f"{holder.get('owner') or 'an unreadable lock'} since "
               f"{holder.get('acquired_at') or '?'} (expires {holder.get('expires_at', '?')})")
        print(f"{ns.host}: {'site lock held' if ns.site_lock else 'locked'} by {who}")
        if not ns.yes:
            answer = input(f"Remove this {what}? Only 'yes' is accepted: ")
            if answer.strip() != "yes":
                print("unlock cancelled", file=sys.stderr)
                return EXIT_FAILED
        break_lock(transport, me, holder, path)
    print(f"{ns.host}: {what} of {holder.get('owner')} removed")
    ctx = audit_context(ns, "unlock", None, [host], None)
    ctx.extra["lock"] = {"kind": "site" if ns.site_lock else "host",
                         "holder": holder.get("owner"),
                         "acquired_at": holder.get("acquired_at")}
    write_audit(ns, ctx, None, [HostOutcome("-", ns.host, "unlocked",
                                            f"{what} of {holder.get('owner')} removed")],
                EXIT_OK, hosts=[host])
    return EXIT_OK

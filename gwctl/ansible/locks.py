"""The site lock for the role: the same lock ``gwctl apply`` takes, held for a playbook run.

``gwctl apply`` holds each site's lock (`gwctl.deploy.sitelock`) for its whole run, on the
site's anchor host; the role takes the very same lock, so a CLI apply and a role run on
one site cannot interleave, whichever starts first. In Ansible the run spans several
plays and a process per host and task, so the lock is taken by a task on the anchor host
(through that host's own connection) and released by a later task with the token the
first one registered.

The owner written into the lock is ``user@controller pid N`` of the ``ansible-playbook``
process itself (the parent of the task's worker): when a run dies or stops early (a
failed canary ends the playbook before the release), the next run on this controller,
CLI or role, takes the lock over because that process is gone; from another controller
it expires (`SITE_LOCK_TTL_S`) or ``gwctl unlock --host ANCHOR --site-lock`` removes it.
"""

from __future__ import annotations

import getpass
import os
import socket
from typing import Any

from gwctl.ansible import fleet_cache
from gwctl.deploy.sitelock import SITE_LOCK_PATH, SiteLocks, anchors
from gwctl.errors import GwctlError
from gwctl.hosts.inventory import InventoryHost
from gwctl.hosts.targets import TransportFactory, pair


def playbook_owner() -> str:
    """The ``ansible-playbook`` process (this worker's parent) as a lock owner."""
    return f"{getpass.getuser()}@{socket.gethostname()} pid {os.getppid()}"


def take(*, fleet: str, host: str, groups: list[str], host_vars: dict[str, Any],
         inventory: list[InventoryHost], play_hosts: list[str],
         transports: TransportFactory, timeout_s: float,
         cache_dir: str | None = None) -> dict[str, Any]:
    """On the site's anchor host: take its site lock (waiting up to `timeout_s`). Other
    hosts are skipped: one lock per site, on the host every controller finds -- chosen
    among all `inventory` hosts, so it must be one of the play's hosts (`play_hosts`)."""
    loaded, errors = fleet_cache.load(fleet, cache_dir)
    if loaded is None:
        return {"failed": True, "msg": "the fleet does not validate:\n" + "\n".join(errors)}
    me = InventoryHost(host, groups, host_vars)
    targets, _ = pair(loaded, list(loaded.gateways()), [me])
    if not targets:
        return {"skipped": True, "changed": False,
                "skip_reason": f"{host}: no gateway of the fleet, no site to lock"}
    site = targets[0].gateway.site_name
    others = [h for h in inventory if h.name != host]
    anchor = anchors(loaded, [site], [me, *others])[site]
    if anchor.name not in play_hosts:
        return {"failed": True, "changed": False, "site": site,
                "msg": f"{host}: site {site}'s lock is on {anchor.name}, which this play "
                       "does not include: add it to the play's hosts so the site is "
                       "locked as gwctl apply locks it"}
    if anchor.name != host:
        return {"skipped": True, "changed": False, "site": site,
                "skip_reason": f"{host}: site {site}'s lock is on {anchor.name}"}
    locks = SiteLocks(loaded, [site], [me], transports, playbook_owner(),
                      timeout_s=timeout_s)
    try:
        locks.__enter__()
    except GwctlError as exc:
        return {"failed": True, "changed": False, "site": site, "msg": exc.message}
    # handed on to the release task: this worker ends, the lock stays
    (held_site, _, token), = locks.held()
    return {"changed": False, "site": held_site, "token": token, "anchor": host,
            "owner": playbook_owner(), "msg": "; ".join(s for s in locks.steps if s != "locked")}


def release(*, host: str, token: str, transports: TransportFactory,
            host_vars: dict[str, Any], groups: list[str]) -> dict[str, Any]:
    """Release the site lock `token` taken on this host earlier in the run."""
    with transports(InventoryHost(host, groups, host_vars)) as transport:
        try:
            transport.run("lock_release", {"path": SITE_LOCK_PATH, "token": token})
        except GwctlError as exc:
            return {"changed": False, "failed": True,
                    "msg": f"{host}: the site lock was not released ({exc.message}); it "
                           "expires by itself"}
    return {"changed": False, "msg": f"{host}: site lock released"}

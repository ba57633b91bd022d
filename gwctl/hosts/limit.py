"""``--limit PATTERN``: choosing gateways with Ansible's own host-pattern language.

The pattern is matched by ansible-core's ``InventoryManager`` (the code behind
``ansible-playbook --limit``), so everything it accepts works the same way here:

* a host name or a group name: ``north-gw1``, ``north``
* globs and regular expressions: ``north-gw*``, ``~north-gw[12]$``
* lists, with ``,`` or ``:``: ``north,south-gw1``
* exclusions and intersections: ``north:!north-gw3``, ``north:&canary``
* slices of a group: ``north[0:1]``; ``@FILE`` reads patterns from a file

What the pattern is matched against: every gateway of the fleet, named by its inventory
host (or by its gateway name when no inventory host claims it), member of its fleet
*site* (a site is always a group, whether or not the inventory has a group of that name)
and of every group its inventory host belongs to. A pattern or a part of it that matches
nothing is a usage error, never an empty selection. ``gwctl import`` has no fleet yet:
`limit_hosts` matches the same language against the inventory's hosts and groups.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from gwctl.errors import UsageError
from gwctl.fleet.model import Gateway
from gwctl.hosts.inventory import InventoryHost


@contextmanager
def _quiet_ansible() -> Iterator[None]:
    """Site names with ``-`` are fine here (they are never Ansible variables), and a
    pattern that matches nothing must raise, not warn."""
    from ansible import constants as C

    saved = (C.TRANSFORM_INVALID_GROUP_CHARS, C.HOST_PATTERN_MISMATCH)
    C.TRANSFORM_INVALID_GROUP_CHARS, C.HOST_PATTERN_MISMATCH = "ignore", "error"
    try:
        yield
    finally:
        C.TRANSFORM_INVALID_GROUP_CHARS, C.HOST_PATTERN_MISMATCH = saved


def limit_gateways(gateways: Sequence[Gateway], hosts: Sequence[InventoryHost],
                   pattern: str) -> list[Gateway]:
    """The gateways of `gateways` that `pattern` selects, in their order."""
    by_ref = {h.gateway_ref: h for h in hosts}
    names: dict[str, Gateway] = {}
    members: dict[str, tuple[str, ...]] = {}
    for gw in gateways:
        host = by_ref.get(gw.id) or by_ref.get(gw.name)
        name = host.name if host is not None else gw.name
        if name in names:
            name = gw.id
        names[name] = gw
        members[name] = (gw.site_name, *(host.groups if host is not None else ()))
    chosen = _match(members, pattern, "gateway, site, inventory group or host")
    return [gw for name, gw in names.items() if name in chosen]


def limit_hosts(hosts: Sequence[InventoryHost], pattern: str) -> list[InventoryHost]:
    """The inventory hosts `pattern` selects (names and the inventory's groups; no fleet
    is involved, as when importing), in inventory order."""
    chosen = _match({h.name: tuple(h.groups) for h in hosts}, pattern,
                    "inventory group or host")
    return [h for h in hosts if h.name in chosen]


def _match(members: dict[str, tuple[str, ...]], pattern: str, what: str) -> set[str]:
    """The names of `members` (name -> its groups) that `pattern` selects."""
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    if not pattern.strip():
        raise UsageError("--limit: empty pattern")
    with _quiet_ansible():
        manager = InventoryManager(loader=DataLoader(), sources=[], parse=False)
        data = manager._inventory
        for name, groups in members.items():
            data.add_host(name)
            for group in groups:
                data.add_group(group)
                data.add_child(group, name)
        data.reconcile_inventory()
        try:
            manager.subset(pattern)
            chosen = {h.name for h in manager.get_hosts()}
        except AnsibleError as exc:
            message = str(exc).splitlines()[0]
            unmatched = re.search(r"host pattern, ignoring: (.*)$", message)
            if unmatched:
                message = f"{unmatched.group(1)!r} matches no {what}"
            raise UsageError(f"--limit {pattern!r}: {message}") from None
    if not chosen:
        noun = "gateway" if what.startswith("gateway") else "host"
        raise UsageError(f"--limit {pattern!r} selects no {noun}")
    return chosen

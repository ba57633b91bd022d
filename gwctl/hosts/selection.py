"""Which gateways a command works on, and which validation problems stand in their way.

A selection is made of ``--gateway NAME`` and ``--site NAME`` (each repeatable; together
they add up), narrowed by ``--limit PATTERN`` (`gwctl.hosts.limit`). No option selects
the whole fleet. A name the fleet does not have is a usage error.

A fleet mid-upgrade has problems somewhere; they must not stop work elsewhere. A problem
*blocks* a selection only when it is an unsuppressed error about a selected gateway, a
selected gateway's site, or the fleet as a whole (defaults, rules). Errors about other
gateways and sites are reported, and the selected gateways go ahead.
"""

from __future__ import annotations

from collections.abc import Sequence

from gwctl.fleet.model import Fleet, Gateway
from gwctl.hosts.inventory import InventoryHost
from gwctl.problems import Level, Problem


def choose(fleet: Fleet, hosts: Sequence[InventoryHost], *,
           gateways: Sequence[str] = (), sites: Sequence[str] = (),
           limit: str | None = None) -> list[Gateway]:
    """The selected gateways, in fleet order, each once."""
    wanted: set[str] | None = None
    if gateways or sites:
        wanted = {fleet.gateway(n).id for n in gateways}
        for name in sites:
            wanted.update(gw.id for gw in fleet.site(name).gateways)
    chosen = [gw for gw in fleet.gateways() if wanted is None or gw.id in wanted]
    if limit is not None:
        from gwctl.hosts.limit import limit_gateways

        chosen = limit_gateways(chosen, hosts, limit)
    return chosen


def _subjects(p: Problem) -> set[str]:
    subjects = {p.subject} if p.subject else set()
    extra = p.extra.get("subjects") if p.extra else None
    if isinstance(extra, list):
        subjects.update(str(s) for s in extra)
    return subjects


def _site_of_pointer(path: str) -> str | None:
    parts = path.split("/")
    if len(parts) >= 3 and parts[1] == "sites":
        return parts[2].replace("~1", "/").replace("~0", "~")
    return None


def concerns(p: Problem, chosen: Sequence[Gateway]) -> bool:
    """Whether problem `p` is about a chosen gateway, its site, or the whole fleet."""
    ids = {gw.id for gw in chosen}
    sites = {gw.site_name for gw in chosen}
    subjects = _subjects(p)
    if subjects:
        return bool(subjects & (ids | sites))
    site = _site_of_pointer(p.path)
    if site is None:
        return True
    if site not in sites:
        return False
    # a pointer into a gateway that is not chosen is not about the chosen ones
    parts = p.path.split("/")
    if len(parts) >= 5 and parts[3] == "gateways":
        return f"{site}/{parts[4]}" in ids
    return True


def split_problems(problems: Sequence[Problem], chosen: Sequence[Gateway]
                   ) -> tuple[list[Problem], list[Problem]]:
    """(problems that concern the selection, errors elsewhere that do not block it)."""
    inside: list[Problem] = []
    outside: list[Problem] = []
    for p in problems:
        if concerns(p, chosen):
            inside.append(p)
        elif p.level is Level.ERROR and p.suppressed is None:
            outside.append(p)
    return inside, outside

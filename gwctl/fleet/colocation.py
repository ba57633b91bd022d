"""Whether a gateway is on its management server's host (co-located): one answer for gwctl.

A co-located gateway is upgraded together with the management server, and from 2024 R2 a
site needs one, so upgrade plans, discovery and the version rules all ask. The fleet
answers, in this order:

1. the gateway's host equals the management server's, ignoring case and a trailing dot:
   co-located — the same machine, whatever ``colocated: false`` says;
2. the gateway's ``colocated:``, when written;
3. one host is a short name equal to the first label of the other's FQDN (``hq-ms`` and
   ``hq-ms.example.com``): co-located;
4. otherwise: on another host.

The fleet model's ``Gateway.colocated`` is that answer. Discovery (``-i INVENTORY``) may
overrule it with evidence: a gateway whose host has the management server's
ServerConfig.xml is co-located (`Colocation.with_evidence`). The rule
``version-colocation`` reports where the fleet contradicts itself (``colocated: false``
on the management server's host) or discovery contradicts the fleet.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import Literal

HostMatch = Literal["exact", "short"]


def _norm_host(host: str) -> str:
    return host.strip().rstrip(".").lower()


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def same_host(a: str, b: str) -> HostMatch | None:
    """Do two host names name the same machine, without asking DNS?

    ``exact``: equal ignoring case and a trailing dot. ``short``: one is a single label
    equal to the other's first label (``hq-ms`` vs ``hq-ms.example.com``). IP addresses
    only match exactly.
    """
    x, y = _norm_host(a), _norm_host(b)
    if not x or not y:
        return None
    if x == y:
        return "exact"
    if _is_ip(x) or _is_ip(y):
        return None
    if ("." in x) != ("." in y):
        short, long_ = (x, y) if "." not in x else (y, x)
        if long_.split(".", 1)[0] == short:
            return "short"
    return None


@dataclass(frozen=True)
class Colocation:
    """Whether a gateway is co-located, why, and what the answer rests on."""

    colocated: bool
    why: str
    #: the gateway's ``colocated:`` as written in the fleet (None when not written)
    declared: bool | None
    host_match: HostMatch | None
    #: discovery: True ServerConfig.xml found on the host, False reached but absent,
    #: None not discovered
    evidence: bool | None = None

    def with_evidence(self, evidence: bool | None) -> Colocation:
        """This answer once discovery has looked for ServerConfig.xml on the host: finding
        it proves co-location; not finding it changes nothing (the file may live
        elsewhere), but is kept for ``version-colocation`` to report."""
        if evidence:
            return replace(self, colocated=True, evidence=True,
                           why="the management server's ServerConfig.xml is on its host")
        return replace(self, evidence=evidence)


def fleet_colocation(host: str, ms_host: str, declared: bool | None) -> Colocation:
    """The fleet's answer for a gateway on `host` whose management server is on `ms_host`
    and whose ``colocated:`` is `declared` (see the module docstring for the order)."""
    match = same_host(host, ms_host)
    if match == "exact":
        return Colocation(True, "same host as the management server", declared, match)
    if declared is not None:
        return Colocation(declared, f"declared colocated: {str(declared).lower()}", declared,
                          match)
    if match == "short":
        return Colocation(True, f"'{host}' and '{ms_host}' name the same host", declared,
                          match)
    return Colocation(False, "not on the management server's host", declared, match)

"""The order of one playbook run over several sites, in Ansible's own terms.

Ansible fixes a play's batches before the play starts, from its host list (in group
order) and its ``serial`` list (``PlaybookExecutor._get_serialized_batches`` in
ansible-core: each entry is a batch size, the last one repeats). ``playbooks/site.yml``
therefore classifies the hosts first, then asks this module, on the controller, for the
hosts in rollout order and for the exact batch sizes, and runs one play over them: per
site, in inventory order, each gateway on a management server's host alone, then one
canary, then batches of the site's other gateways -- the waves of `gwctl apply`
(`gwctl.deploy.rollout.waves`, a batch being a share of the site's other gateways). No
batch holds gateways of two sites, and a management server host's gateway is never in a
batch with another gateway. With ``max_fail_percentage: 0`` a failed gateway stops the
play: the rest of its site and every later site stay untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gwctl.deploy.rollout import parse_batch, waves

CLASS_VAR = "xprotect_api_gateway_class"


def _classified(hostvars: Mapping[str, Any], host: str) -> Mapping[str, Any] | None:
    """The classify task's result of `host`, when it found a gateway (skipped or failed
    hosts take no part)."""
    try:
        found = hostvars[host].get(CLASS_VAR)
    except (KeyError, AttributeError):
        return None
    if not isinstance(found, Mapping) or found.get("failed") or found.get("skipped"):
        return None
    return found if "site" in found and "colocated" in found else None


def rollout_order(hosts: Sequence[str], hostvars: Mapping[str, Any],
                  batch: str = "25%") -> dict[str, Any]:
    """``{"hosts": [...], "serial": [...], "waves": [{"site", "wave", "hosts"}]}`` for the
    classified ones among `hosts` (inventory order decides the order of the sites and of
    the gateways within a site)."""
    sites: dict[str, tuple[list[str], list[str]]] = {}
    for host in hosts:
        found = _classified(hostvars, host)
        if found is None:
            continue
        ms_hosts, others = sites.setdefault(str(found["site"]), ([], []))
        (ms_hosts if found["colocated"] else others).append(str(host))
    plan: list[dict[str, Any]] = []
    for site, (ms_hosts, others) in sites.items():
        for host in ms_hosts:
            plan.append({"site": site, "wave": "management server host", "hosts": [host]})
        site_waves = waves(len(others), 1, parse_batch(batch, len(others))) if others else []
        for n, wave in enumerate(site_waves):
            label = "canary" if n == 0 else f"batch {n}/{len(site_waves) - 1}"
            plan.append({"site": site, "wave": label, "hosts": [others[i] for i in wave]})
    return {"hosts": [h for wave in plan for h in wave["hosts"]],
            "serial": [len(wave["hosts"]) for wave in plan],
            "waves": plan}

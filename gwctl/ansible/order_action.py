"""Action ``xprotect_api_gateway_order``: the rollout order of a playbook run, on the
controller (``tasks/order.yml``, run once after ``classify``, delegated to localhost,
whose fact it sets).

An action rather than a filter: inside the collection ``gwctl.xprotect`` a role's
unqualified action names resolve to the collection's own plugins, a filter's do not (they
resolve to ``ansible.builtin`` only), and the same tasks file serves the role by path and
the collection. The order itself is `gwctl.ansible.rollout_order`; the result is the
fact ``xprotect_api_gateway_rollout`` (hosts, serial, waves).
"""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

from gwctl.ansible.rollout_order import rollout_order
from gwctl.errors import UsageError

ARGUMENT_SPEC: dict[str, Any] = {"batch": {"type": "str", "default": "25%"}}


class ActionModule(ActionBase):  # type: ignore[misc]
    TRANSFERS_FILES = False
    _requires_connection = False  # reads only the run's own variables

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _, args = self.validate_argument_spec(ARGUMENT_SPEC)
        hosts = [str(h) for h in task_vars.get("groups", {}).get("all", [])]
        try:
            order = rollout_order(hosts, task_vars.get("hostvars", {}), args["batch"])
        except UsageError as exc:
            return {**result, "failed": True,
                    "msg": f"xprotect_api_gateway_batch: {exc.message}"}
        sites = len({wave["site"] for wave in order["waves"]})
        result.update(changed=False, ansible_facts={"xprotect_api_gateway_rollout": order},
                      msg=f"{len(order['hosts'])} gateway(s) of {sites} site(s) in "
                          f"{len(order['waves'])} wave(s)")
        return result

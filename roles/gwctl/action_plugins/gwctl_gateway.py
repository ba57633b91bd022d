"""Action plugin ``gwctl_gateway``: converge one API gateway host to the fleet file.

Runs on the controller, once per inventory host, through gwctl's engine (the same plan
and apply as ``gwctl diff`` / ``gwctl apply``): no Windows collection is needed. Check
mode plans only (``changed`` means drift); diff mode returns the masked file diffs;
otherwise the gateway is applied with backup, atomic write, recycle, health check and
automatic rollback. Rolling order, canaries and failure budgets are Ansible's own
(``serial``, ``max_fail_percentage``).

Options: ``fleet`` (path, required), ``health_timeout`` (seconds, default 30),
``allow_version_mismatch`` (bool, default false). They are checked by Ansible's own
argument-spec validator, so a missing, unknown or mistyped option fails the task with
Ansible's usual message, before gwctl is asked anything.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "fleet": {"type": "str", "required": True},
    "health_timeout": {"type": "float", "default": 30.0},
    "allow_version_mismatch": {"type": "bool", "default": False},
}


class ActionModule(ActionBase):  # type: ignore[misc]
    TRANSFERS_FILES = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _, args = self.validate_argument_spec(ARGUMENT_SPEC)
        try:
            from gwctl.ansible.bridge import converge
        except ImportError as exc:
            raise AnsibleActionFail(f"gwctl is not importable by the controller's Python: {exc}"
                                    ) from exc
        from gwctl.hosts.inventory import CONNECTION_VARS, GWCTL_VARS

        host_vars = {k: self._templar.template(task_vars[k])
                     for k in (*CONNECTION_VARS, *GWCTL_VARS) if k in task_vars}
        outcome = converge(
            fleet=args["fleet"],
            host=str(task_vars.get("inventory_hostname")),
            groups=list(task_vars.get("group_names", [])),
            host_vars=host_vars,
            check=bool(self._play_context.check_mode),
            want_diff=bool(self._task.diff),
            health_timeout=args["health_timeout"],
            allow_version_mismatch=args["allow_version_mismatch"],
        )
        result.update(outcome)
        return result

"""The ``xprotect_api_gateway`` action: converge one API gateway host to the fleet file.

Runs on the controller, once per inventory host, through gwctl's engine (the same plan
and apply as ``gwctl diff`` / ``gwctl apply``), and reaches the host through the task's
own Ansible connection: connection variables, credentials and vault are the play's.
``become`` is refused, not ignored: on Windows Ansible implements ``runas`` in its module
exec wrapper (a new logon process that runs the module), and the winrm and ssh
connections run gwctl's bootstrap as a plain command of the connecting user, so a play
asking for become would otherwise believe its operations ran as someone they did not.
gwctl's operations need the connecting account (``ansible_user``) to be a local
administrator of the gateway host. Check mode plans only (``changed`` means drift);
diff mode returns the masked files in Ansible's before/after form; otherwise the gateway
is applied with backup, atomic write, recycle, health check and automatic rollback.
Rolling order, canaries and failure budgets are Ansible's own (``serial``,
``max_fail_percentage``).

Options (checked by ansible-core's argument-spec validator before gwctl is asked
anything): ``fleet`` (path, required), ``mode``, ``health_timeout`` (seconds, default
30), ``allow_version_mismatch`` (bool, default false), ``outside_window`` (the reason
to converge outside the site's maintenance windows; empty: refuse there),
``change_ref`` (recorded; required where the site sets change_ref_required),
``audit_log`` (the controller's audit log an applying converge appends its record to,
`gwctl.ansible.audit`; empty: where ``gwctl apply`` writes it). Modes:

- ``converge`` (default): plan, and outside check mode apply;
- ``classify``: the gateway's site and whether it is on the management server's host,
  as groups (``xprotect_api_gateway_ms_host`` / ``_other``, ``_site_<site>``), reaching
  no host; with ``lock`` also the site lock (below), the lock host joining
  ``xprotect_api_gateway_lock_hosts``;
- ``versions``: the version gate of ``gwctl apply``, read through the host; fails on an
  upgrade-order violation;
- ``verify``: fails on drift (as ``gwctl diff --detailed-exitcode``), a version-gate
  refusal or a failed health check. ``versions`` and ``verify`` change nothing;
- ``read_versions`` (each host) then ``site_versions`` (``run_once``): the site-level
  checks of ``gwctl check-versions -i`` over the play's hosts (`gwctl.ansible.site_versions`);
- ``lock`` / ``unlock``: take (on the site's anchor host, waiting up to
  ``lock_timeout`` seconds) and release (``token``) the site lock ``gwctl apply`` takes
  (`gwctl.ansible.locks`). Check mode takes no lock, as ``gwctl diff`` takes none.

The role's ``action_plugins/`` and the collection's ``plugins/action/`` import this class;
gwctl must be importable by the controller's Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from gwctl.ansible import site_versions
from gwctl.ansible.bridge import classify, converge, verify, version_gate
from gwctl.ansible.locks import release, take
from gwctl.errors import TransportError
from gwctl.hosts.inventory import GWCTL_VARS, InventoryHost
from gwctl.transport.ansible_connection import AnsibleConnectionTransport, check_connection
from gwctl.transport.base import Transport
from gwctl.transport.psrp import DEFAULT_CONFIGURATION, RunspaceTransport

#: the host variables that pair an inventory host with its gateway
PAIRING_VARS = ("gwctl_gateway", "gwctl_site")

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "fleet": {"type": "path", "required": True},
    "mode": {"type": "str", "default": "converge",
             "choices": ["converge", "classify", "versions", "verify", "lock", "unlock",
                         "read_versions", "site_versions"]},
    "lock": {"type": "bool", "default": False},
    "lock_timeout": {"type": "float", "default": 0.0},
    "token": {"type": "str", "no_log": True},
    "health_timeout": {"type": "float", "default": 30.0},
    "allow_version_mismatch": {"type": "bool", "default": False},
    "outside_window": {"type": "str", "default": ""},
    "change_ref": {"type": "str", "default": ""},
    "audit_log": {"type": "path", "default": ""},
}


def refuse_become(host: str, method: str, user: str, connection: str) -> str:
    """Why the role does not run with the play's become settings (see the docstring)."""
    return (f"{host}: become (become_method={method}, become_user={user}) cannot be applied "
            f"to gwctl's operations: over ansible_connection={connection} they run as the "
            "connecting user, not through Ansible's module wrapper where Windows runas "
            "lives; connect as a local administrator of the gateway host (ansible_user) "
            "and set become: false for this role")


class _QuietConnection:
    """The task's connection with output logging censored while gwctl's operations run:
    their results carry live file contents, TURN credentials included, which Ansible's
    winrm plugin would otherwise print at -vvvvv."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    @contextmanager
    def _no_log(self) -> Iterator[None]:
        context = getattr(self.connection, "_play_context", None)
        before = getattr(context, "no_log", None)
        if context is not None:
            context.no_log = True
        try:
            yield
        finally:
            if context is not None:
                context.no_log = before

    def exec_command(self, cmd: str, in_data: bytes | None = None,
                     sudoable: bool = True) -> tuple[int, bytes, bytes]:
        with self._no_log():
            code, out, err = self.connection.exec_command(cmd, in_data=in_data,
                                                          sudoable=sudoable)
        return int(code), bytes(out), bytes(err)


def _configuration_name(connection: Any, connection_name: str) -> str | None:
    """The JEA session configuration a ``psrp`` connection opens its runspace pool on
    (``ansible_psrp_configuration_name``); None for any other connection, and for the
    plugin's default, the unrestricted ``Microsoft.PowerShell``, which is no endpoint of
    gwctl's."""
    if connection_name.rsplit(".", 1)[-1] != "psrp":
        return None
    value = str(connection.get_option("configuration_name") or "")
    return None if value.lower() in ("", DEFAULT_CONFIGURATION.lower()) else value


class ActionModule(ActionBase):  # type: ignore[misc]
    TRANSFERS_FILES = False
    _requires_connection = True

    def _runspace(self) -> Any:
        """The psrp connection's runspace pool, opened on first use (``_connect`` is
        how Ansible's own actions open a connection, and returns at once when open)."""
        self._connection._connect()
        return self._connection.runspace

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _, args = self.validate_argument_spec(ARGUMENT_SPEC)
        host = str(task_vars.get("inventory_hostname"))
        host_vars = {k: self._templar.template(task_vars[k]) for k in GWCTL_VARS
                     if k in task_vars}
        common = {"fleet": args["fleet"], "host": host, "host_vars": host_vars,
                  "groups": list(task_vars.get("group_names", [])),
                  # the run's private local tmp: one validation of the fleet per run
                  "cache_dir": str(C.DEFAULT_LOCAL_TMP)}
        if args["mode"] == "classify" and not args["lock"]:
            result.update(classify(**common))  # reaches no host
            return result
        if args["mode"] == "site_versions":  # reaches no host: the readings are the run's
            result.update(site_versions.check(fleet=args["fleet"],
                                              cache_dir=common["cache_dir"]))
            return result
        connection_name = str(getattr(self._connection, "_load_name", None)
                              or self._connection.transport)
        configuration = _configuration_name(self._connection, connection_name)
        try:
            check_connection(host, connection_name, configuration)
        except TransportError as exc:
            return {**result, "failed": True, "msg": exc.message}
        if self._play_context.become:
            return {**result, "failed": True, "msg": refuse_become(
                host, str(self._play_context.become_method),
                str(self._play_context.become_user or "SYSTEM"), connection_name)}
        quiet = _QuietConnection(self._connection)

        def transports(inv: InventoryHost) -> Transport:
            if inv.name != host:
                raise TransportError(f"{inv.name}: only the task's own host ({host}) is "
                                     "reachable through its Ansible connection")
            if configuration is not None:
                # the psrp plugin's own runspace pool, opened on the JEA endpoint
                return RunspaceTransport(host, self._runspace, configuration,
                                         failures=(AnsibleError,))
            return AnsibleConnectionTransport(host, quiet, failures=(AnsibleError,))

        if args["mode"] == "classify":
            result.update(classify(**common))
            if result.get("skipped") or result.get("failed"):
                return result
            lock = self._site_lock({**args, "mode": "lock"}, common, transports, task_vars)
            if lock.get("failed"):
                result.pop("add_group", None)
                return {**result, **lock}
            if not lock.get("skipped"):
                # the lock host also joins xprotect_api_gateway_lock_hosts, where the
                # release play runs
                result.update(token=lock["token"], lock=lock["msg"],
                              add_group=result["add_group"] + "_lock",
                              parent_groups=[*result["parent_groups"],
                                             "xprotect_api_gateway_lock_hosts"])
            return result
        if args["mode"] in ("lock", "unlock"):
            return {**result, **self._site_lock(args, common, transports, task_vars)}
        if args["mode"] == "read_versions":
            result.update(site_versions.read(**common, transports=transports))
            return result
        if args["mode"] == "versions":
            result.update(version_gate(**common, transports=transports))
            return result
        if args["mode"] == "verify":
            result.update(verify(**common, transports=transports,
                                 health_timeout=args["health_timeout"]))
            return result
        result.update(converge(**common, transports=transports,
                               check=bool(self._play_context.check_mode),
                               want_diff=bool(self._task.diff),
                               health_timeout=args["health_timeout"],
                               allow_version_mismatch=args["allow_version_mismatch"],
                               outside_window=args["outside_window"] or None,
                               change_ref=args["change_ref"] or None,
                               audit_log=args["audit_log"] or None))
        return result

    def _site_lock(self, args: dict[str, Any], common: dict[str, Any],
                   transports: Callable[[InventoryHost], Transport],
                   task_vars: dict[str, Any]) -> dict[str, Any]:
        if self._play_context.check_mode:
            return {"skipped": True, "changed": False,
                    "skip_reason": "check mode takes no site lock"}
        if args["mode"] == "unlock":
            if not args.get("token"):
                return {"skipped": True, "changed": False,
                        "skip_reason": f"{common['host']}: holds no site lock"}
            return release(host=common["host"], token=args["token"], transports=transports,
                           host_vars=common["host_vars"], groups=common["groups"])
        # the lock host is chosen among all inventory hosts, as gwctl apply chooses it,
        # whatever hosts this play has
        hostvars = task_vars.get("hostvars", {})
        inventory = []
        for name in task_vars.get("groups", {}).get("all", []):
            found = hostvars.get(name, {})
            inventory.append(InventoryHost(
                str(name), list(found.get("group_names", [])),
                {k: self._templar.template(found[k]) for k in PAIRING_VARS if k in found}))
        return take(**common, inventory=inventory,
                    play_hosts=[str(h) for h in task_vars.get("ansible_play_hosts_all", [])],
                    transports=transports, timeout_s=args["lock_timeout"])

"""Glue between the emulated WinRM service and the emulated hosts.

Each host of the site gets a `SimCommandHandler`: a command line that starts gwctl's
packaged bootstrap (``powershell -EncodedCommand <bootstrap.ps1>``, see
docs/remote-operations.md) runs the operation named on stdin with
`gwctl.ops.pyimpl.DirectoryHost.dispatch_wire` on that host's directory; its app-pool
operations recycle the emulated gateway in-process (`gwctl.sim.gateway.SimAppPools`), so
``recycle_app_pool`` over WinRM behaves like "recycle VideoOS ApiGateway AppPool" on the
real host. Any other command -- Ansible's ``raw`` tasks and module wrapper included -- is
not run: it exits 1 with an explanation on stderr. The simulator is not Windows.
PowerShell remoting (PSRP) reaches the session configurations registered on the host
(`gwctl.sim.powershell`: the JEA endpoint of ``gwctl sim up --jea``).

A site made with ``ansible_modules=True`` (benchmarks of plain ansible.windows playbooks)
also answers Ansible's module wrapper, through `gwctl.sim.wsman.ansible_wrapper`; the
bootstrap path stays as it is.
"""

from __future__ import annotations

from typing import Any

from gwctl.errors import OperationError
from gwctl.ops.pyimpl import DirectoryHost, ProcessDied, is_bootstrap_command
from gwctl.sim.powershell import JeaConfiguration, session_configuration
from gwctl.sim.site import SiteRuntime
from gwctl.sim.wsman import CommandHandler, CommandResult, FaultTable, command_line
from gwctl.sim.wsman.ansible_wrapper import AnsibleModuleHost

UNSUPPORTED = (
    "gwctl simulator: this emulated host runs only gwctl's packaged remote operations "
    "(powershell -EncodedCommand <gwctl bootstrap.ps1>); it is not Windows and does not "
    "execute other commands or Ansible modules. Command refused: {command}\r\n"
)


class _NoAppPools:
    """A host without a gateway (management server only) has no gateway app pool."""

    def recycle(self, name: str) -> dict[str, Any]:
        raise OperationError(f"application pool {name!r} does not exist", code="not_found")

    def state(self, name: str) -> dict[str, Any]:
        raise OperationError(f"application pool {name!r} does not exist", code="not_found")


class SimCommandHandler:
    """Runs the commands WinRM receives for one emulated host."""

    def __init__(self, host: DirectoryHost, name: str = "",
                 faults: FaultTable | None = None,
                 modules: AnsibleModuleHost | None = None) -> None:
        self.host = host
        self.name = name
        self.faults = faults
        self.modules = modules

    def _step(self, index: int, op: str) -> None:
        if self.faults is not None and self.faults.kills_batch_step(self.name, index):
            raise ProcessDied(f"before batch step {index + 1} ({op})")

    def session_configuration(self, name: str) -> JeaConfiguration | None:
        """PowerShell remoting's view of the host (`gwctl.sim.powershell`)."""
        return session_configuration(self.host, name)

    def run(self, command: str, arguments: list[str], stdin: bytes) -> CommandResult:
        line = command_line(command, arguments)
        if is_bootstrap_command(line):
            try:
                stdout, code = self.host.dispatch_wire(stdin, step_hook=self._step)
            except ProcessDied as died:
                # what a killed powershell.exe leaves: no result line, a failing exit code
                return CommandResult(stderr=f"simulator: PowerShell died {died} (fault "
                                            "kill_batch_at)\r\n".encode(), exit_code=1)
            return CommandResult(stdout=stdout, stderr=b"", exit_code=code)
        if self.modules is not None and self.modules.accepts(line):
            return self.modules.run(line, stdin)
        shown = line if len(line) <= 120 else line[:117] + "..."
        return CommandResult(stderr=UNSUPPORTED.format(command=shown).encode("utf-8"),
                             exit_code=1)


def make_resolver(runtime: SiteRuntime, faults: FaultTable | None = None,
                  ansible_modules: dict[str, AnsibleModuleHost] | None = None) -> Any:
    """Host name (case-insensitive) -> its command handler, None for unknown hosts.

    `faults` is the WinRM endpoint's fault table, for the faults a command handler plays
    (``kill_batch_at``). With `ansible_modules` (a dict, filled here by lower-case host
    name) the hosts also answer Ansible's module wrapper."""
    handlers: dict[str, CommandHandler] = {}
    for name in runtime.state.hosts:
        gw = runtime.gateways.get(name.lower())
        directory = gw.directory if gw is not None else DirectoryHost(
            runtime.state.host_root(name), app_pools=_NoAppPools())
        modules = None
        if ansible_modules is not None:
            modules = ansible_modules[name.lower()] = AnsibleModuleHost(directory)
        handlers[name.lower()] = SimCommandHandler(directory, name, faults, modules)

    def resolve(host_name: str) -> CommandHandler | None:
        return handlers.get(host_name.lower())

    return resolve

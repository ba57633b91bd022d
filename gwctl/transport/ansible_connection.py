"""Ansible-connection transport: gwctl's remote operations over the play's own connection.

Inside the Ansible role, the action plugin hands this transport the task's connection
object (``self._connection``), so whatever the play configured -- the ``winrm`` plugin
with its transport, certificates and vaulted password, a third-party connection plugin
-- carries gwctl's operations unchanged. Nothing here imports Ansible:
the connection is anything with Ansible's ``exec_command(cmd, in_data=..., sudoable=...)``
method returning ``(rc, stdout, stderr)``.

The operations, their stdin and the bytes they write on the host are exactly those of the
WinRM and local transports (`gwctl.ops.wire`, docs/remote-operations.md). Only the command
line differs in spelling: it is Ansible's own PowerShell prefix
(``PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand``)
followed by the encoded bootstrap, because Ansible's ``winrm`` and ``psrp`` plugins pass a
command with that prefix through as it is and wrap anything else in a second PowerShell
(which would not hand stdin on to the bootstrap).

Connections: ``winrm`` (tested against the simulator), ``ssh`` to a Windows OpenSSH
server (the command line is a plain ``PowerShell ...`` command that cmd.exe or PowerShell
as the default shell both start; stdin is the SSH channel's). ``psrp`` cannot start the
bootstrap: it runs the decoded script inside a runspace, where the bootstrap's console
stdin and stdout do not exist; with ``ansible_psrp_configuration_name`` naming gwctl's JEA
endpoint the role uses the plugin's runspace pool through `gwctl.transport.psrp` instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from gwctl.errors import TransportError
from gwctl.ops import OPERATIONS, wire
from gwctl.ops.batch import (
    Step,
    check_steps,
    describe,
    encode_batch,
    read_batch_result,
    read_result,
)
from gwctl.transport.base import Transport
from gwctl.transport.winrm_errors import clean_clixml

#: Ansible's PowerShell shell plugin starts every script with these words (ansible-core
#: ``plugins/shell/powershell.py``, ``_common_args``); its winrm and psrp plugins do not
#: re-encode a command that starts with them
ANSIBLE_POWERSHELL = ("PowerShell", "-NoProfile", "-NonInteractive",
                      "-ExecutionPolicy", "Unrestricted")

#: connection plugins (last dotted name) that start the bootstrap as a process with stdin
SUPPORTED_CONNECTIONS = frozenset({"winrm", "ssh"})


class ExecConnection(Protocol):
    """What this transport needs of an Ansible connection plugin."""

    def exec_command(self, cmd: str, in_data: bytes | None = None,
                     sudoable: bool = True) -> tuple[int, bytes, bytes]: ...


def command_line() -> str:
    """The command line this transport asks the connection to run."""
    return " ".join([*ANSIBLE_POWERSHELL, "-EncodedCommand",
                     wire.encode_command(wire.bootstrap_text())])


def check_connection(host: str, connection_name: str,
                     configuration_name: str | None = None) -> None:
    """Refuse a connection plugin the bootstrap cannot run over, before any host is touched.

    ``psrp`` is accepted with a session configuration name only: then the role calls the
    JEA module's functions in the plugin's runspace pool (`gwctl.transport.psrp`)."""
    short = connection_name.rsplit(".", 1)[-1]
    if short == "psrp" and configuration_name is None:
        raise TransportError(
            f"{host}: ansible_connection=psrp without ansible_psrp_configuration_name "
            "cannot carry gwctl's operations: the default endpoint runs scripts in a "
            "runspace, which has no console stdin/stdout for gwctl's bootstrap; name "
            "gwctl's JEA endpoint (ansible_psrp_configuration_name, docs/jea.md) or use "
            "winrm or ssh")
    if short == "psrp":
        return
    if short not in SUPPORTED_CONNECTIONS:
        raise TransportError(
            f"{host}: ansible_connection={connection_name} cannot reach a Windows gateway "
            f"host for gwctl; use one of {', '.join(sorted(SUPPORTED_CONNECTIONS))}")


class AnsibleConnectionTransport(Transport):
    """Runs gwctl operations through one Ansible connection (one host).

    `failures` are the exception types the connection raises when the host cannot be
    reached or the exchange breaks (Ansible's ``AnsibleError``); they become
    `TransportError`, anything else is a bug and propagates. The connection belongs to
    Ansible: `close` leaves it open for the play's next task.
    """

    def __init__(self, name: str, connection: ExecConnection, *,
                 failures: tuple[type[BaseException], ...] = ()) -> None:
        self.name = name
        self.connection = connection
        self.failures = failures
        self._command = command_line()
        #: operations run, and bytes sent to / received from the host (for reports)
        self.commands = 0
        self.bytes_sent = 0
        self.bytes_received = 0

    def run(self, op: str, params: Mapping[str, Any],
            payload: bytes | None = None) -> dict[str, Any]:
        if op not in OPERATIONS:
            raise ValueError(f"unknown remote operation {op!r}")
        code, stdout, stderr = self._exec(op, wire.encode_stdin(op, params, payload))
        return read_result(self.name, op, stdout, code, stderr, self._error)

    def run_batch(self, steps: Sequence[Step]) -> list[dict[str, Any]]:
        check_steps(steps)
        code, stdout, stderr = self._exec(describe(steps), encode_batch(steps))
        return read_batch_result(self.name, steps, stdout, code, stderr, self._error)

    def _error(self, what: str) -> TransportError:
        return TransportError(f"{self.name}: {what}")

    def _exec(self, what: str, stdin: bytes) -> tuple[int, bytes, bytes]:
        try:
            code, stdout, stderr = self.connection.exec_command(self._command, in_data=stdin,
                                                                sudoable=False)
        except self.failures as exc:
            raise TransportError(f"{self.name}: {what}: {exc}") from exc
        self.commands += 1
        self.bytes_sent += len(self._command) + len(stdin)
        self.bytes_received += len(stdout) + len(stderr)
        return code, stdout, clean_clixml(stderr).encode("utf-8")

    def close(self) -> None:
        """Nothing to release: the connection is Ansible's."""

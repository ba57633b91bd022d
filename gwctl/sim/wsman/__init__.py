"""An emulated WinRM (WS-Management shell) service on loopback, for pywinrm and Ansible.

It speaks the wire protocol of Windows' WinRM service — shells, commands, stdin Send,
Receive, Signal, Delete; Basic and NTLM authentication with NTLM message encryption; http
or https — and hands each command to a pluggable `CommandHandler` per emulated host. It is
not Windows: nothing is executed unless a handler does it.

    with WsmanServer(resolver, {"admin": "secret"}) as server:
        endpoint = server.url_for("gw1")   # http://127.0.0.1:PORT/wsman/gw1
"""

from gwctl.sim.wsman.faults import FaultTable, HostFaults
from gwctl.sim.wsman.server import WsmanServer
from gwctl.sim.wsman.shell import (
    CommandHandler,
    CommandResult,
    Resolver,
    command_line,
    split_command_line,
)
from gwctl.sim.wsman.soap import OPERATION_TIMEOUT, WsmanFault

__all__ = [
    "OPERATION_TIMEOUT",
    "CommandHandler",
    "CommandResult",
    "FaultTable",
    "HostFaults",
    "Resolver",
    "WsmanFault",
    "WsmanServer",
    "command_line",
    "split_command_line",
]

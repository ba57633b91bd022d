"""The WinRM shell service: one parsed request in, one response envelope out.

Kept apart from the HTTP layer so that the protocol can be tested without sockets and the
HTTP layer only deals with connections, authentication, encryption and faults.
"""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET

from gwctl.sim.wsman import soap
from gwctl.sim.wsman.psrp import PowerShellHost, PsrpService, is_powershell_uri
from gwctl.sim.wsman.shell import CommandHandler, ShellManager
from gwctl.sim.wsman.soap import WsmanFault, WsmanRequest

_RESOURCE_NOT_FOUND = 2150858752  # ERROR_WSMAN_RESOURCE_NOT_FOUND
_DEFAULT_OPERATION_TIMEOUT = 60.0  # Windows' MaxTimeoutms default

_STEPS = {
    soap.ACTION_CREATE: "create",
    soap.ACTION_COMMAND: "command",
    soap.ACTION_SEND: "send",
    soap.ACTION_RECEIVE: "receive",
    soap.ACTION_SIGNAL: "signal",
    soap.ACTION_DELETE: "delete",
}


class ShellService:
    def __init__(self, shells: ShellManager, *, max_operation_timeout: float = 60.0) -> None:
        self.shells = shells
        self.max_operation_timeout = max_operation_timeout
        #: runspace pools of PowerShell remoting (the powershell resource URIs)
        self.psrp = PsrpService()

    def step_of(self, host: str, user: str, req: WsmanRequest) -> str:
        """Fault-injection step name of the request (``send:<n>`` for a Send)."""
        step = _STEPS.get(req.action, "other")
        if step == "send":
            stream = soap.find(req.body, "Send", "Stream")
            command_id = stream.get("CommandId", "") if stream is not None else ""
            number = self.shells.next_send_number(host, user, req.shell_id, command_id)
            step = f"send:{max(number, 1)}"
        return step

    def handle(
        self,
        host: str,
        user: str,
        req: WsmanRequest,
        handler: CommandHandler,
        *,
        address: str,
        client_ip: str,
    ) -> bytes:
        if is_powershell_uri(req.resource_uri):
            # a handler without PowerShell remoting has no session configuration at all
            endpoint: PowerShellHost | None = handler \
                if hasattr(handler, "session_configuration") else None  # type: ignore[assignment]
            return self.psrp.handle(host, user, req, endpoint, address=address,
                                    client_ip=client_ip)
        if req.resource_uri and req.resource_uri != soap.CMD_RESOURCE_URI:
            raise WsmanFault(
                _RESOURCE_NOT_FOUND,
                f"The WS-Management service cannot process the request: resource URI "
                f"{req.resource_uri} is not served by this endpoint (cmd shells and "
                "PowerShell session configurations only).",
            )
        relates = req.message_id
        if req.action == soap.ACTION_CREATE:
            shell = soap.find(req.body, "Shell")
            inputs = _text(soap.find(shell, "InputStreams")) or "stdin"
            outputs = _text(soap.find(shell, "OutputStreams")) or "stdout stderr"
            shell_id = self.shells.create(host, user, input_streams=inputs, output_streams=outputs)
            return soap.create_response(
                relates,
                address=address,
                shell_id=shell_id,
                owner=user,
                client_ip=client_ip,
                idle_timeout=self.shells.idle_timeout,
                input_streams=inputs,
                output_streams=outputs,
            )
        if req.action == soap.ACTION_COMMAND:
            line = soap.find(req.body, "CommandLine")
            command = _text(soap.find(line, "Command"))
            arguments = [_text(a) for a in soap.iter_shell(line, "Arguments")]
            command_id = self.shells.command(host, user, req.shell_id, command, arguments, handler)
            return soap.command_response(relates, command_id)
        if req.action == soap.ACTION_SEND:
            for stream in soap.iter_shell(req.body, "Stream"):
                try:
                    data = base64.b64decode(stream.text or "", validate=True)
                except binascii.Error as exc:
                    raise WsmanFault(soap.INVALID_SOAP_BODY, "stdin is not valid base64") from exc
                end = stream.get("End", "false").lower() == "true"
                self.shells.send(host, user, req.shell_id, stream.get("CommandId", ""), data, end)
            return soap.send_response(relates)
        if req.action == soap.ACTION_RECEIVE:
            desired = soap.find(req.body, "Receive", "DesiredStream")
            command_id = desired.get("CommandId", "") if desired is not None else ""
            timeout = min(
                req.operation_timeout or _DEFAULT_OPERATION_TIMEOUT, self.max_operation_timeout
            )
            chunk = self.shells.receive(host, user, req.shell_id, command_id, timeout)
            return soap.receive_response(
                relates,
                command_id,
                stdout=chunk.stdout,
                stderr=chunk.stderr,
                done=chunk.done,
                exit_code=chunk.exit_code,
            )
        if req.action == soap.ACTION_SIGNAL:
            signal = soap.find(req.body, "Signal")
            command_id = signal.get("CommandId", "") if signal is not None else ""
            self.shells.signal(host, user, req.shell_id, command_id)
            return soap.signal_response(relates)
        if req.action == soap.ACTION_DELETE:
            self.shells.delete(host, user, req.shell_id)
            return soap.delete_response(relates)
        raise WsmanFault(soap.INVALID_ACTION)


def _text(node: ET.Element | None) -> str:
    return (node.text or "").strip() if node is not None else ""

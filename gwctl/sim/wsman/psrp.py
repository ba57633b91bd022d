"""PowerShell remoting (PSRP over WS-Management) on the emulated WinRM service.

A client such as pypsrp opens a runspace pool with a WS-Management Create on the resource
URI ``http://schemas.microsoft.com/powershell/<ConfigurationName>`` (``creationXml`` holds
the pool's first PSRP fragments), reads the pool's answers with Receive, starts each
pipeline with a Command (its first fragment as the argument, the client's pipeline id as
CommandId), sends further fragments and pipeline input on the ``stdin`` stream, reads the
pipeline's output with Receive, ends it with Signal and closes the pool with Delete (the
exchanges of pypsrp's ``RunspacePool`` / ``PowerShell``, jborean93/pypsrp
``src/pypsrp/powershell.py`` and ``shell.py``, which follow [MS-PSRP]'s WS-Management
binding). The PSRP messages themselves are `psrpcore`'s ``ServerRunspacePool`` /
``ServerPipeline``.

What a pipeline does is not decided here: the host's `PowerShellHost` names its session
configurations, and a `SessionConfiguration` runs the pipeline's commands or refuses them
with the error record PowerShell would send. The emulation runs each pipeline to its end
when its input is complete, so a Receive always finds the pipeline's whole answer.
"""

from __future__ import annotations

import base64
import binascii
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from xml.sax.saxutils import escape, quoteattr

from psrpcore import (
    CreatePipelineEvent,
    EndOfPipelineInputEvent,
    PipelineInputEvent,
    PSRPPayload,
    ServerPipeline,
    ServerRunspacePool,
    StreamType,
)
from psrpcore.types import (
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    NETException,
    PSInvocationState,
)

from gwctl.sim.wsman import soap
from gwctl.sim.wsman.soap import WsmanFault, WsmanRequest

POWERSHELL_URI = "http://schemas.microsoft.com/powershell/"
DEFAULT_CONFIGURATION = "Microsoft.PowerShell"
_PS_NAMESPACE = "http://schemas.microsoft.com/powershell"
# what Windows answers for a session configuration that is not registered
# (ERROR_WSMAN_RESOURCE_NOT_FOUND, wsman.h); the text is the one WinRM's PowerShell plugin
# gives for "Cannot find the ... session configuration"
_RESOURCE_NOT_FOUND = 2150858752


@dataclass(frozen=True)
class Invocation:
    """One command of a pipeline as the client sent it."""

    name: str
    is_script: bool
    #: (parameter name or None for a positional argument, value)
    parameters: tuple[tuple[str | None, Any], ...]


@dataclass(frozen=True)
class PipelineFailure(Exception):
    """A terminating error: the pipeline ends Failed with this error record."""

    message: str
    error_id: str
    category: ErrorCategory
    exception_type: str
    target: str | None = None

    def __str__(self) -> str:
        return self.message


class SessionConfiguration(Protocol):
    """A registered session configuration: what its runspaces let a pipeline do."""

    def invoke(self, commands: Sequence[Invocation], input: Sequence[Any]) -> list[Any]:
        """The pipeline's output objects; raises `PipelineFailure` to fail it."""
        ...


class PowerShellHost(Protocol):
    """An emulated host's PowerShell remoting endpoint."""

    def session_configuration(self, name: str) -> SessionConfiguration | None:
        """The configuration registered under `name` (case-insensitive), None if none."""
        ...


@dataclass
class _Pipeline:
    core: ServerPipeline
    commands: tuple[Invocation, ...] = ()
    input: list[Any] = field(default_factory=list)
    finished: bool = False


@dataclass
class _Pool:
    id: str
    host: str
    owner: str
    configuration: SessionConfiguration
    core: ServerRunspacePool
    lock: threading.Lock = field(default_factory=threading.Lock)
    pipelines: dict[str, _Pipeline] = field(default_factory=dict)
    #: outgoing PSRP data per target: "" for the pool, else the pipeline id (upper case)
    outgoing: dict[str, bytearray] = field(default_factory=dict)


class PsrpService:
    """Runspace pools of all hosts of one WinRM service. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[str, _Pool] = {}

    def pool_count(self, host: str | None = None) -> int:
        """Open runspace pools (of `host`); for tests that check clients clean up."""
        with self._lock:
            return sum(1 for p in self._pools.values() if host is None or p.host == host)

    def handle(self, host: str, user: str, req: WsmanRequest, endpoint: PowerShellHost | None,
               *, address: str, client_ip: str) -> bytes:
        relates = req.message_id
        if req.action == soap.ACTION_CREATE:
            return self._create(host, user, req, endpoint, address, client_ip)
        pool = self._pool(host, user, req.shell_id)
        with pool.lock:
            if req.action == soap.ACTION_COMMAND:
                line = soap.find(req.body, "CommandLine")
                command_id = (line.get("CommandId") if line is not None else None) \
                    or str(uuid.uuid4())
                pipeline = _Pipeline(ServerPipeline(pool.core, uuid.UUID(command_id)))
                pool.pipelines[command_id.upper()] = pipeline
                for argument in soap.iter_shell(line, "Arguments"):
                    self._feed(pool, _b64(argument.text), uuid.UUID(command_id))
                return soap.command_response(relates, command_id.upper())
            if req.action == soap.ACTION_SEND:
                for stream in soap.iter_shell(req.body, "Stream"):
                    target = stream.get("CommandId") or None
                    kind = StreamType.prompt_response if stream.get("Name") == "pr" \
                        else StreamType.default
                    self._feed(pool, _b64(stream.text),
                               uuid.UUID(target) if target else None, kind)
                return soap.send_response(relates)
            if req.action == soap.ACTION_RECEIVE:
                desired = soap.find(req.body, "Receive", "DesiredStream")
                command_id = (desired.get("CommandId") if desired is not None else None) or ""
                return self._receive(pool, relates, command_id.upper())
            if req.action == soap.ACTION_SIGNAL:
                signal = soap.find(req.body, "Signal")
                command_id = (signal.get("CommandId", "") if signal is not None else "").upper()
                pool.pipelines.pop(command_id, None)
                pool.outgoing.pop(command_id, None)
                return soap.signal_response(relates)
            if req.action == soap.ACTION_DELETE:
                with self._lock:
                    self._pools.pop(pool.id, None)
                return soap.delete_response(relates)
        raise WsmanFault(soap.INVALID_ACTION)

    # -- steps ------------------------------------------------------------------------------

    def _create(self, host: str, user: str, req: WsmanRequest, endpoint: PowerShellHost | None,
                address: str, client_ip: str) -> bytes:
        name = req.resource_uri[len(POWERSHELL_URI):] or DEFAULT_CONFIGURATION
        configuration = endpoint.session_configuration(name) if endpoint is not None else None
        if configuration is None:
            raise WsmanFault(
                _RESOURCE_NOT_FOUND,
                f"The WS-Management service cannot process the request. Cannot find the "
                f"{name} session configuration in the WSMan: drive on the {host} computer.")
        shell = soap.find(req.body, "Shell")
        pool_id = ((shell.get("ShellId") if shell is not None else None)
                   or str(uuid.uuid4())).upper()
        creation = None if shell is None else shell.find(f"{{{_PS_NAMESPACE}}}creationXml")
        if creation is None:
            raise WsmanFault(soap.INVALID_SOAP_BODY,
                             "A PowerShell shell needs creationXml (the runspace pool's "
                             "first PSRP fragments).")
        pool = _Pool(pool_id, host, user, configuration, ServerRunspacePool())
        with pool.lock:
            self._feed(pool, _b64(creation.text), None)
        with self._lock:
            self._pools[pool_id] = pool
        # a PowerShell shell's streams ([MS-PSRP] 3.1.5.3.1): data and host responses in
        return _create_response(relates_to=req.message_id, address=address, pool_id=pool_id,
                                resource_uri=req.resource_uri, owner=user,
                                client_ip=client_ip, input_streams="stdin pr",
                                output_streams="stdout")

    def _feed(self, pool: _Pool, data: bytes, pipeline_id: uuid.UUID | None,
              kind: StreamType = StreamType.default) -> None:
        """Hand PSRP fragments to psrpcore and act on the events they complete."""
        pool.core.receive_data(PSRPPayload(data, kind, pipeline_id))
        while (event := pool.core.next_event()) is not None:
            if isinstance(event, CreatePipelineEvent):
                pipeline = pool.pipelines[str(event.pipeline_id).upper()]
                pipeline.commands = tuple(
                    Invocation(str(c.command_text), bool(c.is_script), tuple(c.parameters))
                    for c in event.pipeline.commands)
                if event.pipeline.no_input:
                    self._run(pool, pipeline)
            elif isinstance(event, PipelineInputEvent):
                pool.pipelines[str(event.pipeline_id).upper()].input.append(event.data)
            elif isinstance(event, EndOfPipelineInputEvent):
                self._run(pool, pool.pipelines[str(event.pipeline_id).upper()])
        self._drain(pool)

    def _run(self, pool: _Pool, pipeline: _Pipeline) -> None:
        if pipeline.finished:
            return
        pipeline.finished = True
        core = pipeline.core
        core.start()
        try:
            output = pool.configuration.invoke(pipeline.commands, pipeline.input)
        except PipelineFailure as failure:
            core._change_state(PSInvocationState.Failed, error=_error_record(failure))
            return
        for value in output:
            core.write_output(value)
        core.complete()

    def _drain(self, pool: _Pool) -> None:
        while (payload := pool.core.data_to_send()) is not None:
            key = str(payload.pipeline_id).upper() if payload.pipeline_id else ""
            pool.outgoing.setdefault(key, bytearray()).extend(payload.data)

    def _receive(self, pool: _Pool, relates: str, command_id: str) -> bytes:
        data = bytes(pool.outgoing.pop(command_id, b""))
        pipeline = pool.pipelines.get(command_id) if command_id else None
        if command_id and pipeline is None:
            raise WsmanFault(soap.INVALID_COMMAND,
                             f"The command {command_id} does not exist in the shell.")
        if not data and (pipeline is None or not pipeline.finished):
            # nothing will come before the client sends more: Windows would hold the
            # Receive for OperationTimeout and answer this fault
            raise WsmanFault(soap.OPERATION_TIMEOUT)
        done = pipeline is not None and pipeline.finished
        return _receive_response(relates, command_id, data, done)

    def _pool(self, host: str, owner: str, shell_id: str | None) -> _Pool:
        with self._lock:
            pool = self._pools.get((shell_id or "").upper())
        if pool is None or pool.host != host or pool.owner != owner:
            raise WsmanFault(soap.SHELL_NOT_FOUND, shell_id=shell_id or "")
        return pool


def is_powershell_uri(resource_uri: str) -> bool:
    return resource_uri.lower().startswith(POWERSHELL_URI)


def _b64(text: str | None) -> bytes:
    try:
        return base64.b64decode(text or "", validate=True)
    except binascii.Error as exc:
        raise WsmanFault(soap.INVALID_SOAP_BODY, "a PSRP fragment is not valid base64") from exc


def _error_record(failure: PipelineFailure) -> ErrorRecord:
    exception = NETException(Message=failure.message)
    exception.PSObject.type_names = [failure.exception_type, *exception.PSTypeNames]
    return ErrorRecord(
        Exception=exception,
        CategoryInfo=ErrorCategoryInfo(Category=failure.category,
                                       Reason=failure.exception_type.rsplit(".", 1)[-1],
                                       TargetName=failure.target or ""),
        TargetObject=failure.target,
        FullyQualifiedErrorId=failure.error_id,
    )


def _create_response(*, relates_to: str, address: str, pool_id: str, resource_uri: str,
                     owner: str, client_ip: str, input_streams: str,
                     output_streams: str) -> bytes:
    body = (
        f"<x:ResourceCreated><a:Address>{escape(address)}</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{escape(resource_uri)}</w:ResourceURI><w:SelectorSet>"
        f'<w:Selector Name="ShellId">{escape(pool_id)}</w:Selector></w:SelectorSet>'
        f"</a:ReferenceParameters></x:ResourceCreated>"
        f"<rsp:Shell><rsp:ShellId>{escape(pool_id)}</rsp:ShellId>"
        f"<rsp:ResourceUri>{escape(resource_uri)}</rsp:ResourceUri>"
        f"<rsp:Owner>{escape(owner)}</rsp:Owner><rsp:ClientIP>{escape(client_ip)}</rsp:ClientIP>"
        f"<rsp:InputStreams>{escape(input_streams)}</rsp:InputStreams>"
        f"<rsp:OutputStreams>{escape(output_streams)}</rsp:OutputStreams></rsp:Shell>"
    )
    return soap.envelope(soap.TRANSFER + "/CreateResponse", relates_to, body)


def _receive_response(relates_to: str, command_id: str, data: bytes, done: bool) -> bytes:
    cid = f" CommandId={quoteattr(command_id)}" if command_id else ""
    parts = ["<rsp:ReceiveResponse>"]
    if data:
        parts.append(f'<rsp:Stream Name="stdout"{cid}>{base64.b64encode(data).decode("ascii")}'
                     "</rsp:Stream>")
    if command_id:
        state = soap.STATE_DONE if done else soap.STATE_RUNNING
        parts.append(f'<rsp:CommandState{cid} State="{state}"/>')
    parts.append("</rsp:ReceiveResponse>")
    return soap.envelope(soap.SHELL + "/ReceiveResponse", relates_to, "".join(parts))

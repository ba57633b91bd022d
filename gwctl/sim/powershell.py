"""Session configurations of an emulated host: what PowerShell remoting may run there.

`gwctl sim up --jea` (and `gwctl.sim.jea.install_module`) registers the session
configuration `gwctl host-setup` wrote, as ``Register-PSSessionConfiguration`` would: its
``.pssc`` is kept under ``SESSION_CONFIG_DIR`` in the host's directory. A registered
configuration is a JEA endpoint (``SessionType = 'RestrictedRemoteServer'``): a runspace in
no-language mode that sees only the functions its role capability's ``VisibleFunctions``
lists. Each of those is the Python twin of the generated module's function
(``Invoke-GwctlStep`` in ``templates/jea-runner.psm1.in``): the request parameter is the
operation's wire request, run with `gwctl.ops.pyimpl.DirectoryHost.dispatch_wire` under
the host's allowlist and pins, and the output is the runner's one ``GWCTL-RESULT`` line;
``Invoke-GwctlBatch`` runs a batch request the same way, up to its first failing step.

Refusals carry the error records PowerShell sends: a script (``AddScript``) in a
no-language runspace fails with ``ScriptsNotAllowed`` (a ``ParseException``; PowerShell's
``Command.CreateCommandProcessor`` throws it for a script command in NoLanguage mode,
PowerShell/PowerShell ``src/System.Management.Automation/engine/hostifaces/Command.cs``,
text in ``resources/ParserStrings.resx``), a command the role does not make visible with
``CommandNotFoundException``, a parameter the function does not declare with
``NamedParameterNotFound``. Not emulated: the cmdlets JEA always adds (``Get-Command``,
``Select-Object``, ...) are refused like any other invisible command, and the default
``Microsoft.PowerShell`` configuration is not offered (an unrestricted PowerShell is the
one thing a simulator that executes nothing cannot be).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from psrpcore.types import ErrorCategory

from gwctl.errors import OperationError
from gwctl.ops import OPERATIONS
from gwctl.ops.jea import BATCH_FUNCTION, ROLE_NAME, function_name
from gwctl.ops.jea_policy import MODULE_DIR, POLICY_PATH
from gwctl.ops.pyimpl import DirectoryHost
from gwctl.ops.wire import bad_request, format_result, is_batch, split_stdin
from gwctl.sim.wsman.psrp import Invocation, PipelineFailure

#: where Register-PSSessionConfiguration keeps a configuration's file
SESSION_CONFIG_DIR = r"C:\Windows\System32\WindowsPowerShell\v1.0\SessionConfig"

_NO_LANGUAGE = ("The syntax is not supported by this runspace. This can occur if the runspace "
                "is in no-language mode.")
_NOT_FOUND = ("The term '{name}' is not recognized as the name of a cmdlet, function, script "
              "file, or operable program. Check the spelling of the name, or if a path was "
              "included, verify that the path is correct and try again.")
_STRING = re.compile(r"'((?:[^']|'')*)'")
#: lower-case function name -> its operation (None: the batch function)
_FUNCTIONS: dict[str, str | None] = {function_name(op).lower(): op for op in OPERATIONS}
_FUNCTIONS[BATCH_FUNCTION.lower()] = None


def registered_path(host: DirectoryHost, name: str) -> Path:
    return host.map_path(f"{SESSION_CONFIG_DIR}\\{name}.pssc")


def _strings(text: str, key: str) -> list[str] | None:
    """The single-quoted values of ``key = ...`` in a PowerShell data file gwctl wrote."""
    match = re.search(rf"^\s*{re.escape(key)}\s*=\s*(@\(.*?\)|'(?:[^']|'')*')\s*$", text,
                      re.MULTILINE | re.IGNORECASE)
    if match is None:
        return None
    return [m.replace("''", "'") for m in _STRING.findall(match.group(1))]


class JeaConfiguration:
    """A registered restricted session configuration (the twin of a JEA endpoint)."""

    def __init__(self, host: DirectoryHost, visible: frozenset[str]) -> None:
        self.host = host
        #: lower-case names of the visible functions that are gwctl operations
        self.visible = visible

    def invoke(self, commands: Sequence[Invocation], input: Sequence[Any]) -> list[Any]:
        output: list[Any] = []
        for command in commands:
            if command.is_script:
                raise PipelineFailure(_NO_LANGUAGE, "ScriptsNotAllowed",
                                      ErrorCategory.ParserError,
                                      "System.Management.Automation.ParseException")
            key = command.name.lower()
            if key not in self.visible:
                raise PipelineFailure(_NOT_FOUND.format(name=command.name),
                                      "CommandNotFoundException", ErrorCategory.ObjectNotFound,
                                      "System.Management.Automation.CommandNotFoundException",
                                      command.name)
            output.append(self._function(_FUNCTIONS[key], command))
        return output

    def _function(self, op: str | None, command: Invocation) -> str:
        name = BATCH_FUNCTION if op is None else function_name(op)
        request: Any = None
        for key, value in command.parameters:
            if key is not None and key.lstrip("-").lower() != "request":
                raise PipelineFailure(
                    f"A parameter cannot be found that matches parameter name "
                    f"'{key.lstrip('-')}'.", f"NamedParameterNotFound,{name}",
                    ErrorCategory.InvalidArgument,
                    "System.Management.Automation.ParameterBindingException")
            request = value
        if not isinstance(request, str):
            raise PipelineFailure(
                "Cannot process command because of one or more missing mandatory "
                "parameters: Request.", f"MissingMandatoryParameter,{name}",
                ErrorCategory.InvalidArgument,
                "System.Management.Automation.ParameterBindingException")
        return _step(self.host, op, request.encode("utf-8"))


def _step(host: DirectoryHost, op: str | None, request: bytes) -> str:
    """The module's ``Invoke-GwctlStep`` (`op`) or ``Invoke-GwctlBatchRequest`` (None), as
    jea-runner.psm1.in has them: their one result line."""
    try:
        if host.jea_policy() is None:
            raise OperationError(f"{POLICY_PATH} is missing: no operation may run",
                                 code="failed")
        header, _ = split_stdin(request)
        if op is None and not is_batch(header):
            raise bad_request(f"this function runs a batch, not '{header.get('op') or ''}'")
        if op is not None and header.get("op") != op:
            raise bad_request(f"this function runs '{op}', not '{header.get('op') or ''}'")
    except OperationError as exc:
        stdout, _ = format_result(exc)
    else:
        stdout, _ = host.dispatch_wire(request)
    return stdout.decode("ascii").rstrip("\r\n")


def session_configuration(host: DirectoryHost, name: str) -> JeaConfiguration | None:
    """The configuration registered on `host` under `name`, None when there is none."""
    if not re.match(r"^[A-Za-z][A-Za-z0-9._-]{0,63}$", name):
        return None
    try:
        pssc = registered_path(host, name).read_text("utf-8-sig")
    except (FileNotFoundError, NotADirectoryError):
        return None
    visible: set[str] = set()
    if (_strings(pssc, "SessionType") or [""])[0].lower() != "restrictedremoteserver":
        return None
    for role in _strings(pssc, "RoleCapabilities") or []:
        if role != ROLE_NAME:
            continue
        psrc = host.map_path(f"{MODULE_DIR}\\RoleCapabilities\\{ROLE_NAME}.psrc")
        try:
            functions = _strings(psrc.read_text("utf-8-sig"), "VisibleFunctions") or []
        except FileNotFoundError:
            continue
        visible |= {f.lower() for f in functions if f.lower() in _FUNCTIONS}
    return JeaConfiguration(host, frozenset(visible))

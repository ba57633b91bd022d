"""SOAP envelopes of the WinRM shell protocol ([MS-WSMV]): parse requests, build responses.

Requests are parsed with ``xml.etree`` by namespace URI, never by prefix: pywinrm writes
``env:``, Windows' own client ``s:``. Responses are built from escaped text templates with
the prefixes Windows uses, because ``ElementTree.register_namespace`` is process-global
state other code in the same process may depend on.
"""

from __future__ import annotations

import base64
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

SOAP = "http://www.w3.org/2003/05/soap-envelope"
ADDRESSING = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
MS_WSMAN = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
WSMAN_FAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
WMI_ERROR = "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError"

ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
CMD_RESOURCE_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"

ACTION_CREATE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create"
ACTION_DELETE = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete"
ACTION_COMMAND = SHELL + "/Command"
ACTION_SEND = SHELL + "/Send"
ACTION_RECEIVE = SHELL + "/Receive"
ACTION_SIGNAL = SHELL + "/Signal"
ACTION_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"

STATE_RUNNING = SHELL + "/CommandState/Running"
STATE_DONE = SHELL + "/CommandState/Done"

# Fault codes as Windows sends them in WSManFault/@Code (values from winerror.h / wsman.h).
OPERATION_TIMEOUT = 2150858793  # ERROR_WSMAN_OPERATION_TIMEDOUT; pywinrm retries Receive on it
SHELL_NOT_FOUND = 2150858843  # what Windows answers for an unknown ShellId
INVALID_ACTION = 2150858753  # ERROR_WSMAN_INVALID_ACTIONURI
INVALID_SOAP_BODY = 2150858791  # ERROR_WSMAN_INVALID_SOAP_BODY
INVALID_XML = 2150858819  # ERROR_WSMAN_INVALID_XML
INVALID_SELECTORS = 2150858813  # ERROR_WSMAN_INVALID_SELECTORS
INVALID_COMMAND = 2150859085  # ERROR_WSMAN_SHELL_INVALID_COMMAND_HANDLE
QUOTA_MAX_SHELLS = 2150859173  # ERROR_WSMAN_QUOTA_MAX_SHELLS
QUOTA_MAX_OPERATIONS = 2150859174  # ERROR_WSMAN_QUOTA_MAX_OPERATIONS (Ansible re-creates the shell)
PROVIDER_FAILURE = 2150858755  # ERROR_WSMAN_PROVIDER_FAILURE

_DEFAULT_REASONS: dict[int, str] = {
    OPERATION_TIMEOUT: (
        "The WS-Management service cannot complete the operation within the time specified "
        "in OperationTimeout."
    ),
    SHELL_NOT_FOUND: (
        "The request for the Windows Remote Shell with ShellId {shell_id} failed because the "
        "shell was not found on the server. Possible causes are: the specified ShellId is "
        "incorrect or the shell no longer exists on the server. Provide the correct ShellId "
        "or create a new shell and retry the operation."
    ),
    INVALID_ACTION: "The WS-Management service cannot process the request. The WS-Addressing "
    "action URI is invalid.",
    INVALID_SOAP_BODY: "The WS-Management service cannot process the request because the "
    "request body is invalid.",
    INVALID_XML: "The WS-Management service cannot process the request because the XML is invalid.",
    QUOTA_MAX_SHELLS: "The WS-Management service cannot process the request. This user is "
    "allowed a maximum number of {limit} concurrent shells, which has been exceeded.",
    QUOTA_MAX_OPERATIONS: "The WS-Management service cannot process the request. This user is "
    "allowed a maximum number of {limit} concurrent operations, which has been exceeded.",
}

_SUBCODES: dict[int, str] = {
    OPERATION_TIMEOUT: "w:TimedOut",
    SHELL_NOT_FOUND: "w:InvalidSelectors",
    INVALID_SELECTORS: "w:InvalidSelectors",
    INVALID_ACTION: "a:ActionNotSupported",
    INVALID_SOAP_BODY: "w:SchemaValidationError",
    INVALID_XML: "w:SchemaValidationError",
    QUOTA_MAX_SHELLS: "w:QuotaLimit",
    QUOTA_MAX_OPERATIONS: "w:QuotaLimit",
}

# Ansible's winrm plugin reads the quota code from MSFT_WmiError, not from WSManFault.
_WMI_ERROR_CODES = frozenset({QUOTA_MAX_OPERATIONS, QUOTA_MAX_SHELLS})


class WsmanFault(Exception):
    """A WS-Management fault: answered as HTTP 500 with an ``s:Fault`` envelope."""

    def __init__(self, code: int, reason: str | None = None, **fmt: object) -> None:
        text = reason or _DEFAULT_REASONS.get(
            code, f"The WS-Management service failed (0x{code:08X})."
        )
        if fmt:
            text = text.format(**fmt)
        super().__init__(text)
        self.code = code
        self.reason = text


@dataclass(frozen=True)
class WsmanRequest:
    """The parts of a request envelope the shell service acts on."""

    action: str
    message_id: str
    resource_uri: str
    shell_id: str | None
    operation_timeout: float | None
    options: dict[str, str] = field(default_factory=dict)
    body: ET.Element | None = None


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?"
    r"(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> float | None:
    """Seconds of an xs:duration such as ``PT20S`` or ``PT60.000S``; None when unreadable."""
    match = _DURATION.match(text.strip())
    if not match or text.strip() in ("P", "PT"):
        return None
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def parse_request(data: bytes) -> WsmanRequest:
    """Parse a (decrypted) request envelope; raise `WsmanFault` when it is not one."""
    # expat expands internal entities; a DTD has no business in WS-Management traffic
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data:
        raise WsmanFault(INVALID_XML)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise WsmanFault(INVALID_XML, f"The request is not well-formed XML: {exc}") from exc
    header = root.find(_q(SOAP, "Header"))
    if root.tag != _q(SOAP, "Envelope") or header is None:
        raise WsmanFault(INVALID_XML, "The request is not a SOAP 1.2 envelope.")

    def text(ns: str, tag: str) -> str:
        node = header.find(_q(ns, tag))
        return (node.text or "").strip() if node is not None else ""

    shell_id = None
    for selector in header.iter(_q(WSMAN, "Selector")):
        if selector.get("Name") == "ShellId":
            shell_id = (selector.text or "").strip()
    options: dict[str, str] = {}
    for option in header.iter(_q(WSMAN, "Option")):
        options[option.get("Name", "")] = (option.text or "").strip()
    timeout_text = text(WSMAN, "OperationTimeout")
    return WsmanRequest(
        action=text(ADDRESSING, "Action"),
        message_id=text(ADDRESSING, "MessageID"),
        resource_uri=text(WSMAN, "ResourceURI"),
        shell_id=shell_id,
        operation_timeout=parse_duration(timeout_text) if timeout_text else None,
        options=options,
        body=root.find(_q(SOAP, "Body")),
    )


def find(body: ET.Element | None, *path: str) -> ET.Element | None:
    """Descend from the body through elements of the shell namespace."""
    node = body
    for tag in path:
        if node is None:
            return None
        node = node.find(_q(SHELL, tag))
    return node


def iter_shell(body: ET.Element | None, tag: str) -> list[ET.Element]:
    """All elements named `tag` (shell namespace) anywhere below `body`."""
    return [] if body is None else list(body.iter(_q(SHELL, tag)))


# ---------------------------------------------------------------- responses

_ENVELOPE_OPEN = (
    '<s:Envelope xml:lang="en-US" xmlns:s="' + SOAP + '" xmlns:a="' + ADDRESSING + '" '
    'xmlns:x="' + TRANSFER + '" xmlns:w="' + WSMAN + '" xmlns:rsp="' + SHELL + '" '
    'xmlns:p="' + MS_WSMAN + '">'
)


def envelope(action: str, relates_to: str, body: str) -> bytes:
    """A response envelope; `relates_to` echoes the request's MessageID (pywinrm checks it)."""
    header = (
        f"<s:Header><a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{uuid.uuid4()}</a:MessageID>"
        f"<a:To>{ANONYMOUS}</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header>"
    )
    body_xml = f"<s:Body>{body}</s:Body>" if body else "<s:Body/>"
    return (_ENVELOPE_OPEN + header + body_xml + "</s:Envelope>").encode("utf-8")


def create_response(
    relates_to: str,
    *,
    address: str,
    shell_id: str,
    owner: str,
    client_ip: str,
    idle_timeout: float,
    input_streams: str,
    output_streams: str,
) -> bytes:
    body = (
        f"<x:ResourceCreated><a:Address>{escape(address)}</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{CMD_RESOURCE_URI}</w:ResourceURI><w:SelectorSet>"
        f'<w:Selector Name="ShellId">{escape(shell_id)}</w:Selector></w:SelectorSet>'
        f"</a:ReferenceParameters></x:ResourceCreated>"
        f"<rsp:Shell><rsp:ShellId>{escape(shell_id)}</rsp:ShellId>"
        f"<rsp:ResourceUri>{CMD_RESOURCE_URI}</rsp:ResourceUri>"
        f"<rsp:Owner>{escape(owner)}</rsp:Owner><rsp:ClientIP>{escape(client_ip)}</rsp:ClientIP>"
        f"<rsp:IdleTimeOut>PT{idle_timeout:.3f}S</rsp:IdleTimeOut>"
        f"<rsp:InputStreams>{escape(input_streams)}</rsp:InputStreams>"
        f"<rsp:OutputStreams>{escape(output_streams)}</rsp:OutputStreams>"
        f"<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>"
        f"<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity></rsp:Shell>"
    )
    return envelope(TRANSFER + "/CreateResponse", relates_to, body)


def command_response(relates_to: str, command_id: str) -> bytes:
    body = (
        f"<rsp:CommandResponse><rsp:CommandId>{escape(command_id)}</rsp:CommandId>"
        "</rsp:CommandResponse>"
    )
    return envelope(SHELL + "/CommandResponse", relates_to, body)


def send_response(relates_to: str) -> bytes:
    return envelope(SHELL + "/SendResponse", relates_to, "<rsp:SendResponse/>")


def receive_response(
    relates_to: str,
    command_id: str,
    *,
    stdout: bytes,
    stderr: bytes,
    done: bool,
    exit_code: int,
) -> bytes:
    cid = quoteattr(command_id)
    end = ' End="true"' if done else ""
    parts = ["<rsp:ReceiveResponse>"]
    for name, data in (("stdout", stdout), ("stderr", stderr)):
        if data:
            parts.append(
                f'<rsp:Stream Name="{name}" CommandId={cid}>'
                f"{base64.b64encode(data).decode('ascii')}</rsp:Stream>"
            )
        if done:
            parts.append(f'<rsp:Stream Name="{name}" CommandId={cid}{end}></rsp:Stream>')
    if done:
        parts.append(
            f'<rsp:CommandState CommandId={cid} State="{STATE_DONE}">'
            f"<rsp:ExitCode>{int(exit_code)}</rsp:ExitCode></rsp:CommandState>"
        )
    else:
        parts.append(f'<rsp:CommandState CommandId={cid} State="{STATE_RUNNING}"/>')
    parts.append("</rsp:ReceiveResponse>")
    return envelope(SHELL + "/ReceiveResponse", relates_to, "".join(parts))


def signal_response(relates_to: str) -> bytes:
    return envelope(SHELL + "/SignalResponse", relates_to, "<rsp:SignalResponse/>")


def delete_response(relates_to: str) -> bytes:
    return envelope(TRANSFER + "/DeleteResponse", relates_to, "")


def fault_response(fault: WsmanFault, relates_to: str, machine: str) -> bytes:
    subcode = _SUBCODES.get(fault.code, "w:InternalError")
    wmi = ""
    if fault.code in _WMI_ERROR_CODES:
        wmi = (
            f'<p:MSFT_WmiError xmlns:p="{WMI_ERROR}"><p:error_Code>{fault.code}</p:error_Code>'
            f"<p:Message>{escape(fault.reason)}</p:Message></p:MSFT_WmiError>"
        )
    body = (
        f"<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>{subcode}</s:Value>"
        f'</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text>'
        f'</s:Reason><s:Detail><f:WSManFault xmlns:f="{WSMAN_FAULT}" Code="{fault.code}" '
        f"Machine={quoteattr(machine)}><f:Message>{escape(fault.reason)}</f:Message>"
        f"</f:WSManFault>{wmi}</s:Detail></s:Fault>"
    )
    return envelope(ACTION_FAULT, relates_to, body)

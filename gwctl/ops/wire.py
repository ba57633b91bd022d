"""The WinRM wire format of remote operations, both directions.

Client side (a transport): `bootstrap_args` / `bootstrap_command` for the command line,
`encode_stdin` for what goes through WS-Management ``Send``, `parse_result` for stdout.
Host side (the simulator, through `gwctl.ops.pyimpl`): `is_bootstrap_command`,
`decode_stdin`, `format_result`. See docs/remote-operations.md, "Wire format".
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gwctl.errors import OperationError, TransportError
from gwctl.ops import BOOTSTRAP, compact, read_script

RESULT_PREFIX = "GWCTL-RESULT "
POWERSHELL_EXE = "powershell.exe"
POWERSHELL_FLAGS: tuple[str, ...] = ("-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass")

#: base64 characters per payload line on stdin; the bootstrap accepts any length
PAYLOAD_LINE = 8192

# powershell.exe 5.1 switches a bootstrap command line may carry: name -> (shortest
# accepted prefix, takes a value, extra aliases), as its ConsoleHost matches them
_SWITCHES: dict[str, tuple[str, bool, tuple[str, ...]]] = {
    "nologo": ("nol", False, ()),
    "noprofile": ("nop", False, ()),
    "noninteractive": ("noni", False, ()),
    "executionpolicy": ("ex", True, ("ep",)),
    "inputformat": ("in", True, ("if",)),
    "outputformat": ("o", True, ("of",)),
    "windowstyle": ("w", True, ()),
    "encodedcommand": ("e", True, ("ec",)),
}
_EXECUTABLES = frozenset({"powershell", "powershell.exe", "pwsh", "pwsh.exe"})


@dataclass(frozen=True)
class WireRequest:
    """One decoded stdin of the wire format."""

    op: str
    script: bytes
    params: dict[str, Any]
    payload: bytes


def bootstrap_text() -> str:
    """The bootstrap as it travels on the command line.

    Comment lines (its header line aside) and indentation are left out: cmd.exe takes at
    most 8,191 characters and UTF-16 + base64 makes each script character 2.7 of them.
    The bootstrap holds no here-string, so no line's meaning depends on either.
    """
    first, rest = read_script(BOOTSTRAP).split("\n", 1)
    return first + "\n" + compact(rest)


def encode_command(script: str) -> str:
    """``-EncodedCommand`` form of a script: base64 of its UTF-16LE text."""
    return base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def bootstrap_args() -> list[str]:
    """Arguments of ``powershell.exe`` that start the bootstrap (for a Command + Arguments)."""
    return [*POWERSHELL_FLAGS, "-EncodedCommand", encode_command(bootstrap_text())]


def bootstrap_command() -> str:
    """The whole command line that starts the bootstrap."""
    return " ".join([POWERSHELL_EXE, *bootstrap_args()])


def encode_stdin(op: str, params: Mapping[str, Any], payload: bytes | None = None) -> bytes:
    """Stdin for one operation: header line, then the payload as base64 lines.

    The header is pure ASCII (``ensure_ascii``) so that no console code page on the host
    can change it before the bootstrap decodes it.
    """
    header = {
        "op": op,
        "script": base64.b64encode(read_script(op).encode("utf-8")).decode("ascii"),
        "params": dict(params),
    }
    lines = [json.dumps(header, ensure_ascii=True, separators=(",", ":")).encode("ascii")]
    encoded = base64.b64encode(payload or b"")
    lines += [encoded[i : i + PAYLOAD_LINE] for i in range(0, len(encoded), PAYLOAD_LINE)]
    return b"\n".join(lines) + b"\n"


def bad_request(message: str) -> OperationError:
    return OperationError(message, code="bad_request")


def b64decode(data: bytes, what: str) -> bytes:
    try:
        return base64.b64decode(re.sub(rb"\s+", b"", data), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad_request(f"{what} is not valid base64: {exc}") from exc


def split_stdin(stdin: bytes) -> tuple[dict[str, Any], bytes]:
    """The JSON header of raw stdin (an object) and the payload lines after it."""
    stdin = stdin.removeprefix(b"\xef\xbb\xbf")
    first, _, rest = stdin.partition(b"\n")
    try:
        header = json.loads(first.rstrip(b"\r").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request(f"stdin line 1 is not a JSON header: {exc}") from exc
    if not isinstance(header, dict):
        raise bad_request("stdin line 1 must be a JSON object")
    return header, rest


def is_batch(header: dict[str, Any]) -> bool:
    """Whether a stdin header asks for a batch (docs/remote-operations.md, "Batches")."""
    return header.get("batch") is not None


def _check_header(header: dict[str, Any]) -> dict[str, Any]:
    for key, kind in (("op", str), ("script", str), ("params", dict)):
        if not isinstance(header.get(key), kind):
            raise bad_request(f"header field {key!r} must be a {kind.__name__}")
    return header


def decode_stdin(stdin: bytes) -> WireRequest:
    """Split raw stdin of one operation into header and payload; code ``bad_request`` when
    malformed."""
    header, rest = split_stdin(stdin)
    return decode_single(header, rest)


def decode_single(header: dict[str, Any], rest: bytes) -> WireRequest:
    """The request of a one-operation header and the payload lines after it."""
    _check_header(header)
    script = b64decode(header["script"].encode("ascii", "replace"), "header field 'script'")
    return WireRequest(header["op"], script, header["params"], b64decode(rest, "payload"))


def ascii_json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def format_result(outcome: Mapping[str, Any] | OperationError) -> tuple[bytes, int]:
    """Stdout and exit code a host prints for a result dict or a failure."""
    if isinstance(outcome, OperationError):
        body: dict[str, Any] = {
            "ok": False,
            "code": outcome.code,
            "message": outcome.message,
            "detail": outcome.detail,
        }
    else:
        body = {"ok": True, "result": dict(outcome)}
    line = RESULT_PREFIX.encode("ascii") + ascii_json(body) + b"\r\n"
    return line, 0 if body["ok"] else 1


def _tail(data: bytes, limit: int = 400) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def _result_line(stdout: bytes) -> str | None:
    found = None
    for raw in stdout.decode("utf-8", "replace").splitlines():
        if raw.startswith(RESULT_PREFIX):
            found = raw[len(RESULT_PREFIX) :]
    return found


def parse_result(
    stdout: bytes, exit_code: int | None = None, stderr: bytes = b"", *, envelope: bool = False
) -> dict[str, Any]:
    """The result of an operation from the host's stdout.

    Raises `OperationError` when the operation reported failure and `TransportError`
    when stdout carries no well-formed result line (the script never ran to its end).
    With `envelope`, the whole result line of a batch is returned whatever its ``ok``,
    unless it is a failure of the request itself (no ``steps``).
    """
    line = _result_line(stdout)
    if line is None:
        raise TransportError(
            f"remote operation printed no result (exit code {exit_code}): "
            f"{_tail(stderr) or _tail(stdout) or 'no output'}"
        )
    try:
        body = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TransportError(f"remote operation printed a malformed result: {exc}") from exc
    if not isinstance(body, dict) or not isinstance(body.get("ok"), bool):
        raise TransportError("remote operation printed a result without 'ok'")
    if envelope and "steps" in body:
        return body
    if not body["ok"]:
        detail = body.get("detail")
        raise OperationError(
            str(body.get("message") or "remote operation failed"),
            code=str(body.get("code") or "failed"),
            detail=detail if isinstance(detail, dict) else None,
        )
    result = body.get("result")
    if not isinstance(result, dict):
        raise TransportError("remote operation printed a result that is not an object")
    return result


def normalize_script(data: bytes) -> bytes:
    """Script bytes with BOM and line-ending differences removed.

    A checkout with CRLF line endings on one side must not make a packaged script
    unrecognisable on the other.
    """
    return data.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n")


def _switch_name(token: str) -> str | None:
    if not token.startswith("-") or len(token) < 2:
        return None
    key = token[1:].lower()
    for name, (shortest, _, aliases) in _SWITCHES.items():
        if key in aliases or (name.startswith(key) and key.startswith(shortest)):
            return name
    return None


def _encoded_argument(tokens: list[str]) -> str | None:
    """The value of the one ``-EncodedCommand`` among known switches, else None."""
    encoded: list[str] = []
    i = 0
    while i < len(tokens):
        name = _switch_name(tokens[i])
        if name is None:
            return None
        takes_value = _SWITCHES[name][1]
        if takes_value and i + 1 >= len(tokens):
            return None
        if name == "encodedcommand":
            encoded.append(tokens[i + 1])
        i += 2 if takes_value else 1
    return encoded[0] if len(encoded) == 1 else None


def _executable_name(token: str) -> str:
    return re.split(r"[\\/]", token.strip('"'))[-1].lower()


def is_bootstrap_command(command_line: str) -> bool:
    """Whether a command line starts exactly gwctl's packaged bootstrap.

    Only ``powershell``/``pwsh`` with known switches and one ``-EncodedCommand`` whose
    text equals ``bootstrap.ps1`` qualifies: a host emulation runs nothing else.
    """
    tokens = command_line.split()
    if not tokens or _executable_name(tokens[0]) not in _EXECUTABLES:
        return False
    encoded = _encoded_argument(tokens[1:])
    if encoded is None:
        return False
    try:
        text = base64.b64decode(encoded, validate=True).decode("utf-16-le")
    except (binascii.Error, ValueError):
        return False
    expected = bootstrap_text().encode("utf-8")
    return normalize_script(text.encode("utf-8")) == normalize_script(expected)

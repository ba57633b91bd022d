"""Batches: several operations in one remote command (docs/remote-operations.md, "Batches").

Every remote command costs a PowerShell start and several WS-Management round trips, so
the engine sends the steps of an apply that belong together as one batch: the bootstrap
runs them in order and stops at the first failure. Each step is an ordinary operation with
its own script, parameters and payload; nothing about what an operation does changes.

Client side: `encode_batch` (stdin), `parse_batch_result` (stdout -> each step's result, or
`BatchError`). Host side (the Python twin): `decode_batch`, `format_batch_result`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gwctl.errors import OperationError, TransportError
from gwctl.ops import OPERATIONS, RETRYABLE_OPS, read_script
from gwctl.ops.wire import (
    PAYLOAD_LINE,
    RESULT_PREFIX,
    WireRequest,
    ascii_json,
    b64decode,
    bad_request,
    parse_result,
)


@dataclass(frozen=True)
class Step:
    """One operation of a batch."""

    op: str
    params: Mapping[str, Any] = field(default_factory=dict)
    payload: bytes | None = None


class BatchError(OperationError):
    """A step of a batch reported failure; the steps before it ran, the rest did not.

    ``code``, ``message`` and ``detail`` are the failed step's, so a caller that treats the
    batch like its failing operation (``locked``, ``conflict``) needs nothing more.
    """

    def __init__(self, error: OperationError, *, index: int, op: str,
                 results: list[dict[str, Any]], not_run: list[str]) -> None:
        super().__init__(error.message, code=error.code, detail=error.detail)
        #: position of the failed step in the batch (from 0) and its operation
        self.index = index
        self.op = op
        #: results of the steps before it, which ran and succeeded
        self.results = results
        #: operations of the steps after it, which never ran
        self.not_run = not_run


def named(exc: OperationError, host: str, op: str) -> OperationError:
    """`exc` with its message prefixed by host and operation, as transports report it."""
    error = OperationError(f"{host}: {op}: {exc.message}", code=exc.code, detail=exc.detail)
    if isinstance(exc, BatchError):
        return BatchError(error, index=exc.index, op=exc.op, results=exc.results,
                          not_run=exc.not_run)
    return error


def describe(steps: Sequence[Step]) -> str:
    """A batch for messages: its operations joined with '+'."""
    return "+".join(s.op for s in steps)


def retryable(steps: Sequence[Step]) -> bool:
    """A batch may be sent again after a broken exchange only if every step may."""
    return all(step.op in RETRYABLE_OPS for step in steps)


def check_steps(steps: Sequence[Step]) -> None:
    if not steps:
        raise ValueError("a batch needs at least one step")
    for step in steps:
        if step.op not in OPERATIONS:
            raise ValueError(f"unknown remote operation {step.op!r}")


def encode_batch(steps: Sequence[Step]) -> bytes:
    """Stdin for a batch: one ASCII JSON header line, then every payload as base64.

    The header lists the steps with the number of base64 characters of each payload
    (``payload_chars``) and carries each operation's script once, however many steps
    use it. Payloads follow in step order, cut into lines of any length.
    """
    check_steps(steps)
    scripts = {s.op: base64.b64encode(read_script(s.op).encode("utf-8")).decode("ascii")
               for s in steps}
    encoded = [base64.b64encode(s.payload or b"") for s in steps]
    header = {
        "batch": [{"op": s.op, "params": dict(s.params), "payload_chars": len(e)}
                  for s, e in zip(steps, encoded, strict=True)],
        "scripts": scripts,
    }
    body = b"".join(encoded)
    lines = [ascii_json(header)]
    lines += [body[i : i + PAYLOAD_LINE] for i in range(0, len(body), PAYLOAD_LINE)]
    return b"\n".join(lines) + b"\n"


def decode_batch(header: Mapping[str, Any], rest: bytes) -> list[tuple[WireRequest, str | None]]:
    """The steps of a batch header (host side), each with its script; code ``bad_request``
    when malformed. A step whose script is missing gets None (the host refuses it when its
    turn comes, as the bootstrap fails it then)."""
    steps, scripts = header.get("batch"), header.get("scripts")
    if not isinstance(steps, list) or not isinstance(scripts, dict):
        raise bad_request("a batch header needs a 'batch' list and a 'scripts' object")
    body = b"".join(rest.split()).decode("ascii", "replace")
    out: list[tuple[WireRequest, str | None]] = []
    at = 0
    for number, item in enumerate(steps, 1):
        if not isinstance(item, dict) or not isinstance(item.get("op"), str) \
                or not isinstance(item.get("params"), dict) \
                or not isinstance(item.get("payload_chars"), int) \
                or isinstance(item.get("payload_chars"), bool) \
                or not 0 <= item["payload_chars"] <= len(body) - at:
            raise bad_request(f"batch step {number} needs op, params and a payload_chars "
                              "within the payload")
        chunk = body[at : at + item["payload_chars"]]
        at += item["payload_chars"]
        script = scripts.get(item["op"])
        payload = b64decode(chunk.encode("ascii"), f"payload of batch step {number}")
        out.append((WireRequest(item["op"], b"", item["params"], payload),
                    script if isinstance(script, str) else None))
    return out


def format_batch_result(steps: Sequence[Mapping[str, Any] | OperationError],
                        not_run: Sequence[str]) -> tuple[bytes, int]:
    """Stdout and exit code of a batch: each step that ran, then the ones that did not."""
    answered = [
        {"ok": False, "code": s.code, "message": s.message, "detail": s.detail}
        if isinstance(s, OperationError) else {"ok": True, "result": dict(s)}
        for s in steps
    ]
    ok = all(a["ok"] for a in answered)
    body = {"ok": ok, "steps": answered, "not_run": list(not_run)}
    return RESULT_PREFIX.encode("ascii") + ascii_json(body) + b"\r\n", 0 if ok else 1


def parse_batch_result(steps: Sequence[Step], stdout: bytes, exit_code: int | None = None,
                       stderr: bytes = b"") -> list[dict[str, Any]]:
    """Each step's result, in order; `BatchError` for a failed step, `TransportError` when
    stdout is not a whole answer to this batch. A failure of the batch as a whole (a
    malformed request) is an `OperationError` as for one operation."""
    body = parse_result(stdout, exit_code, stderr, envelope=True)
    answered, not_run = body.get("steps"), body.get("not_run")
    if not isinstance(answered, list) or not isinstance(not_run, list) \
            or len(answered) + len(not_run) != len(steps) or not answered:
        raise TransportError("remote batch printed a result that does not answer its steps")
    results: list[dict[str, Any]] = []
    for index, (step, item) in enumerate(zip(steps, answered, strict=False)):
        line = RESULT_PREFIX + json.dumps(item)
        try:
            results.append(parse_result(line.encode("utf-8")))
        except OperationError as exc:
            if index != len(answered) - 1:
                raise TransportError("remote batch went on after a failed step") from None
            raise BatchError(exc, index=index, op=step.op, results=results,
                             not_run=[str(o) for o in not_run]) from None
    if not_run:
        raise TransportError("remote batch stopped without a failed step")
    return results


def read_result(host: str, op: str, stdout: bytes, exit_code: int | None, stderr: bytes,
                error: Callable[[str], TransportError]) -> dict[str, Any]:
    """A transport's reading of one operation's output: its result, the operation's
    failure named with host and operation, or `error`'s `TransportError` when the output
    is no answer."""
    try:
        return parse_result(stdout, exit_code, stderr)
    except OperationError as exc:
        raise named(exc, host, op) from None
    except TransportError as exc:
        raise error(f"{op}: {exc.message}") from None


def read_batch_result(host: str, steps: Sequence[Step], stdout: bytes, exit_code: int | None,
                      stderr: bytes, error: Callable[[str], TransportError]
                      ) -> list[dict[str, Any]]:
    """`read_result` for a batch: every step's result, or the failed step's `BatchError`
    named with host and operation."""
    what = describe(steps)
    try:
        return parse_batch_result(steps, stdout, exit_code, stderr)
    except OperationError as exc:
        raise named(exc, host, getattr(exc, "op", what)) from None
    except TransportError as exc:
        raise error(f"{what}: {exc.message}") from None

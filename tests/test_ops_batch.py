"""Batches of remote operations: the wire format both ways, the Python twin's stop-at-first-
failure, and every transport carrying them (docs/remote-operations.md, "Batches")."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from gwctl.errors import OperationError, TransportError
from gwctl.ops import read_script
from gwctl.ops.batch import (
    BatchError,
    Step,
    encode_batch,
    parse_batch_result,
    retryable,
)
from gwctl.ops.pyimpl import DirectoryHost
from gwctl.ops.wire import bootstrap_text, split_stdin
from gwctl.transport.ansible_connection import AnsibleConnectionTransport, command_line
from gwctl.transport.local import LocalTransport

DIR = r"C:\Program Files\Milestone\XProtect API Gateway"
A, B = DIR + r"\a.json", DIR + r"\b.json"


def write(path: str, data: bytes, expected: str = "absent") -> Step:
    return Step("write_file", {"path": path, "sha256": hashlib.sha256(data).hexdigest(),
                               "expected_sha256": expected}, data)


@pytest.fixture
def host(tmp_path: Path) -> DirectoryHost:
    (tmp_path / "C" / "Program Files" / "Milestone" / "XProtect API Gateway").mkdir(
        parents=True)
    return DirectoryHost(tmp_path)


def on_disk(host: DirectoryHost, path: str) -> bytes | None:
    local = host.map_path(path)
    return local.read_bytes() if local.exists() else None


def test_header_carries_each_script_once_and_payload_lengths() -> None:
    steps = [write(A, b"one"), Step("stat", {"paths": [A]}), write(B, b"\x00" * 7000)]
    header, rest = split_stdin(encode_batch(steps))
    assert set(header) == {"batch", "scripts"}
    assert [s["op"] for s in header["batch"]] == ["write_file", "stat", "write_file"]
    assert sorted(header["scripts"]) == ["stat", "write_file"]
    assert base64.b64decode(header["scripts"]["write_file"]).decode() == read_script("write_file")
    chars = [s["payload_chars"] for s in header["batch"]]
    assert chars == [4, 0, len(base64.b64encode(b"\x00" * 7000))]
    body = b"".join(rest.split())
    assert base64.b64decode(body[:4]) == b"one"
    assert base64.b64decode(body[4:]) == b"\x00" * 7000


def test_twin_runs_in_order_and_answers_every_step(host: DirectoryHost) -> None:
    stdout, code = host.dispatch_wire(encode_batch(
        [write(A, b"one"), write(B, b"two"), Step("stat", {"paths": [A, B]})]))
    assert code == 0
    results = parse_batch_result(
        [write(A, b"one"), write(B, b"two"), Step("stat", {"paths": [A, B]})], stdout, code)
    assert [r.get("changed") for r in results[:2]] == [True, True]
    assert results[2]["files"][B]["sha256"] == hashlib.sha256(b"two").hexdigest()
    assert on_disk(host, A) == b"one" and on_disk(host, B) == b"two"


def test_twin_stops_at_the_first_failure(host: DirectoryHost) -> None:
    steps = [write(A, b"one"), write(B, b"two", expected="0" * 64), write(A, b"three",
             expected=hashlib.sha256(b"one").hexdigest()), Step("stat", {"paths": [A]})]
    stdout, code = host.dispatch_wire(encode_batch(steps))
    assert code == 1
    line = json.loads(stdout.decode().removeprefix("GWCTL-RESULT "))
    assert line["ok"] is False and line["not_run"] == ["write_file", "stat"]
    assert [s["ok"] for s in line["steps"]] == [True, False]
    with pytest.raises(BatchError) as caught:
        parse_batch_result(steps, stdout, code)
    err = caught.value
    assert (err.code, err.index, err.op, err.not_run) == ("conflict", 1, "write_file",
                                                           ["write_file", "stat"])
    assert err.detail == {"expected": "0" * 64, "current": "absent"}
    assert err.results == [{"changed": True, "sha256": hashlib.sha256(b"one").hexdigest()}]
    # the step after the failure never ran: A still holds the first write
    assert on_disk(host, A) == b"one" and on_disk(host, B) is None


def test_twin_refuses_a_step_whose_script_is_not_packaged(host: DirectoryHost) -> None:
    header, rest = split_stdin(encode_batch([write(A, b"one"), Step("stat", {"paths": [A]})]))
    header["scripts"]["stat"] = base64.b64encode(b"Remove-Item C:\\ -Recurse").decode()
    stdin = json.dumps(header).encode() + b"\n" + rest
    stdout, code = host.dispatch_wire(stdin)
    with pytest.raises(BatchError) as caught:
        parse_batch_result([write(A, b"one"), Step("stat", {"paths": [A]})], stdout, code)
    assert (caught.value.code, caught.value.index) == ("unknown_script", 1)


@pytest.mark.parametrize("item", [
    {"op": "stat", "params": {}, "payload_chars": 99},
    {"op": "stat", "params": {}},
    {"op": "stat", "params": [], "payload_chars": 0},
    "stat",
])
def test_malformed_batch_is_a_bad_request(host: DirectoryHost, item: Any) -> None:
    header = {"batch": [item], "scripts": {"stat": ""}}
    stdout, code = host.dispatch_wire(json.dumps(header).encode() + b"\n")
    with pytest.raises(OperationError) as caught:
        parse_batch_result([Step("stat", {})], stdout, code)
    assert caught.value.code == "bad_request" and not isinstance(caught.value, BatchError)


@pytest.mark.parametrize("stdout", [
    b"",  # the process died before printing
    b'GWCTL-RESULT {"ok":true,"steps":[{"ok":true,"result":{}}],"not_run":[]}\r\n',
    b'GWCTL-RESULT {"ok":false,"steps":[{"ok":true,"result":{}}],"not_run":["stat"]}\r\n',
    (b'GWCTL-RESULT {"ok":false,"steps":[{"ok":false,"code":"x","message":"m","detail":{}},'
     b'{"ok":true,"result":{}}],"not_run":[]}\r\n'),
])
def test_an_answer_that_does_not_cover_the_batch_is_a_transport_error(stdout: bytes) -> None:
    with pytest.raises(TransportError):
        parse_batch_result([Step("stat", {}), Step("stat", {})], stdout, 1)


def test_only_read_only_batches_are_retryable() -> None:
    assert retryable([Step("stat", {}), Step("list_backups", {})])
    assert not retryable([Step("stat", {}), Step("backup", {})])
    assert not retryable([Step("lock_acquire", {})])


def test_unknown_or_empty_batches_are_refused_before_sending() -> None:
    with pytest.raises(ValueError):
        encode_batch([])
    with pytest.raises(ValueError):
        encode_batch([Step("format_disk", {})])


class _Connection:
    """An Ansible connection to a directory host that starts only gwctl's bootstrap."""

    def __init__(self, host: DirectoryHost) -> None:
        self.host, self.commands = host, 0

    def exec_command(self, cmd: str, in_data: bytes | None = None,
                     sudoable: bool = True) -> tuple[int, bytes, bytes]:
        assert cmd == command_line()
        self.commands += 1
        out, code = self.host.dispatch_wire(in_data or b"")
        return code, out, b""


def test_local_and_ansible_transports_carry_batches(host: DirectoryHost,
                                                    tmp_path: Path) -> None:
    local = LocalTransport("h", tmp_path)
    steps = [write(A, b"one"), Step("stat", {"paths": [A]})]
    assert local.run_batch(steps)[1]["files"][A]["size"] == 3
    connection = _Connection(host)
    ansible = AnsibleConnectionTransport("h", connection)
    with pytest.raises(BatchError) as caught:
        ansible.run_batch([write(B, b"two"), write(A, b"x", expected="absent")])
    assert caught.value.code == "conflict" and caught.value.index == 1
    assert caught.value.message.startswith("h: write_file: ")
    assert connection.commands == 1 and ansible.commands == 1
    assert on_disk(host, B) == b"two" and on_disk(host, A) == b"one"


def test_bootstrap_travels_without_comments_and_still_parses() -> None:
    from test_ops_scripts import syntax_problems

    sent = bootstrap_text()
    assert sent.splitlines()[0] == "# gwctl-operation: bootstrap"
    assert not [line for line in sent.splitlines()[1:] if line.startswith("#")]
    assert "function Invoke-Op" in sent and "not_run" in sent
    assert syntax_problems(sent.encode("utf-8")) == []

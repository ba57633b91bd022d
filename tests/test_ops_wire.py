"""The WinRM wire format: stdin encoding, dispatch on a directory host, result parsing."""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from gwctl.errors import OperationError, TransportError
from gwctl.ops import BOOTSTRAP, OPERATIONS, read_script, script_path
from gwctl.ops.pyimpl import DirectoryHost, FileAppPools, is_bootstrap_command
from gwctl.ops.wire import (
    RESULT_PREFIX,
    bootstrap_args,
    bootstrap_command,
    encode_command,
    encode_stdin,
    parse_result,
)
from gwctl.transport.local import PowerShellAppPools, run_powershell_op

TARGET = r"C:\Program Files\Milestone\XProtect API Gateway\appsettings.Production.json"


@pytest.fixture
def host(tmp_path: Path) -> DirectoryHost:
    (tmp_path / "C" / "Program Files" / "Milestone" / "XProtect API Gateway").mkdir(parents=True)
    return DirectoryHost(tmp_path)


def header_line(op: str, params: dict[str, Any], script: str | None = None) -> bytes:
    text = read_script(op) if script is None else script
    header = {
        "op": op,
        "script": base64.b64encode(text.encode("utf-8")).decode(),
        "params": params,
    }
    return json.dumps(header).encode()


def dispatch(host: DirectoryHost, stdin: bytes) -> dict[str, Any]:
    out, code = host.dispatch_wire(stdin, scripts_dir=script_path("ping").parent)
    assert out.startswith(RESULT_PREFIX.encode()) and out.endswith(b"\r\n")
    assert out.count(b"\n") == 1
    body: dict[str, Any] = json.loads(out[len(RESULT_PREFIX) :])
    assert code == (0 if body["ok"] else 1)
    return body


def test_round_trip_with_payload_in_odd_line_splits(host: DirectoryHost) -> None:
    data = '{"Logging": {"LogLevel": {"Default": "Information"}}, "x": "é€"}'.encode()
    encoded = base64.b64encode(data)
    # lines of 1, 7, 13 ... characters, CRLF and LF mixed, trailing blank lines
    pieces, at, width = [], 0, 1
    while at < len(encoded):
        pieces.append(encoded[at : at + width])
        at, width = at + width, width + 6
    payload = b"".join(p + (b"\r\n" if i % 2 else b"\n") for i, p in enumerate(pieces))
    params = {"path": TARGET, "sha256": hashlib.sha256(data).hexdigest(), "expected_sha256": None}
    body = dispatch(host, header_line("write_file", params) + b"\r\n" + payload + b"\n\n")
    assert body == {"ok": True, "result": {"changed": True, "sha256": params["sha256"]}}
    assert host.map_path(TARGET).read_bytes() == data


def test_encode_stdin_is_what_dispatch_reads(host: DirectoryHost) -> None:
    data = bytes(range(256)) * 100  # more than one payload line
    params = {"path": TARGET, "sha256": hashlib.sha256(data).hexdigest(), "expected_sha256": None}
    stdin = encode_stdin("write_file", params, data)
    assert stdin.split(b"\n", 1)[0].isascii()
    out, code = host.dispatch_wire(stdin)
    assert code == 0
    assert parse_result(out, code)["changed"] is True
    assert host.map_path(TARGET).read_bytes() == data


def test_tampered_script_is_refused(host: DirectoryHost) -> None:
    script = read_script("read_file") + "\nRemove-Item C:\\ -Recurse\n"
    body = dispatch(host, header_line("read_file", {"path": TARGET}, script) + b"\n")
    assert body["ok"] is False and body["code"] == "unknown_script"


def test_script_of_another_operation_is_refused(host: DirectoryHost) -> None:
    stdin = header_line("read_file", {"path": TARGET}, read_script("write_file")) + b"\n"
    assert dispatch(host, stdin)["code"] == "unknown_script"


def test_crlf_checkout_of_a_script_is_still_recognised(host: DirectoryHost) -> None:
    script = read_script("ping").replace("\n", "\r\n")
    assert dispatch(host, header_line("ping", {}, script) + b"\n")["ok"] is True


def test_unknown_op_on_the_wire(host: DirectoryHost) -> None:
    stdin = header_line("ping", {}).replace(b'"op": "ping"', b'"op": "evil"') + b"\n"
    assert dispatch(host, stdin)["code"] == "unknown_op"


@pytest.mark.parametrize(
    "stdin",
    [b"", b"not json\n", b"[1]\n", b'{"op": "ping", "script": "!!", "params": {}}\n'],
)
def test_malformed_stdin(host: DirectoryHost, stdin: bytes) -> None:
    assert dispatch(host, stdin)["code"] == "bad_request"


def test_bad_payload_base64(host: DirectoryHost) -> None:
    stdin = header_line("ping", {}) + b"\nnot*base64\n"
    assert dispatch(host, stdin)["code"] == "bad_request"


def test_operation_failures_travel_with_code_and_detail(host: DirectoryHost) -> None:
    host.map_path(TARGET).write_bytes(b"theirs")
    params = {
        "path": TARGET,
        "sha256": hashlib.sha256(b"mine").hexdigest(),
        "expected_sha256": "absent",
    }
    out, code = host.dispatch_wire(encode_stdin("write_file", params, b"mine"))
    assert code == 1
    with pytest.raises(OperationError) as caught:
        parse_result(out, code)
    assert caught.value.code == "conflict"
    assert caught.value.detail["current"] == hashlib.sha256(b"theirs").hexdigest()


def test_result_line_is_ascii_even_for_non_ascii_results(host: DirectoryHost) -> None:
    (host.root or Path()).joinpath(".host").mkdir()
    (host.root or Path()).joinpath(".host", "hostname").write_text("GRÜN-01", encoding="utf-8")
    out, _ = host.dispatch_wire(encode_stdin("ping", {}))
    assert out.isascii()
    assert parse_result(out)["hostname"] == "GRÜN-01"


def test_parse_result_ignores_other_lines() -> None:
    stdout = b'debug line\r\nGWCTL-RESULT {"ok":true,"result":{"a":1}}\r\ntrailing\r\n'
    assert parse_result(stdout, 0) == {"a": 1}


@pytest.mark.parametrize(
    "stdout",
    [
        b"",
        b"GWCTL-RESULT {oops\r\n",
        b'GWCTL-RESULT {"result":{}}\r\n',
        b'GWCTL-RESULT {"ok":true}',
    ],
)
def test_parse_result_without_a_proper_result(stdout: bytes) -> None:
    with pytest.raises(TransportError):
        parse_result(stdout, 1, b"#< CLIXML boom")


# -- the command line ------------------------------------------------------------------


def test_bootstrap_command_is_recognised() -> None:
    assert is_bootstrap_command(bootstrap_command())
    encoded = bootstrap_args()[-1]
    assert is_bootstrap_command(f"powershell -encodedcommand {encoded}")  # pywinrm's run_ps
    exe = r'"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"'
    assert is_bootstrap_command(f"{exe} -NoP -NonI -ep Bypass -enc {encoded}")


BOOTSTRAP_B64 = encode_command(read_script(BOOTSTRAP))


@pytest.mark.parametrize(
    "line",
    [
        "",
        "cmd.exe /c dir",
        "powershell.exe -EncodedCommand " + encode_command("Remove-Item C:\\ -Recurse"),
        f"powershell.exe -Command Get-Date -EncodedCommand {BOOTSTRAP_B64}",
        f"cmd.exe -EncodedCommand {BOOTSTRAP_B64}",
        "powershell.exe -EncodedCommand",
        "powershell.exe -EncodedCommand ***",
        f"powershell.exe -e {BOOTSTRAP_B64} -e {encode_command('x')}",
    ],
)
def test_other_command_lines_are_not_the_bootstrap(line: str) -> None:
    assert not is_bootstrap_command(line)


def test_bootstrap_command_line_stays_far_below_cmd_limit() -> None:
    # cmd.exe refuses command lines over 8,191 characters; leave room for a prefix (Ansible's
    # is under 100 characters). The JEA allowlist check took it from 4,800 to 6,400.
    assert len(bootstrap_command()) < 7000


# -- a local PowerShell, played by a Python script speaking the same wire ----------------


def fake_powershell(tmp_path: Path, root: Path) -> tuple[str, ...]:
    script = tmp_path / "fake_powershell.py"
    script.write_text(
        "import sys\n"
        "from pathlib import Path\n"
        "from gwctl.ops.pyimpl import DirectoryHost, is_bootstrap_command\n"
        "if not is_bootstrap_command(' '.join(['powershell.exe', *sys.argv[1:]])):\n"
        "    sys.exit(99)\n"
        f"host = DirectoryHost(Path({str(root)!r}))\n"
        "out, code = host.dispatch_wire(sys.stdin.buffer.read())\n"
        "sys.stdout.buffer.write(out)\n"
        "sys.exit(code)\n",
        encoding="utf-8",
    )
    return (sys.executable, str(script))


def test_powershell_app_pools_run_the_packaged_scripts(tmp_path: Path) -> None:
    root = tmp_path / "root"
    FileAppPools(root).ensure("VideoOS ApiGateway AppPool", state="Stopped")
    pools = PowerShellAppPools(fake_powershell(tmp_path, root))
    assert pools.state("videoos apigateway apppool")["state"] == "Stopped"
    assert pools.recycle("VideoOS ApiGateway AppPool")["state"] == "Started"
    with pytest.raises(OperationError) as caught:
        pools.recycle("missing")
    assert caught.value.code == "not_found"


def test_run_powershell_op_without_result(tmp_path: Path) -> None:
    silent = (sys.executable, "-c", "import sys; sys.stderr.write('access denied')")
    with pytest.raises(TransportError, match="access denied"):
        run_powershell_op("ping", {}, executable=silent)
    with pytest.raises(TransportError):
        run_powershell_op("ping", {}, executable=(str(tmp_path / "no-such-exe"),))


def test_every_operation_is_accepted_on_the_wire(host: DirectoryHost) -> None:
    for op in OPERATIONS:
        out, _ = host.dispatch_wire(encode_stdin(op, {"bogus": 1}))
        body = json.loads(out[len(RESULT_PREFIX) :])
        assert body["code"] == "bad_params", op

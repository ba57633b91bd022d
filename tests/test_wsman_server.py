"""The simulator's WS-Management endpoint, driven by pywinrm over loopback."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
import requests
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMTransportError, WSManFaultError
from winrm.protocol import Protocol

from gwctl.sim.wsman import CommandResult, FaultTable, HostFaults, WsmanServer
from gwctl.sim.wsman.faults import Action, check_step
from gwctl.sim.wsman.shell import split_command_line
from gwctl.sim.wsman.soap import (
    OPERATION_TIMEOUT,
    QUOTA_MAX_OPERATIONS,
    QUOTA_MAX_SHELLS,
    SHELL_NOT_FOUND,
    parse_duration,
)

pytestmark = pytest.mark.timeout(30)

USERS = {"admin": "S3cret!pw", r"CORP\ops": "0ps-pass"}
#: the authentications the simulator's WinRM endpoint accepts with a password
Auth = Literal["basic", "ntlm"]


class Upper:
    """Answers with the upper-cased command line and stdin; optional delay and exit code."""

    def __init__(self, delay: float = 0.0, exit_code: int = 0, repeat: int = 1) -> None:
        self.delay = delay
        self.exit_code = exit_code
        self.repeat = repeat
        self.calls: list[tuple[str, list[str], bytes]] = []

    def run(self, command: str, arguments: list[str], stdin: bytes) -> CommandResult:
        self.calls.append((command, arguments, stdin))
        if self.delay:
            time.sleep(self.delay)
        line = " ".join([command, *arguments]).upper().encode()
        return CommandResult(
            stdout=(line + b"|" + stdin.upper()) * self.repeat,
            stderr=b"warn" if self.exit_code else b"",
            exit_code=self.exit_code,
        )


class Broken:
    def run(self, command: str, arguments: list[str], stdin: bytes) -> CommandResult:
        raise RuntimeError("handler bug")


@pytest.fixture
def handler() -> Upper:
    return Upper()


@pytest.fixture
def server(handler: Upper) -> Iterator[WsmanServer]:
    def resolve(host: str) -> Upper | Broken | None:
        if host == "broken":
            return Broken()
        return handler if host.startswith("gw") else None

    with WsmanServer(resolve, USERS, default_host="gw0") as srv:
        yield srv


def protocol(url: str, transport: Auth = "ntlm", **kw: Any) -> Protocol:
    kw.setdefault("username", "admin")
    kw.setdefault("password", USERS["admin"])
    kw.setdefault("proxy", None)
    return Protocol(url, transport=transport, **kw)


def run(p: Protocol, command: str, stdin: list[bytes] | None = None) -> tuple[bytes, bytes, int]:
    shell = p.open_shell()
    cid = p.run_command(shell, command)
    for i, chunk in enumerate(stdin or []):
        p.send_command_input(shell, cid, chunk, end=i == len(stdin or []) - 1)
    out = p.get_command_output(shell, cid)
    p.cleanup_command(shell, cid)  # asserts RelatesTo == MessageID
    p.close_shell(shell)  # likewise
    return out


# ------------------------------------------------------------------------ pywinrm Session


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_session_run_cmd_and_run_ps(server: WsmanServer, handler: Upper, transport: str) -> None:
    # winrm.Session cuts every path but /wsman off its URL: it reaches the default host
    session = winrm.Session(
        server.base_url + "/wsman", auth=("admin", USERS["admin"]), transport=transport, proxy=None
    )
    r = session.run_cmd("ipconfig", ["/all"])
    assert (r.status_code, r.std_out, r.std_err) == (0, b"IPCONFIG /ALL|", b"")
    r = session.run_ps("Get-Date")
    assert r.status_code == 0
    encoded = handler.calls[-1][0].split()[-1]
    assert handler.calls[-1][0].startswith("powershell -encodedcommand ")
    assert base64.b64decode(encoded).decode("utf-16-le") == "Get-Date"
    assert server.shells.shell_count() == 0


def test_ntlm_messages_are_encrypted_over_http(server: WsmanServer) -> None:
    p = protocol(server.url_for("gw1"))
    assert run(p, "echo", [b"abc"])[0] == b"ECHO|ABC"
    assert p.transport.encryption is not None


def test_domain_user_over_ntlm_and_basic(server: WsmanServer) -> None:
    transports: tuple[Auth, ...] = ("ntlm", "basic")
    for transport in transports:
        p = protocol(server.url_for("gw1"), transport, username=r"CORP\ops", password="0ps-pass")
        assert run(p, "x")[2] == 0


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_wrong_password_is_401(server: WsmanServer, transport: Auth) -> None:
    with pytest.raises(InvalidCredentialsError):
        protocol(server.url_for("gw1"), transport, password="wrong").open_shell()


def test_unknown_host_is_404(server: WsmanServer) -> None:
    with pytest.raises(WinRMTransportError) as err:
        protocol(server.url_for("nosuchhost"), "basic").open_shell()
    assert err.value.code == 404


def test_disallowed_unencrypted_traffic_is_refused_like_windows() -> None:
    with WsmanServer(lambda h: Upper(), USERS, allow_unencrypted=False) as srv:
        url = srv.url_for("gw1")
        with pytest.raises(InvalidCredentialsError):  # Basic over http: 401
            protocol(url, "basic").open_shell()
        with pytest.raises(InvalidCredentialsError):  # NTLM but plaintext bodies: 401
            protocol(url, "ntlm", message_encryption="never").open_shell()
        assert run(protocol(url, "ntlm"), "x")[0] == b"X|"  # encrypted NTLM passes


def test_https_with_pinned_ca_and_with_validation_off(tmp_path: Path) -> None:
    with WsmanServer(lambda h: Upper(), USERS, https_dir=tmp_path) as srv:
        assert srv.ca_file is not None and srv.url_for("gw1").startswith("https://127.0.0.1:")
        transports: tuple[Auth, ...] = ("basic", "ntlm")
        for transport in transports:
            p = protocol(srv.url_for("gw1"), transport, ca_trust_path=str(srv.ca_file))
            assert run(p, "x")[0] == b"X|"
            assert p.transport.encryption is None  # TLS protects it; pywinrm does not wrap
        p = protocol(srv.url_for("gw1"), "basic", server_cert_validation="ignore")
        assert run(p, "y")[0] == b"Y|"
        with pytest.raises(requests.exceptions.SSLError):
            protocol(srv.url_for("gw1"), "basic", ca_trust_path=None).open_shell()
    # a restarted server reuses the certificates clients pinned
    ca = (tmp_path / "ca.pem").read_bytes()
    with WsmanServer(lambda h: Upper(), USERS, https_dir=tmp_path, host="localhost") as srv:
        assert (tmp_path / "ca.pem").read_bytes() == ca
        p = protocol(srv.url_for("gw1"), "ntlm", ca_trust_path=str(srv.ca_file))
        assert run(p, "z")[0] == b"Z|"


# ------------------------------------------------------------------------- shell protocol


def test_stdin_chunks_and_large_output_in_several_receives(handler: Upper) -> None:
    handler.repeat = 10
    with WsmanServer(lambda h: handler, USERS, max_receive_bytes=1000) as srv:
        chunks = [bytes([65 + i % 26]) * 700 for i in range(20)]
        out, err, code = run(protocol(srv.url_for("gw1")), "cat", chunks)
    expected = b"CAT|" + b"".join(chunks)
    assert handler.calls[0][2] == b"".join(chunks)
    assert (out, err, code) == (expected * 10, b"", 0)


def test_exit_code_and_stderr(handler: Upper, server: WsmanServer) -> None:
    handler.exit_code = 7
    assert run(protocol(server.url_for("gw1"), "basic"), "x") == (b"X|", b"warn", 7)


def test_handler_exception_reaches_the_client(server: WsmanServer) -> None:
    _, err, code = run(protocol(server.url_for("broken"), "basic"), "x")
    assert code == 1 and b"handler bug" in err


def test_operation_timeout_is_honoured_and_pywinrm_retries(handler: Upper) -> None:
    # well past the 1 s operation timeout, so that a loaded machine's slow Receive still
    # arrives while the command runs
    handler.delay = 2.5
    faults = FaultTable()
    with WsmanServer(lambda h: handler, USERS, faults=faults) as srv:
        p = protocol(srv.url_for("gw1"), operation_timeout_sec=1, read_timeout_sec=3)
        shell = p.open_shell()
        cid = p.run_command(shell, "slow")
        p.send_command_input(shell, cid, b"", end=True)
        started = time.monotonic()
        with pytest.raises(winrm.exceptions.WinRMOperationTimeoutError):
            p.get_command_output_raw(shell, cid)
        # the timeout fault (not the handler's answer after 2.5 s) ended the Receive
        assert time.monotonic() - started > 0.9
        assert p.get_command_output(shell, cid) == (b"SLOW|", b"", 0)


def test_injected_receive_timeouts_are_retried(server: WsmanServer) -> None:
    server.faults.set("gw1", timeout_receives=3)
    assert run(protocol(server.url_for("gw1")), "x") == (b"X|", b"", 0)
    assert server.faults.decide("gw1", "receive").action is Action.NONE


def test_ansible_style_send_without_end_attribute(server: WsmanServer, handler: Upper) -> None:
    # Ansible's winrm plugin builds Send itself and omits End on all but the last chunk
    import xmltodict

    p = protocol(server.url_for("gw1"))
    shell = p.open_shell(codepage=65001)
    cid = p.run_command(shell, "PowerShell", ["-NoProfile", "-EncodedCommand", "QQA="])
    for data, eof in ((b"one ", False), (b"two", True)):
        rq = {
            "env:Envelope": p._get_soap_header(
                resource_uri="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd",
                action="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send",
                shell_id=shell,
            )
        }
        stream = rq["env:Envelope"].setdefault("env:Body", {}).setdefault("rsp:Send", {})
        stream = stream.setdefault("rsp:Stream", {})
        stream.update({"@Name": "stdin", "@CommandId": cid, "#text": base64.b64encode(data)})
        if eof:
            stream["@End"] = "true"
        p.send_message(xmltodict.unparse(rq))
    assert (
        p.get_command_output(shell, cid)[0] == b"POWERSHELL -NOPROFILE -ENCODEDCOMMAND QQA=|ONE TWO"
    )
    command, arguments, _ = handler.calls[-1]
    assert split_command_line(command, arguments) == [
        "PowerShell",
        "-NoProfile",
        "-EncodedCommand",
        "QQA=",
    ]
    p.close_shell(shell)


def test_unknown_shell_and_quotas() -> None:
    with WsmanServer(
        lambda h: Upper(), USERS, max_shells_per_user=2, max_commands_per_shell=2
    ) as srv:
        p = protocol(srv.url_for("gw1"), "basic")
        with pytest.raises(WSManFaultError) as err:
            p.run_command("0F0F0F0F-0000-0000-0000-000000000000", "x")
        assert err.value.wsman_fault_code == SHELL_NOT_FOUND
        shells = [p.open_shell(), p.open_shell()]
        with pytest.raises(WSManFaultError) as err:
            p.open_shell()
        assert err.value.wsman_fault_code == QUOTA_MAX_SHELLS
        for _ in range(2):
            p.cleanup_command(shells[0], p.run_command(shells[0], "x"))
        with pytest.raises(WSManFaultError) as err:
            p.run_command(shells[0], "x")
        # Ansible reads this code from MSFT_WmiError to know it must re-create the shell
        assert err.value.wmierror_code == QUOTA_MAX_OPERATIONS
        # another host's shell does not exist here
        other = protocol(srv.url_for("gw2"), "basic")
        with pytest.raises(WSManFaultError):
            other.run_command(shells[1], "x")
        for shell in shells:
            p.close_shell(shell, close_session=False)
        assert srv.shells.shell_count() == 0


# ------------------------------------------------------------------------ fault injection


def test_fault_at_a_step_answers_that_wsman_fault(server: WsmanServer) -> None:
    server.faults.set("gw1", fault_at="command", fault_code=2150858770, fault_times=1)
    p = protocol(server.url_for("gw1"))
    shell = p.open_shell()
    with pytest.raises(WSManFaultError) as err:
        p.run_command(shell, "x")
    assert err.value.wsman_fault_code == 2150858770 and err.value.code == 500
    p.cleanup_command(shell, p.run_command(shell, "x"))  # only the first time


@pytest.mark.parametrize("step", ["create", "command", "send:2", "receive", "signal", "delete"])
def test_drop_at_step_closes_the_connection(server: WsmanServer, step: str) -> None:
    server.faults.set("GW1", drop_at=step, drop_times=1)  # host names are case-insensitive
    with pytest.raises(requests.exceptions.ConnectionError):
        run(protocol(server.url_for("gw1"), "basic"), "x", [b"a", b"b", b"c"])
    run(protocol(server.url_for("gw1"), "basic"), "x", [b"a", b"b", b"c"])


def test_drop_after_processing_performs_the_step(server: WsmanServer, handler: Upper) -> None:
    server.faults.set("gw1", drop_at="send:2", drop_after_processing=True)
    p = protocol(server.url_for("gw1"), "basic")
    shell = p.open_shell()
    cid = p.run_command(shell, "x")
    p.send_command_input(shell, cid, b"a")
    with pytest.raises(requests.exceptions.ConnectionError):
        p.send_command_input(shell, cid, b"b", end=True)
    # the lost-response case: the Send took effect, the command ran
    assert p.get_command_output(shell, cid) == (b"X|AB", b"", 0)


def test_drop_after_bytes_cuts_a_body_once(server: WsmanServer, handler: Upper) -> None:
    server.faults.set("gw1", drop_after_bytes=20_000)
    p = protocol(server.url_for("gw1"), "basic")
    shell = p.open_shell()
    cid = p.run_command(shell, "x")
    with pytest.raises(requests.exceptions.ConnectionError):
        for _ in range(10):
            p.send_command_input(shell, cid, b"z" * 4000)
    assert handler.calls == []
    assert run(protocol(server.url_for("gw1"), "basic"), "x")[0] == b"X|"


def test_latency_applies_per_round_trip(server: WsmanServer) -> None:
    p = protocol(server.url_for("gw1"), "basic")
    run(p, "warm-up")
    server.faults.set("gw1", latency_ms=40)
    started = time.monotonic()
    run(p, "x")  # Create, Command, Receive, Signal, Delete
    # a lower bound only: a loaded machine may slow any request, never speed one up
    assert time.monotonic() - started >= 5 * 0.04


def test_fault_table_rules() -> None:
    table = FaultTable({"*": HostFaults(drop_at="send", drop_times=2)})
    decisions = [table.decide("a", f"send:{n}").action for n in (1, 2, 3)]
    assert decisions == [Action.DROP, Action.DROP, Action.NONE]
    assert table.decide("b", "send:1").action is Action.DROP  # counters are per host
    table.set("a", fault_at="send:3", fault_code=5)
    assert table.decide("a", "send:2").action is Action.NONE
    assert table.decide("a", "send:3").code == 5
    assert table.body_allowance("a", 10) is None
    table.update("a", drop_after_bytes=15)
    assert table.body_allowance("a", 10) is None
    assert table.body_allowance("a", 10) == 5
    assert table.body_allowance("a", 10) is None  # fired once
    with pytest.raises(ValueError):
        HostFaults.from_mapping({"drop_at": "send:0"})
    with pytest.raises(ValueError):
        HostFaults.from_mapping({"latency": 5})
    assert HostFaults.from_mapping({"timeout_receives": 2}).timeout_receives == 2
    assert check_step("send:12") == "send:12"
    assert parse_duration("PT20.000S") == 20.0 and parse_duration("PT1M30S") == 90.0
    assert OPERATION_TIMEOUT == 2150858793


# ---------------------------------------------------------------------------- lifecycle


def test_stop_releases_the_port_and_ends_idle_keepalive_connections() -> None:
    srv = WsmanServer(lambda h: Upper(), USERS).start()
    port = srv.port
    p = protocol(srv.url_for("gw1"))
    shell = p.open_shell()  # leaves an idle keep-alive connection behind
    started = time.monotonic()
    srv.stop()
    # not held up by the idle connection until its keep-alive runs out
    assert time.monotonic() - started < 4
    assert not [t for t in threading.enumerate() if t.name == "wsman-conn"]
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    del shell
    srv.stop()  # idempotent
    with pytest.raises(RuntimeError):
        srv.start()


def test_many_hosts_concurrently() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with WsmanServer(lambda h: Upper(), USERS) as srv:

        def one(i: int) -> bytes:
            p = protocol(srv.url_for(f"gw{i}"), "ntlm" if i % 2 else "basic")
            return run(p, f"host{i}", [b"x" * 100])[0]

        with ThreadPoolExecutor(40) as pool:
            outputs = list(pool.map(one, range(100)))
    assert outputs == [f"HOST{i}|".encode() + b"X" * 100 for i in range(100)]


def test_ntlm_user_file_follows_the_running_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.setenv("NTLM_USER_FILE", "/somebody/elses")
    with WsmanServer(lambda h: Upper(), {"admin": "a"}) as one:
        path = os.environ["NTLM_USER_FILE"]
        assert (
            Path(path).read_text() == ":admin:a\n" and oct(Path(path).stat().st_mode)[-3:] == "600"
        )
        with pytest.raises(ValueError, match="another password"):
            WsmanServer(lambda h: Upper(), {"ADMIN": "b"}).start()
        with WsmanServer(lambda h: Upper(), {"CORP\\x": "c", "odd": "with:colon"}) as two:
            assert sorted(Path(path).read_text().splitlines()) == [":admin:a", "CORP:x:c"]
            assert run(protocol(two.url_for("gw1"), username="CORP\\x", password="c"), "x")[2] == 0
            assert (
                run(
                    protocol(two.url_for("gw1"), "basic", username="odd", password="with:colon"),
                    "x",
                )[2]
                == 0
            )
        assert run(protocol(one.url_for("gw1"), password="a"), "x")[2] == 0
    assert os.environ["NTLM_USER_FILE"] == "/somebody/elses" and not Path(path).exists()

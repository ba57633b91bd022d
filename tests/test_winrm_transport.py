"""WinRMTransport against the simulator's WS-Management endpoint, over loopback."""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from gwctl.errors import InputError, OperationError, TransportError
from gwctl.ops import OPERATIONS, RETRYABLE_OPS, wire
from gwctl.ops.pyimpl import DirectoryHost
from gwctl.sim.wsman import CommandResult, WsmanServer, command_line
from gwctl.transport import winrm as winrm_transport
from gwctl.transport.winrm import WinRMTransport
from gwctl.transport.winrm_settings import WinRMSettings

pytestmark = pytest.mark.timeout(30)

USER, PASSWORD = "admin", "Pa55-word!"
TARGET = r"C:\Program Files\Milestone\XProtect API Gateway\appsettings.Production.json"
SECRET = "turn-credential-do-not-leak"


class WireHost:
    """An emulated host: checks the wire format and runs the operations on a directory."""

    def __init__(self, root: Path) -> None:
        self.host = DirectoryHost(root)
        self.stdins: list[bytes] = []
        self.delay = 0.0
        self.canned: dict[str, CommandResult] = {}
        self.lock = threading.Lock()

    def run(self, command: str, arguments: list[str], stdin: bytes) -> CommandResult:
        assert wire.is_bootstrap_command(command_line(command, arguments))
        with self.lock:
            self.stdins.append(stdin)
        if self.delay:
            time.sleep(self.delay)
        op = wire.decode_stdin(stdin).op
        if op in self.canned:
            return self.canned[op]
        out, code = self.host.dispatch_wire(stdin)
        return CommandResult(out, b"", code)


@pytest.fixture
def hosts(tmp_path: Path) -> dict[str, WireHost]:
    return {}


@pytest.fixture
def server(tmp_path: Path, hosts: dict[str, WireHost]) -> Iterator[WsmanServer]:
    def resolve(name: str) -> WireHost | None:
        if not name.startswith("gw"):
            return None
        if name not in hosts:
            root = tmp_path / name
            (root / "C" / "Program Files" / "Milestone" / "XProtect API Gateway").mkdir(
                parents=True
            )
            hosts[name] = WireHost(root)
        return hosts[name]

    with WsmanServer(resolve, {USER: PASSWORD}) as srv:
        yield srv


def settings(server: WsmanServer, host: str = "gw1", **kw: object) -> WinRMSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "scheme": server.scheme,
        "path": server.path_for(host),
        "user": USER,
        "password": PASSWORD,
        "transport": "ntlm",
        "proxy": None,
        "operation_timeout_sec": 2,
        "read_timeout_sec": 4,
        "retry_delay_sec": 0.01,
    }
    values.update(kw)
    return WinRMSettings(**values)


def transport(
    server: WsmanServer, host: str = "gw1", chunk_size: int = 32768, **kw: object
) -> WinRMTransport:
    return WinRMTransport(host, settings(server, host, **kw), chunk_size=chunk_size)


def write_params(data: bytes, expected: str | None = None) -> dict[str, object]:
    return {"path": TARGET, "sha256": hashlib.sha256(data).hexdigest(), "expected_sha256": expected}


# ------------------------------------------------------------------------------ settings


def test_settings_from_ansible_vars_defaults() -> None:
    s = WinRMSettings.from_ansible_vars("gw1", {"ansible_user": "u", "ansible_password": "p"})
    assert (s.host, s.port, s.scheme, s.path, s.transports) == (
        "gw1",
        5986,
        "https",
        "/wsman",
        ["ssl"],
    )
    assert (s.server_cert_validation, s.message_encryption) == ("validate", "auto")
    assert (s.operation_timeout_sec, s.read_timeout_sec) == (20, 30)
    assert s.endpoint == "https://gw1:5986/wsman"
    assert PASSWORD not in repr(s) and "'p'" not in repr(s)

    s = WinRMSettings.from_ansible_vars(
        "gw1", {"ansible_port": "5985", "ansible_user": "u", "ansible_password": "p"}
    )
    assert (s.scheme, s.transports) == ("http", ["plaintext"])
    s = WinRMSettings.from_ansible_vars("gw1", {"ansible_user": "u@CORP.EXAMPLE"})
    assert s.transports == ["kerberos"]


def test_settings_from_ansible_vars_mapping() -> None:
    s = WinRMSettings.from_ansible_vars(
        "gw1",
        {
            "ansible_host": "10.0.0.5",
            "ansible_port": 15986,
            "ansible_user": "CORP\\svc",
            "ansible_password": "pw",
            "ansible_winrm_scheme": "https",
            "ansible_winrm_path": "/wsman/gw1",
            "ansible_winrm_transport": ["ntlm", "basic"],
            "ansible_winrm_server_cert_validation": "ignore",
            "ansible_winrm_ca_trust_path": "/etc/ca.pem",
            "ansible_winrm_message_encryption": "always",
            "ansible_winrm_operation_timeout_sec": "40",
            "ansible_winrm_read_timeout_sec": 50,
        },
    )
    assert s.endpoint == "https://10.0.0.5:15986/wsman/gw1"
    assert s.transports == ["ntlm", "basic"]
    assert (s.server_cert_validation, s.ca_trust_path, s.message_encryption) == (
        "ignore",
        "/etc/ca.pem",
        "always",
    )
    assert (s.operation_timeout_sec, s.read_timeout_sec) == (40, 50)
    s = WinRMSettings.from_ansible_vars(
        "gw1",
        {
            "ansible_winrm_connection_timeout": 60,
            "ansible_winrm_transport": "certificate",
            "ansible_winrm_cert_pem": "c.pem",
            "ansible_winrm_cert_key_pem": "k.pem",
        },
    )
    assert (s.operation_timeout_sec, s.read_timeout_sec) == (60, 70)


@pytest.mark.parametrize(
    "kw",
    [
        {"transport": "telnet"},
        {"scheme": "ftp"},
        {"server_cert_validation": "maybe"},
        {"operation_timeout_sec": 30, "read_timeout_sec": 30},
        {"password": None},
        {"transport": "certificate"},
    ],
)
def test_settings_are_validated(kw: dict[str, object]) -> None:
    values: dict[str, object] = {"host": "h", "user": "u", "password": "p", **kw}
    with pytest.raises(InputError):
        WinRMSettings(**values)  # type: ignore[arg-type]  # values of every type, bad ones too
    with pytest.raises(InputError):
        WinRMSettings.from_ansible_vars("h", {"ansible_port": "x"})


def test_insecure_connection_is_flagged_and_warned_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="gwctl.transport")
    s = WinRMSettings(host="h", user="u", password="p", server_cert_validation="ignore")
    first = WinRMTransport("insecure-host", s)
    again = WinRMTransport("insecure-host", s)
    assert first.insecure and again.insecure
    assert "certificate validation is off" in first.insecure_reasons[0]
    warnings = [r for r in caplog.records if "INSECURE" in r.getMessage()]
    assert len(warnings) == 1 and "insecure-host" in warnings[0].getMessage()
    assert not WinRMTransport("ok", WinRMSettings(host="h", user="u", password="p")).insecure
    basic_http = WinRMSettings(host="h", scheme="http", user="u", password="p", transport="basic")
    assert "password unencrypted" in WinRMTransport("plain", basic_http).insecure_reasons[0]
    for loopback in ("127.0.0.1", "localhost", "::1"):
        s = WinRMSettings(host=loopback, user="u", password="p", server_cert_validation="ignore")
        assert not WinRMTransport(loopback, s).insecure


# ------------------------------------------------------------------------------ operations


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
def test_ping_and_shell_reuse(server: WsmanServer, auth: str) -> None:
    with transport(server, transport=auth) as t:
        for _ in range(3):
            assert set(t.run("ping", {})) >= {"hostname", "powershell"}
        assert server.shells.shell_count("gw1") == 1
    assert server.shells.shell_count("gw1") == 0


def test_upload_in_many_chunks_arrives_intact(
    server: WsmanServer, hosts: dict[str, WireHost]
) -> None:
    payload = bytes(range(256)) * 400  # 100 KiB
    with transport(server, chunk_size=1024) as t:
        result = t.run("write_file", write_params(payload, "absent"), payload)
        assert result == {"changed": True, "sha256": hashlib.sha256(payload).hexdigest()}
        read = t.run("read_file", {"path": TARGET})
    assert base64.b64decode(read["content_b64"]) == payload
    stdin = hosts["gw1"].stdins[0]
    assert wire.decode_stdin(stdin).payload == payload
    assert len(stdin) > 130 * 1024  # went as > 130 Sends of 1 KiB


def test_operation_error_carries_code_and_detail(server: WsmanServer) -> None:
    with transport(server) as t:
        t.run("write_file", write_params(b"one", "absent"), b"one")
        with pytest.raises(OperationError) as err:
            t.run("write_file", write_params(b"two", "absent"), b"two")
    assert err.value.code == "conflict"
    assert err.value.detail  # the current digest
    assert err.value.message.startswith("gw1: write_file: ")


def test_missing_result_line_is_a_transport_error_without_params(
    server: WsmanServer, hosts: dict[str, WireHost]
) -> None:
    server.resolver("gw1")
    clixml = (
        b'#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        b'<S S="Error">Out of memory_x000D__x000A_</S></Objs>'
    )
    hosts["gw1"].canned["stat"] = CommandResult(b"some noise\r\n", clixml, 1)
    with transport(server) as t, pytest.raises(TransportError) as err:
        t.run("stat", {"paths": [SECRET]})
    text = str(err.value)
    assert "exit code 1" in text and "Out of memory" in text and "CLIXML" not in text
    assert SECRET not in text and "gw1 (http://127.0.0.1:" in text


def test_wrong_password_is_a_clear_transport_error(server: WsmanServer) -> None:
    for auth in ("basic", "ntlm"):
        with pytest.raises(TransportError) as err:
            transport(server, transport=auth, password="not-" + PASSWORD).run("ping", {})
        assert "rejected the credentials (HTTP 401)" in str(err.value)
        assert PASSWORD not in str(err.value)


def test_transport_list_falls_back_like_ansible(server: WsmanServer) -> None:
    with WsmanServer(server.resolver, {USER: PASSWORD}, auth_methods=["basic"]) as basic_only:
        with transport(basic_only, transport="ntlm,basic") as t:
            assert "hostname" in t.run("ping", {})
        with pytest.raises(TransportError) as err:
            transport(basic_only, transport="ntlm").run("ping", {})
        assert "401" in str(err.value)


def test_unreachable_host_fails_fast_after_bounded_retries() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s = WinRMSettings(
        host="127.0.0.1",
        port=port,
        scheme="http",
        user=USER,
        password=PASSWORD,
        transport="basic",
        proxy=None,
        retry_delay_sec=0.01,
    )
    started = time.monotonic()
    with pytest.raises(TransportError) as err:
        WinRMTransport("gw9", s).run("ping", {})
    # refused at once, not retried for a connection timeout's worth of seconds
    assert time.monotonic() - started < 10
    assert "connection failed: Connection refused" in str(err.value)
    assert f"gw9 (http://127.0.0.1:{port}/wsman)" in str(err.value)


# -------------------------------------------------------------------------- broken transit


@pytest.mark.parametrize("step", ["create", "command", "send:1", "send:3", "receive"])
def test_dropped_connection_raises_cleanly_and_is_not_retried(
    server: WsmanServer, hosts: dict[str, WireHost], step: str
) -> None:
    server.faults.set("gw1", drop_at=step, drop_times=1)
    payload = b"x" * 5000
    with transport(server, chunk_size=1024) as t:
        started = time.monotonic()
        with pytest.raises(TransportError) as err:
            t.run("write_file", write_params(payload), payload)
        assert time.monotonic() - started < 10
        assert "connection failed" in str(err.value) and "gw1" in str(err.value)
        # the command may still be running on the server after the client gave up on it
        assert server.shells.wait_idle(5)
        ran = len(hosts["gw1"].stdins) if "gw1" in hosts else 0
        assert ran == (1 if step == "receive" else 0)  # never retried
        # the transport recovers on the next call
        changed = t.run("write_file", write_params(payload), payload)["changed"]
        assert changed is (step != "receive")


def test_dropped_delete_raises_from_close(server: WsmanServer) -> None:
    server.faults.set("gw1", drop_at="delete")
    t = transport(server)
    t.run("ping", {})
    with pytest.raises(TransportError) as err:
        t.close()
    assert "closing the shell" in str(err.value)
    t.close()  # idempotent


def test_idempotent_ops_are_retried_after_a_drop(
    server: WsmanServer, hosts: dict[str, WireHost]
) -> None:
    server.faults.set("gw1", drop_at="receive", drop_times=2)
    with transport(server) as t:
        assert "hostname" in t.run("ping", {})
    # the dropped attempts' commands may still be finishing on the server
    assert server.shells.wait_idle(5)
    assert len(hosts["gw1"].stdins) == 3
    server.faults.set("gw1", drop_at="receive", drop_times=10)
    with transport(server, connect_retries=1) as t, pytest.raises(TransportError):
        t.run("read_file", {"path": TARGET})
    assert server.shells.wait_idle(5)
    assert len(hosts["gw1"].stdins) == 5


def test_only_read_only_operations_are_retried() -> None:
    # a retried write could answer "unchanged" for its own landed change
    # write_event: a retried one would log the same audit record twice
    changes_the_host = {"write_file", "backup", "restore", "recycle_app_pool",
                        "lock_acquire", "lock_release", "write_event"}
    assert set(OPERATIONS) - changes_the_host == RETRYABLE_OPS


def test_lost_response_of_a_write_is_reported_not_retried(
    server: WsmanServer, hosts: dict[str, WireHost]
) -> None:
    server.faults.set("gw1", drop_at="receive", drop_after_processing=True, drop_times=1)
    with transport(server) as t:
        with pytest.raises(TransportError):
            t.run("write_file", write_params(b"data"), b"data")
        # it did happen: the engine must find out by reading, not by writing again
        assert t.run("read_file", {"path": TARGET})["sha256"] == hashlib.sha256(b"data").hexdigest()
    assert len(hosts["gw1"].stdins) == 2


def test_receive_timeouts_are_retried_until_the_result(server: WsmanServer) -> None:
    server.faults.set("gw1", timeout_receives=4)
    with transport(server) as t:
        assert "hostname" in t.run("ping", {})


def test_slow_command_over_operation_timeout_and_bounded_wait(
    server: WsmanServer, hosts: dict[str, WireHost]
) -> None:
    server.resolver("gw1")
    hosts["gw1"].delay = 1.2
    with transport(server, operation_timeout_sec=1, read_timeout_sec=3) as t:
        assert "hostname" in t.run("ping", {})  # one operation timeout, then the result
    with transport(
        server, operation_timeout_sec=1, read_timeout_sec=3, command_timeout_sec=0.5
    ) as t:
        with pytest.raises(TransportError) as err:
            t.run("ping", {})
        assert "did not finish within 0.5 s" in str(err.value)


def test_latency_is_measurable(server: WsmanServer) -> None:
    with transport(server) as t:
        t.run("ping", {})
        started = time.monotonic()
        server.faults.set("gw1", latency_ms=50)
        started = time.monotonic()
        t.run("ping", {})  # Command, Send, Receive, Signal
        # a lower bound only: a loaded machine may slow any request, never speed one up
        assert time.monotonic() - started >= 4 * 0.05


def test_shell_is_renewed_when_gone_or_used_up(tmp_path: Path, server: WsmanServer) -> None:
    small = WsmanServer(server.resolver, {USER: PASSWORD}, max_commands_per_shell=3)
    with small, transport(small) as t:
        for _ in range(7):
            t.run("ping", {})
        small.shells.forget_shells()  # as after a restart of the WinRM service
        t.run("ping", {})
        assert small.shells.shell_count() == 1


def test_ntlm_session_survives_idle_reset(
    server: WsmanServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(winrm_transport, "IDLE_SESSION_RESET_SEC", 0.0)
    with transport(server) as t:
        for _ in range(3):
            t.run("ping", {})


def test_https_validated_and_ignored(tmp_path: Path, server: WsmanServer) -> None:
    with WsmanServer(server.resolver, {USER: PASSWORD}, https_dir=tmp_path / "tls") as tls:
        with transport(tls, ca_trust_path=str(tls.ca_file)) as t:
            assert not t.insecure
            assert "hostname" in t.run("ping", {})
        with transport(tls, host="gw2", server_cert_validation="ignore", transport="basic") as t:
            assert not t.insecure  # loopback: there is no network path to attack
            assert "hostname" in t.run("ping", {})
        with pytest.raises(TransportError) as err:
            transport(tls, ca_trust_path=str(tmp_path / "tls" / "cert.pem")).run("ping", {})
        assert "TLS failed" in str(err.value)


def test_fifty_hosts_from_ten_threads(server: WsmanServer) -> None:
    def work(i: int) -> str:
        data = f"host {i}".encode()
        with transport(server, f"gw{i}", transport="ntlm" if i % 2 else "basic") as t:
            t.run("ping", {})
            t.run("write_file", write_params(data, "absent"), data)
            return base64.b64decode(t.run("read_file", {"path": TARGET})["content_b64"]).decode()

    with ThreadPoolExecutor(10) as pool:
        assert list(pool.map(work, range(50))) == [f"host {i}" for i in range(50)]
    assert server.shells.shell_count() == 0

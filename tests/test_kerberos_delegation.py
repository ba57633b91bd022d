"""Kerberos delegation: gwctl forwards the user's ticket-granting ticket only when
``ansible_winrm_kerberos_delegation`` asks for it, whatever the ticket allows.

A forwarded TGT lets the host act as the user anywhere in the domain: with a forwardable
ticket in the cache (``kinit -f``, common in AD), requesting delegation by default would
hand that power to every gateway host. The flags are read on both ends of the real
GSSAPI context: what the client's context negotiated, and what the simulator's acceptor
received (GSS_C_DELEG_FLAG).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kdc as kdc_mod
import pytest

from gwctl.ops.pyimpl import DirectoryHost
from gwctl.sim.wsman import CommandResult, WsmanServer
from gwctl.transport.winrm import WinRMTransport
from gwctl.transport.winrm_kerberos import KerberosAuth
from gwctl.transport.winrm_settings import WinRMSettings

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(kdc_mod.missing() is not None, reason=str(kdc_mod.missing())),
]


class Host:
    def __init__(self, root: Path) -> None:
        self.host = DirectoryHost(root)

    def run(self, command: str, arguments: list[str], stdin: bytes) -> CommandResult:
        out, code = self.host.dispatch_wire(stdin)
        return CommandResult(out, b"", code)


@pytest.fixture
def server(kdc: kdc_mod.Kdc, krb_env: Path, tmp_path: Path) -> Iterator[WsmanServer]:
    (tmp_path / "host").mkdir()
    host = Host(tmp_path / "host")
    srv = WsmanServer(lambda name: host, {}, kerberos_keytab=kdc.keytab,
                      allow_unencrypted=False, auth_methods=("kerberos",)).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def kinit(kdc: kdc_mod.Kdc, krb_env: Path) -> Callable[[str], None]:
    def get(flag: str) -> None:
        # -f: a forwardable ticket, -F: not forwardable
        env = {**os.environ, **kdc.env, "KRB5CCNAME": f"FILE:{krb_env}"}
        subprocess.run(["kinit", flag, kdc_mod.CAROL], input=kdc_mod.CAROL_PASSWORD + "\n",
                       text=True, env=env, check=True, capture_output=True, timeout=30)
        flags = subprocess.run(["klist", "-f"], env=env, check=True, capture_output=True,
                               text=True, timeout=30).stdout
        assert ("Flags: F" in flags) == (flag == "-f"), flags
    return get


def logon(srv: WsmanServer, **kw: Any) -> Any:
    """Run one operation; the client's negotiated context flags."""
    import spnego

    values: dict[str, Any] = {"host": "127.0.0.1", "port": srv.port, "scheme": srv.scheme,
                              "path": srv.path_for("gw1"), "user": kdc_mod.CAROL,
                              "password": None, "transport": "kerberos", "proxy": None,
                              "operation_timeout_sec": 5, "read_timeout_sec": 10}
    values.update(kw)
    t = WinRMTransport("gw1", WinRMSettings(**values))
    try:
        assert t.run("ping", {})["implementation"] == "gwctl-pyimpl"
        protocol = t._protocol
        # the operation above opened the connection, and Kerberos swapped in gwctl's auth
        assert protocol is not None and protocol.transport.session is not None
        auth = protocol.transport.session.auth
        assert isinstance(auth, KerberosAuth), auth
        context = auth._context
        assert context is not None and context.complete
        return bool(context.context_attr & spnego.ContextReq.delegate)
    finally:
        t.close()


def test_a_forwardable_ticket_is_not_delegated_unless_asked(
        server: WsmanServer, kinit: Callable[[str], None]) -> None:
    kinit("-f")
    assert logon(server) is False
    assert server.kerberos_logons == [{"user": kdc_mod.CAROL, "delegated": False}]


def test_delegation_when_asked_forwards_the_ticket(
        server: WsmanServer, kinit: Callable[[str], None]) -> None:
    kinit("-f")
    assert logon(server, kerberos_delegation=True) is True
    assert server.kerberos_logons == [{"user": kdc_mod.CAROL, "delegated": True}]


def test_delegation_asked_with_a_ticket_that_forbids_it_delegates_nothing(
        server: WsmanServer, kinit: Callable[[str], None]) -> None:
    kinit("-F")
    assert logon(server, kerberos_delegation=True) is False
    assert server.kerberos_logons == [{"user": kdc_mod.CAROL, "delegated": False}]


def test_a_password_logon_does_not_delegate(server: WsmanServer) -> None:
    assert logon(server, user=kdc_mod.ALICE, password=kdc_mod.ALICE_PASSWORD) is False
    assert server.kerberos_logons == [{"user": kdc_mod.ALICE, "delegated": False}]


def test_the_ansible_variable_is_off_by_default() -> None:
    settings = WinRMSettings.from_ansible_vars("gw1", {"ansible_user": kdc_mod.CAROL})
    assert settings.kerberos_delegation is False

"""Kerberos end to end: a real MIT KDC on loopback, the simulator's WinRM endpoint as the
acceptor (keytab), gwctl's WinRM transport and CLI as the client.

Skipped only when the KDC binaries or the kerberos extra are not installed (`.ci/run`
installs them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kdc as kdc_mod
import pytest
import yaml

from gwctl.cli.main import main
from gwctl.errors import InputError, TransportError
from gwctl.ops.pyimpl import DirectoryHost
from gwctl.sim.wsman import CommandResult, WsmanServer
from gwctl.transport.winrm import WinRMTransport
from gwctl.transport.winrm_settings import WinRMSettings

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(kdc_mod.missing() is not None, reason=str(kdc_mod.missing())),
]

ALICE, ALICE_PW = kdc_mod.ALICE, kdc_mod.ALICE_PASSWORD
CORS = {"enabled": True, "allow_origins": ["https://portal.example.com"]}
FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


class Host:
    """An emulated host running gwctl's operations on a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = DirectoryHost(root)
        self.calls = 0

    def run(self, command: str, arguments: list[str], stdin: bytes) -> CommandResult:
        self.calls += 1
        out, code = self.host.dispatch_wire(stdin)
        return CommandResult(out, b"", code)


@pytest.fixture
def endpoint(kdc: kdc_mod.Kdc, krb_env: Path, tmp_path: Path
             ) -> Iterator[Callable[..., tuple[WsmanServer, Host]]]:
    servers: list[WsmanServer] = []

    def make(keytab: Path | None = None, **kw: Any) -> tuple[WsmanServer, Host]:
        host = Host(tmp_path / f"host{len(servers)}")
        host.root.mkdir()
        # allow_unencrypted=False, as on Windows: over http only sealed messages pass
        srv = WsmanServer(lambda name: host, {}, kerberos_keytab=keytab or kdc.keytab,
                          allow_unencrypted=False, auth_methods=("kerberos",), **kw).start()
        servers.append(srv)
        return srv, host

    yield make
    for srv in servers:
        srv.stop()


def settings(srv: WsmanServer, **kw: Any) -> WinRMSettings:
    values: dict[str, Any] = {"host": "127.0.0.1", "port": srv.port, "scheme": srv.scheme,
                              "path": srv.path_for("gw1"), "user": ALICE, "password": ALICE_PW,
                              "transport": "kerberos", "proxy": None,
                              "operation_timeout_sec": 5, "read_timeout_sec": 10}
    values.update(kw)
    return WinRMSettings(**values)


def ping(srv: WsmanServer, **kw: Any) -> dict[str, Any]:
    t = WinRMTransport("gw1", settings(srv, **kw))
    try:
        return t.run("ping", {})
    finally:
        t.close()


def refused(srv: WsmanServer, **kw: Any) -> str:
    with pytest.raises(TransportError) as caught:
        ping(srv, **kw)
    return caught.value.message


# -------------------------------------------------------------------- transport level


def test_good_login_runs_operations_over_sealed_http(endpoint: Callable[..., Any]) -> None:
    srv, host = endpoint()
    assert ping(srv)["implementation"] == "gwctl-pyimpl"
    assert host.calls == 1  # the endpoint refuses unencrypted bodies: this one was sealed


def test_wrong_password_names_host_and_principal(endpoint: Callable[..., Any]) -> None:
    srv, host = endpoint()
    message = refused(srv, password="not-the-password")
    assert message.startswith("gw1 (") and ALICE in message and "wrong password" in message
    assert "not-the-password" not in message
    assert host.calls == 0


def test_unknown_principal(endpoint: Callable[..., Any]) -> None:
    srv, host = endpoint()
    message = refused(srv, user="mallory@GWCTL.TEST")
    assert "gw1" in message and "mallory@GWCTL.TEST" in message
    assert "unknown principal" in message
    assert host.calls == 0


def test_hostname_override_picks_the_service_principal(kdc: kdc_mod.Kdc,
                                                       endpoint: Callable[..., Any]) -> None:
    # the host knows only HTTP/gw-alias.gwctl.test, but is reached by its address
    srv, host = endpoint(keytab=kdc.alias_keytab)
    message = refused(srv)
    assert "HTTP/127.0.0.1" in message and "kerberos_hostname_override" in message
    assert host.calls == 0
    assert ping(srv, kerberos_hostname_override=kdc_mod.ALIAS)["implementation"]
    assert host.calls == 1


def test_hostname_override_from_ansible_variables() -> None:
    s = WinRMSettings.from_ansible_vars("gw1", {
        "ansible_user": ALICE, "ansible_winrm_kerberos_hostname_override": "gw1.corp",
        "ansible_winrm_kerberos_delegation": "yes", "ansible_winrm_kinit_mode": "manual",
        "ansible_password": "x"})
    assert s.transports == ["kerberos"] and s.kerberos_hostname_override == "gw1.corp"
    assert s.kerberos_delegation is True
    assert s.password is None  # manual: the ticket comes from the credential cache


def test_ticket_from_the_credential_cache(kdc: kdc_mod.Kdc, krb_env: Path,
                                          endpoint: Callable[..., Any]) -> None:
    srv, host = endpoint()
    kdc.kinit(krb_env, kdc_mod.CAROL, kdc_mod.CAROL_PASSWORD)
    assert ping(srv, user=kdc_mod.CAROL, password=None)["implementation"]
    kdc.expired_ccache(krb_env)
    message = refused(srv, user=kdc_mod.CAROL, password=None)
    assert kdc_mod.CAROL in message and "expired" in message and "kinit" in message
    assert host.calls == 1


def test_https_logon_with_channel_binding(endpoint: Callable[..., Any],
                                          tmp_path: Path) -> None:
    srv, _ = endpoint(https_dir=tmp_path / "tls")
    assert srv.scheme == "https"
    assert ping(srv, ca_trust_path=str(srv.tls_files.ca_file))["implementation"]
    assert srv.bound_logons == 1  # the token carried the certificate's channel binding


def test_no_ntlm_refuses_ntlm_as_transport_and_as_fallback() -> None:
    for transport in ("ntlm", "kerberos,ntlm"):
        with pytest.raises(InputError, match="ntlm is refused"):
            WinRMSettings(host="h", user="u@R", password="p", transport=transport,
                          allow_ntlm=False)
    s = WinRMSettings.from_ansible_vars("h", {"ansible_user": ALICE, "gwctl_no_ntlm": True})
    assert s.allow_ntlm is False and s.transports == ["kerberos"]


def test_credssp_warns_loudly(caplog: pytest.LogCaptureFixture) -> None:
    s = WinRMSettings(host="127.0.0.1", user="CORP\\u", password="p", transport="credssp")
    with caplog.at_level("WARNING", logger="gwctl.transport"):
        WinRMTransport("credssp-host", s)
    assert any("INSECURE credential delegation to credssp-host" in r.getMessage()
               and "full credentials" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------------- the CLI


@pytest.fixture
def ksite(kdc: kdc_mod.Kdc, krb_env: Path, tmp_path: Path) -> Iterator[Any]:
    from gwctl.sim.server import SimSite
    from gwctl.sim.state import SiteSpec

    site = SimSite.create(tmp_path / "sim", SiteSpec(site="hq", gateways=4),
                          kerberos_keytab=kdc.keytab).start()
    try:
        yield site
    finally:
        site.stop()


def kerberos_inventory(site: Any, path: Path, **changes: Any) -> Path:
    """The simulator's inventory, logging on as alice with Kerberos."""
    doc = yaml.safe_load(site.inventory_path.read_text("utf-8"))
    for group in doc["all"]["children"].values():
        for entry in group["hosts"].values():
            entry.update({"ansible_user": ALICE, "ansible_password": ALICE_PW,
                          "ansible_winrm_transport": "kerberos", **changes})
            for key in [k for k, v in changes.items() if v is None]:
                entry.pop(key)
    path.write_text(yaml.safe_dump(doc), "utf-8")
    return path


def fleet_with_cors(site: Any, path: Path, gateways: list[str]) -> Path:
    doc = yaml.safe_load(site.fleet_path.read_text("utf-8"))
    for name in gateways:
        doc["sites"]["hq"]["gateways"][name]["settings"] = {"cors": CORS}
    path.write_text(yaml.safe_dump(doc, sort_keys=False), "utf-8")
    return path


def production(site: Any, name: str) -> bytes | None:
    path = site.production_path(name)
    return path.read_bytes() if path.exists() else None


def test_diff_apply_rollback_over_kerberos(ksite: Any, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    inventory = str(kerberos_inventory(ksite, tmp_path / "inv.yml"))
    fleet = str(fleet_with_cors(ksite, tmp_path / "fleet.yaml", ["hq-gw1"]))
    before = production(ksite, "hq-gw1")
    assert main(["diff", "-f", fleet, "-i", inventory, "--no-ntlm", "--gateway", "hq-gw1",
                 "--detailed-exitcode", "--output", "json"]) == 2
    assert json.loads(capsys.readouterr().out)["summary"]["drift"] == 1
    assert main(["apply", "-f", fleet, "-i", inventory, "--no-ntlm", "--yes",
                 "--gateway", "hq-gw1"]) == 0
    assert b"https://portal.example.com" in (production(ksite, "hq-gw1") or b"")
    capsys.readouterr()
    assert main(["rollback", "-f", fleet, "-i", inventory, "--no-ntlm", "--gateway", "hq-gw1"]) == 0
    assert production(ksite, "hq-gw1") == before


def test_no_ntlm_cli_refuses_an_ntlm_inventory(ksite: Any, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    fleet = str(fleet_with_cors(ksite, tmp_path / "fleet.yaml", ["hq-gw1"]))
    before = production(ksite, "hq-gw1")
    code = main(["apply", "-f", fleet, "-i", str(ksite.inventory_path), "--no-ntlm", "--yes",
                 "--gateway", "hq-gw1"])
    out, err = capsys.readouterr()
    assert code == 1 and "ntlm is refused (--no-ntlm)" in out + err
    assert "Traceback" not in out + err
    assert production(ksite, "hq-gw1") == before


def test_rollout_stops_cleanly_when_the_ticket_expires(
        kdc: kdc_mod.Kdc, krb_env: Path, ksite: Any, tmp_path: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A ticket from the credential cache (kinit) that expires after the first gateway."""
    from gwctl.hosts import targets

    inventory = str(kerberos_inventory(ksite, tmp_path / "inv.yml",
                                       ansible_user=kdc_mod.CAROL, ansible_password=None,
                                       ansible_winrm_kinit_mode="manual"))
    moving = ["hq-gw1", "hq-gw2", "hq-gw3"]
    fleet = str(fleet_with_cors(ksite, tmp_path / "fleet.yaml", moving))
    before = {name: production(ksite, name) for name in moving}
    kdc.kinit(krb_env, kdc_mod.CAROL, kdc_mod.CAROL_PASSWORD)
    expired = tmp_path / "expired-ccache"
    kdc.expired_ccache(expired)
    real_open = targets.open_transport

    def open_transport(host: Any) -> Any:
        if b"https://portal.example.com" in (production(ksite, "hq-gw1") or b""):
            # the canary is done; by the next gateway's turn the ticket has expired
            krb_env.write_bytes(expired.read_bytes())
        return real_open(host)

    monkeypatch.setattr(targets, "open_transport", open_transport)
    # a failure budget does not matter: with the ticket gone every gateway would fail alike
    code = main(["apply", "-f", fleet, "-i", inventory, "--yes", "--canary", "1",
                 "--batch", "1", "--health-timeout", "5", "--max-failures", "5"])
    out, err = capsys.readouterr()
    assert code == 1 and "Traceback" not in out + err
    assert b"https://portal.example.com" in (production(ksite, "hq-gw1") or b""), out + err
    # nothing half-applied: the gateway whose logon failed and the rest are untouched
    assert production(ksite, "hq-gw2") == before["hq-gw2"]
    assert production(ksite, "hq-gw3") == before["hq-gw3"]
    failed = [line for line in (out + err).splitlines() if "hq-gw2" in line and "expired" in line]
    assert failed and kdc_mod.CAROL in failed[0] and "kinit" in failed[0]
    assert any("hq-gw3: skipped (rollout stopped: the logon credentials expired)" in line
               for line in (out + err).splitlines())


@pytest.mark.skipif(not FAKETIME.exists(), reason="libfaketime not installed (Debian faketime)")
def test_clock_skew_is_reported(kdc: kdc_mod.Kdc, ksite: Any, krb_env: Path,
                                tmp_path: Path) -> None:
    """This machine's clock 20 minutes ahead: the KDC refuses the pre-authentication."""
    inventory = str(kerberos_inventory(ksite, tmp_path / "inv.yml"))
    fleet = str(fleet_with_cors(ksite, tmp_path / "fleet.yaml", ["hq-gw1"]))
    env = {**os.environ, "LD_PRELOAD": str(FAKETIME), "FAKETIME": "+20m",
           "FAKETIME_DONT_FAKE_MONOTONIC": "1", "PYTHONPATH": os.getcwd()}
    r = subprocess.run([sys.executable, "-m", "gwctl.cli.main", "diff", "-f", fleet, "-i",
                        inventory, "--gateway", "hq-gw1", "--output", "json"],
                       env=env, capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 1, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert "clock skew" in r.stdout + r.stderr and ALICE in r.stdout + r.stderr

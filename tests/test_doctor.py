"""gwctl doctor against the simulator: a healthy gateway, then the manual's symptoms.

A broken appsettings.Production.json answers 503; doctor names the cause (the file's
duplicate key, as the gateway reads it, and the startup exception in the gateway's log),
the CORS origin without a scheme, the missing TURN server, a stopped app pool and a
version mismatch. The certificate check is tested against a TLS server on loopback.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from gwctl.cli.main import main
from gwctl.doctor import tls

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite


def doctor(site: SimSite, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["doctor", "-i", str(site.inventory_path), "--gateway", "demo-gw1",
                 "--output", "json"])
    out, _ = capsys.readouterr()
    (gw,) = json.loads(out)["gateways"]
    return code, {c["check"]: c for c in gw["checks"]}


def test_healthy_gateway(sim_site: SimSite, capsys: pytest.CaptureFixture[str]) -> None:
    code, checks = doctor(sim_site, capsys)
    assert code == 0, checks
    for name in ("answering", "app-pool", "log-errors", "version"):
        assert checks[name]["status"] == "pass", checks[name]
    assert checks["version"]["detail"].startswith("gateway 25.2.")
    assert checks["ice-servers"]["status"] == "warn"
    assert "symmetric NAT" in checks["ice-servers"]["detail"]
    assert checks["mdns"]["status"] == "info" and "chrome://flags" in checks["mdns"]["remedy"]
    assert checks["cors"]["status"] == "info"
    assert checks["certificate"]["status"] == "skip"


def test_text_output(sim_site: SimSite, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor", "-i", str(sim_site.inventory_path), "--gateway", "demo-gw1"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.startswith("demo-gw1 (http://127.0.0.1:")
    assert "  PASS  app-pool" in out and "'VideoOS ApiGateway AppPool' is Started" in out


def test_broken_files_name_the_cause(sim_site: SimSite,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    sim_site.production_path("demo-gw1").write_text(
        '{"CORS": {"Enabled": true, "Access-Control-Allow-Origin": "portal.example.com",\n'
        '  "Access-Control-Allow-Headers": "Authorization"},\n'
        ' "Logging": {"LogLevel": {"Default": "Information", "default": "Debug"}}}', "utf-8")
    sim_site.recycle("demo-gw1")
    code, checks = doctor(sim_site, capsys)
    assert code == 1
    assert checks["answering"]["status"] == "fail"
    assert checks["answering"]["detail"].startswith("HTTP 503")
    assert "doesn't answer requests" in checks["answering"]["remedy"]
    files = checks["live-files"]
    assert files["status"] == "fail"
    assert "appsettings.Production.json:3: duplicate key 'Logging:LogLevel:default'" in \
        files["detail"]
    log = checks["log-errors"]
    assert log["status"] == "fail" and "FATAL" in log["detail"]
    assert "A duplicate key 'Logging:LogLevel:default' was found" in log["detail"]
    assert checks["cors"]["status"] == "fail"
    assert "https://portal.example.com" in checks["cors"]["remedy"]
    # fixed and recycled: the old FATAL line is history
    sim_site.production_path("demo-gw1").write_text("{}", "utf-8")
    sim_site.recycle("demo-gw1")
    code, checks = doctor(sim_site, capsys)
    assert code == 0 and checks["log-errors"]["status"] == "pass"


def test_stopped_pool_and_version_mismatch(sim_site: SimSite,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    sim_site.upgrade("demo-gw1", "2025 R1")
    sim_site.set_pool_state("demo-gw1", "Stopped")
    code, checks = doctor(sim_site, capsys)
    assert code == 1
    assert checks["app-pool"]["status"] == "fail"
    assert "is Stopped" in checks["app-pool"]["detail"]
    sim_site.set_pool_state("demo-gw1", "Started")
    code, checks = doctor(sim_site, capsys)
    assert checks["version"]["status"] == "fail"
    assert "the gateway runs 2025 R1" in checks["version"]["detail"]
    assert "management server 2025 R2" in checks["version"]["detail"]


# -- certificates ---------------------------------------------------------------------------


def _certificate(tmp: Path, name: str, days: int) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / f"{name}.crt", tmp / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[Any]:
    servers: list[socket.socket] = []

    def start(name: str, days: int) -> int:
        cert, key = _certificate(tmp_path, name, days)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        sock = socket.create_server(("127.0.0.1", 0))
        servers.append(sock)

        def serve() -> None:
            while True:
                try:
                    conn, _ = sock.accept()
                except OSError:
                    return
                try:
                    with context.wrap_socket(conn, server_side=True):
                        pass
                except (OSError, ssl.SSLError):
                    pass

        threading.Thread(target=serve, daemon=True).start()
        return int(sock.getsockname()[1])

    yield start
    for sock in servers:
        sock.close()


def test_certificate_checks(tls_server: Any) -> None:
    port = tls_server("localhost", 365)
    assert tls.inspect("localhost", port).ok
    wrong = tls.inspect("127.0.0.1", port)
    assert not wrong.ok and "does not name 127.0.0.1" in wrong.detail
    soon = tls.inspect("localhost", tls_server("localhost", 10))
    assert soon.ok and soon.warn and "expires in" in soon.detail
    later = datetime.now(UTC) + timedelta(days=400)
    expired = tls.inspect("localhost", port, now=later)
    assert not expired.ok and "expired" in expired.detail


def test_ice_servers_reached_with_the_live_credentials(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from turnserver import start_turnserver

    turn = start_turnserver(tmp_path, "doctor-Turn-Pw-3c9")
    try:
        sim_site.production_path("demo-gw1").write_text(json.dumps({"WebRTC": {"iceServers": [
            {"url": turn.url("stun")},
            {"url": turn.url("turn"), "username": turn.user, "credential": turn.password},
            {"url": turn.url("turn", "tcp"), "username": turn.user,
             "credential": "not-it"}]}}), "utf-8")
        sim_site.recycle("demo-gw1")
        code, checks = doctor(sim_site, capsys)
    finally:
        turn.stop()
    assert code == 1
    assert checks[f"ice {turn.url('stun')}"]["status"] == "pass"
    assert checks[f"ice {turn.url('turn')}"]["status"] == "pass"
    bad = checks[f"ice {turn.url('turn', 'tcp')}"]
    assert bad["status"] == "fail" and "refused the credentials (401" in bad["detail"]
    assert "ice-servers" not in checks  # a TURN server is configured: no NAT warning
    assert "doctor-Turn-Pw-3c9" not in json.dumps(checks)

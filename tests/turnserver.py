"""A real STUN/TURN server for tests: Debian's coturn (``turnserver``) on loopback.

`start_turnserver` picks free ports, starts ``turnserver`` with long-term credentials for
one user -- plain on one port (``stun:``, ``turn:``), TLS on another (``stuns:``,
``turns:``) with a self-signed certificate for 127.0.0.1 made for the run (`ca_file`
trusts it) -- and returns once a STUN binding request is answered. Tests that need it skip,
naming the reason, only when the binary is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

TURN_USER = "gateway"
TURN_REALM = "gwctl.test"


@dataclass
class TurnServer:
    port: int
    user: str
    password: str
    process: subprocess.Popen[bytes]
    tls_port: int = 0
    #: the self-signed certificate of the TLS port (PEM), to trust it
    ca_file: Path | None = None

    def url(self, scheme: str = "turn", transport: str | None = None) -> str:
        suffix = f"?transport={transport}" if transport else ""
        port = self.tls_port if scheme in ("stuns", "turns") else self.port
        return f"{scheme}:127.0.0.1:{port}{suffix}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def _free_port() -> int:
    # the port must be free for both UDP and TCP (turnserver listens on both)
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free loopback port")


def _certificate(workdir: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gwctl test TURN")])
    now = datetime.datetime.now(datetime.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = workdir / "turn-cert.pem", workdir / "turn-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def start_turnserver(workdir: Path, password: str) -> TurnServer:
    binary = shutil.which("turnserver")
    if binary is None:
        pytest.skip("coturn's turnserver is not installed (apt-get install coturn; .ci/run "
                    "installs it when it can)")
    from gwctl.verify.ice import probe

    port = _free_port()
    tls_port = _free_port()
    # coturn also takes each listening port + 1 (its RFC 5780 alternative ports)
    while abs(tls_port - port) <= 1:
        tls_port = _free_port()
    cert_file, key_file = _certificate(workdir)
    relay = port % 1000
    log = open(workdir / "turnserver.log", "wb")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen(
        [binary, "-n", "--listening-ip=127.0.0.1", f"--listening-port={port}",
         "--relay-ip=127.0.0.1", "--lt-cred-mech", f"--user={TURN_USER}:{password}",
         f"--realm={TURN_REALM}", f"--tls-listening-port={tls_port}",
         f"--cert={cert_file}", f"--pkey={key_file}", "--no-dtls", "--no-cli", "-m", "1",
         f"--min-port={40000 + relay * 10}", f"--max-port={40000 + relay * 10 + 9}",
         f"--pidfile={workdir / 'turnserver.pid'}", f"--userdb={workdir / 'turndb'}",
         "--allow-loopback-peers", "--log-file=stdout", "--simple-log"],
        stdout=log, stderr=subprocess.STDOUT)
    log.close()
    server = TurnServer(port, TURN_USER, password, process, tls_port, cert_file)
    deadline = time.monotonic() + 15
    while True:
        if process.poll() is not None:
            text = (workdir / "turnserver.log").read_text("utf-8", "replace")[-2000:]
            raise RuntimeError(f"turnserver exited ({process.returncode}): {text}")
        if probe(server.url("stun"), timeout_s=0.5).ok:
            return server
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError("turnserver did not answer STUN within 15 s")

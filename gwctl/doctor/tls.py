"""The certificate an https gateway presents: expiry and whether it names the host."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.x509.oid import NameOID

EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True)
class CertFinding:
    ok: bool
    warn: bool
    detail: str


def _names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names: list[str] = list(san.get_values_for_type(x509.DNSName))
        names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
        return names
    except x509.ExtensionNotFound:
        return [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]


def _matches(host: str, names: list[str]) -> bool:
    host = host.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
        return any(n == str(ip) for n in names)
    except ValueError:
        pass
    for name in (n.lower().rstrip(".") for n in names):
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def inspect(host: str, port: int, timeout_s: float = 5.0,
            now: datetime | None = None) -> CertFinding:
    """Fetch the certificate without trusting it, then judge expiry and name."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except OSError as exc:
        return CertFinding(False, False, f"TLS connection to {host}:{port} failed: {exc}")
    if not der:
        return CertFinding(False, False, f"{host}:{port} presented no certificate")
    cert = x509.load_der_x509_certificate(der)
    now = now or datetime.now(UTC)
    expires = cert.not_valid_after_utc
    names = _matches(host, _names(cert))
    days = (expires - now).days
    if expires <= now:
        return CertFinding(False, False, f"the certificate expired on {expires:%Y-%m-%d}")
    if not names:
        return CertFinding(False, False, f"the certificate does not name {host} (it names "
                                         f"{', '.join(_names(cert)) or 'nothing'})")
    if days < EXPIRY_WARNING_DAYS:
        return CertFinding(True, True, f"the certificate expires in {days} day(s) "
                                       f"({expires:%Y-%m-%d})")
    return CertFinding(True, False, f"valid until {expires:%Y-%m-%d}, names {host}")

"""The shared TLS contexts of gwctl's HTTP clients (gwctl/tlscontext.py)."""

from __future__ import annotations

import ssl

import certifi
import pytest

from gwctl.tlscontext import tls_context


@pytest.fixture(autouse=True)
def _default_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    """certifi's bundle, whatever CA bundle the machine running the tests points to."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


def test_one_context_per_trust_setting() -> None:
    verified = tls_context(True)
    assert tls_context(True) is verified
    assert verified.verify_mode == ssl.CERT_REQUIRED and verified.check_hostname
    assert verified.cert_store_stats()["x509_ca"] > 0  # certifi's bundle is loaded
    unverified = tls_context(False)
    assert unverified is not verified
    assert unverified.verify_mode == ssl.CERT_NONE and not unverified.check_hostname


def test_a_ca_file_is_trusted_as_httpx_would() -> None:
    ctx = tls_context(certifi.where())
    assert ctx is tls_context(certifi.where()) and ctx is not tls_context(True)
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.cert_store_stats()["x509_ca"] == tls_context(True).cert_store_stats()["x509_ca"]


def test_the_environment_is_part_of_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    before = tls_context(True)
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    assert tls_context(True) is not before
    monkeypatch.delenv("SSL_CERT_FILE")
    assert tls_context(True) is before

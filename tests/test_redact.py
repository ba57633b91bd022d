"""The one classification of secrets, and the log filter that applies it to every record."""

from __future__ import annotations

import base64
import logging

import pytest

from gwctl.output import redact
from gwctl.output.log_scrub import ScrubFilter

SECRET_NAMES = ["password", "ClientSecret", "sharedSecret", "token", "AccessToken",
                "PrivateKey", "api_key", "ApiKey", "ConnectionString", "credential",
                "Credentials", "ansible_password", "ansible_become_pass", "pwd", "sig",
                "PasswordHash"]
PLAIN_NAMES = ["username", "url", "Address", "Default", "Enabled", "TokenEndpoint",
               "PasswordFile", "CredentialType", "SecretName", "MinimumPasswordLength",
               "Bypass", "Signature", "AllowedHosts"]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names(name: str) -> None:
    assert redact.is_secret_name(name)
    assert redact.is_secret_key(f"Section:{name}:0")


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_names_of_metadata_and_plain_settings(name: str) -> None:
    assert not redact.is_secret_name(name)


@pytest.mark.parametrize(("text", "shown"), [
    ("Server=db;User Id=sa;Password=hunter2;Encrypt=true",
     "Server=db;User Id=sa;Password=(secret);Encrypt=true"),
    ("Data Source=x;Pwd='a;b';", "Data Source=x;Pwd='(secret)';"),
    ("https://user:p@ss@host.example/x", "https://user:(secret)@host.example/x"),
    ("https://host/cb?access_token=abc123&page=2", "https://host/cb?access_token=(secret)&page=2"),
    ("Authorization: Bearer eyJhbGci.abc123", "Authorization: Bearer (secret)"),
    ('<target smtpPassword="a&amp;b" />', '<target smtpPassword="(secret)" />'),
    ("host=a user=b password=c d", "host=a user=b password=(secret)"),
    # what is not a secret stays readable
    ("Basic credentials travel unencrypted over http", None),
    ("RequirePassword=true; https://user@host/", None),
])
def test_secrets_inside_values(text: str, shown: str | None) -> None:
    assert redact.scrub(text) == (text if shown is None else shown)


def test_json_text_is_masked_by_key_and_value_keeping_its_form() -> None:
    live = """{
  // the password=hunter2 of the old server
  "Auth": {"ClientSecret": "cs-1", "Keys": {"ApiKeys": ["k1", "k2"]}, "Port": 443,},
  "Db": "Server=x;Password=pw-1", "pin": 1234, "password": 5678
}"""
    masked = redact.mask_json_text(live)
    for secret in ("hunter2", "cs-1", "k1", "k2", "pw-1", "5678"):
        assert secret not in masked
    assert '"Port": 443,},' in masked and '"pin": 1234' in masked
    rotated = live.replace("k2", "k3").replace("pw-1", "pw-2")
    shown = redact.mask_json_text(rotated, previous=live)
    assert '["(secret)", "(secret, changed)"]' in shown
    assert '"Server=x;Password=(secret, changed)"' in shown
    assert '"ClientSecret": "(secret)"' in shown


def test_changes_say_whether_the_secret_changed() -> None:
    assert redact.mask_change("A:ClientSecret", "s1", "s1") == redact.UNCHANGED
    assert redact.mask_change("A:ClientSecret", "s2", "s1") == redact.CHANGED
    assert redact.mask_change("A:Db", "Server=b;Pwd=p1", "Server=a;Pwd=p1") == \
        "Server=b;Pwd=(secret, unchanged)"
    assert redact.mask_change("A:ClientSecret", "(secret env:X)", None) == "(secret env:X)"


def test_registered_values_are_scrubbed_anywhere() -> None:
    redact.register("Registered-Value-42")
    assert redact.scrub("error: Registered-Value-42 rejected") == "error: (secret) rejected"
    assert redact.mask_tree({"plain": ["Registered-Value-42"]}) == {"plain": ["(secret)"]}


def _record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.DEBUG, __file__, 1, msg, args, None)


def test_log_filter_withholds_authentication_tokens_but_keeps_the_story() -> None:
    authenticate = b"NTLMSSP\0\3\0\0\0" + bytes(range(64))
    record = _record("spnego._ntlm", "NTLM step output: %s",
                     base64.b64encode(authenticate).decode())
    assert ScrubFilter().filter(record)
    assert record.getMessage() == \
        "NTLM step output: (NTLM AUTHENTICATE message, 76 bytes, withheld)"
    kerberos = "YIIFZAYGKwYBBQUCoIIFWDCCBVSgMDAuBgkqhkiC9xIB"
    record = _record("winrm.vendor.requests_kerberos.kerberos_",
                     "Authorization header: Negotiate %s", kerberos)
    ScrubFilter().filter(record)
    assert record.getMessage() == "Authorization header: Negotiate (token, 33 bytes, withheld)"


def test_log_filter_scrubs_other_libraries_and_tracebacks() -> None:
    record = _record("urllib3.connectionpool", "GET %s", "https://u:pw-in-url@h/x")
    try:
        raise ValueError("Password=in-traceback")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    ScrubFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "pw-in-url" not in text and "in-traceback" not in text
    assert "GET https://u:(secret)@h/x" in text and "ValueError: Password=(secret)" in text


def test_debug_tracebacks_are_masked(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    from gwctl.cli import cmd_validate
    from gwctl.cli.main import main

    def broken(ns: object) -> int:
        raise RuntimeError("cannot connect to Server=db;Password=in-a-bug")

    monkeypatch.setattr(cmd_validate, "execute", broken)
    for args in (["--debug"], []):
        assert main([*args, "validate", "-f", "fleet.yaml"]) == 1
        err = capsys.readouterr().err
        assert "in-a-bug" not in err and "Password=(secret)" in err
    assert "Traceback (most recent call last)" not in err

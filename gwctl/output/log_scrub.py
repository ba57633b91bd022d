"""Logs without secrets: every record, gwctl's or a library's, is scrubbed on its way out.

``--debug`` turns on debug logging for gwctl and for the libraries it drives: urllib3's
request lines (method, path, status) are worth seeing when a WinRM host misbehaves. The
filter sits on the handlers, so it sees every library's records, and masks them with
`gwctl.output.redact` (registered secret values, connection-string passwords, URL
passwords, ``Authorization`` credentials, NTLM messages), tracebacks included.

Authentication libraries (pyspnego, requests-ntlm, requests-kerberos, requests-credssp)
and pypsrp (whose messages hold PSRP fragments: file contents) log each message of an
exchange; the client's NTLM AUTHENTICATE message alone lets
anyone guess the password offline. Their records keep their words, so the progress of a
logon stays visible, but each token in them is replaced by its kind and size, e.g.
``NTLM step output: (NTLM AUTHENTICATE message, 372 bytes, withheld)``.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re

from gwctl.output.redact import scrub

AUTH_LOGGERS = ("spnego", "requests_ntlm", "requests_kerberos", "requests_credssp",
                "winrm.vendor.requests_kerberos", "ntlm_auth", "krb5", "gssapi",
                # pypsrp logs every WS-Management message whole, before encryption: its
                # base64 PSRP fragments carry the requests (file contents) and results
                "pypsrp")
_NTLM_KINDS = {1: "NEGOTIATE", 2: "CHALLENGE", 3: "AUTHENTICATE"}
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_HEX_RUN = re.compile(r"\b[0-9a-fA-F]{32,}\b")


def describe_token(text: str) -> str:
    """What an authentication token is, without its content (a long word stays)."""
    if text.isalpha():
        return text
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return "(token withheld)"
    if data.startswith(b"NTLMSSP\0") and len(data) >= 12:
        kind = _NTLM_KINDS.get(int.from_bytes(data[8:12], "little"), "unknown")
        return f"(NTLM {kind} message, {len(data)} bytes, withheld)"
    return f"(token, {len(data)} bytes, withheld)"


def _from_auth_library(name: str) -> bool:
    return any(name == n or name.startswith(n + ".") for n in AUTH_LOGGERS)


class ScrubFilter(logging.Filter):
    """Attach to handlers: records are scrubbed before they are written."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a library's broken format string must not break logging
            message = str(record.msg)
        if _from_auth_library(record.name):
            message = _BASE64_RUN.sub(lambda m: describe_token(m.group()), message)
            message = _HEX_RUN.sub("(token withheld)", message)
        record.msg = scrub(message)
        record.args = ()
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def install_log_filter() -> None:
    """Scrub every record the root logger's handlers write."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, ScrubFilter) for f in handler.filters):
            handler.addFilter(ScrubFilter())

"""Authentication (Basic, NTLM, Kerberos) and message encryption of the WinRM endpoint.

Kerberos: GSSAPI (MIT krb5) through pyspnego is the acceptor, with the service keys of a
keytab (``WsmanServer(kerberos_keytab=...)``); the KDC is whatever the process's krb5.conf
names. A raw Kerberos token under ``Negotiate`` or ``Kerberos`` is accepted (as Windows
does); the AP-REP answer goes back in the ``WWW-Authenticate`` header of the first
response, and the session key seals messages over http like NTLM's
(``application/HTTP-SPNEGO-session-encrypted``, header = the Kerberos wrap token's header).
The KDC and GSSAPI check the password, the principal, the clock skew and the ticket's
lifetime; the acceptor refuses what they refuse.

NTLM: pyspnego is the acceptor. Its pure-Python NTLM acceptor reads credentials only from
the file named by the environment variable ``NTLM_USER_FILE`` (``DOMAIN:USER:PASSWORD``
lines), read on every authentication. That variable is process-wide, so this module keeps
one file per process holding the users of every running server (in a private temp dir,
mode 0600) and points ``NTLM_USER_FILE`` at it while any server runs; the previous value is
restored when the last one stops. Two servers running at the same time may therefore not
give the same user different passwords (`register_ntlm_users` refuses). Passwords
containing ``:`` or a line break cannot be written in that format: such users can log on
with Basic only.

The NTLM context belongs to the TCP connection, as with http.sys: the handshake
(401 + ``WWW-Authenticate: Negotiate`` → negotiate → challenge → authenticate) happens once
per connection and later requests on it carry no Authorization header.

Message encryption over http (MS-WSMV 2.2.9.1.1, what pywinrm's ``winrm/encryption.py``
does): the body is ``multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted"``
with one part per message: a header part giving the plaintext length and an
``application/octet-stream`` part holding ``<uint32 LE signature length><signature><sealed>``.
Responses to encrypted requests are encrypted the same way.

Channel binding tokens (https) are not checked: Windows' default CbtHardeningLevel
"Relaxed" accepts clients that send none, which is what this acceptor does for all.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import struct
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

import spnego

PROTOCOL_STRING = "application/HTTP-SPNEGO-session-encrypted"
ENCRYPTED_CONTENT_TYPE = (
    f'multipart/encrypted;protocol="{PROTOCOL_STRING}";boundary="Encrypted Boundary"'
)
_BOUNDARY = b"--Encrypted Boundary"
_OCTET_HEADER = b"\tContent-Type: application/octet-stream\r\n"
_LENGTH = re.compile(rb"Length=(\d+)")

log = logging.getLogger("gwctl.sim.wsman")


class AuthFailed(Exception):
    """The credentials or the handshake were rejected (answered with 401)."""


class BadMessage(Exception):
    """An encrypted body could not be decrypted (answered with 400, as Windows does)."""


# ------------------------------------------------------------------------------ Basic


def check_basic(value: str, users: Mapping[str, str]) -> str:
    """User name of a valid ``Basic`` credential (header value without the scheme)."""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise AuthFailed("malformed Basic credentials") from exc
    user, sep, password = decoded.partition(":")
    if not sep:
        raise AuthFailed("malformed Basic credentials")
    for known, known_password in users.items():
        # Windows account names are case-insensitive, passwords are not
        if known.lower() == user.lower() and known_password == password:
            return known
    raise AuthFailed("unknown user or wrong password")


# ------------------------------------------------------------------------------- NTLM


def _ntlm_line(user: str, password: str) -> str | None:
    if any(c in password for c in ":\r\n") or any(c in user for c in ":\r\n"):
        return None
    domain, sep, name = user.partition("\\")
    if not sep:
        domain, name = "", user
    return f"{domain}:{name}:{password}"


class _NtlmUserStore:
    """The process-wide ``NTLM_USER_FILE`` holding the users of every running server."""

    _UNSET = object()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[int, dict[str, str]] = {}
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._saved: object = self._UNSET

    def register(self, owner: object, users: Mapping[str, str]) -> None:
        with self._lock:
            merged = self._merged()
            for user, password in users.items():
                other = merged.get(user.lower())
                if other is not None and other != password:
                    raise ValueError(
                        f"NTLM user {user!r} already has another password in a running WinRM "
                        "simulator of this process (pyspnego reads one NTLM_USER_FILE per process)"
                    )
            self._owners[id(owner)] = dict(users)
            self._write()
        for user in (u for u, p in users.items() if _ntlm_line(u, p) is None):
            log.warning(
                "user %r cannot log on with NTLM: ':' or a line break in the name or "
                "password does not fit NTLM_USER_FILE; Basic still works",
                user,
            )

    def unregister(self, owner: object) -> None:
        with self._lock:
            if self._owners.pop(id(owner), None) is None:
                return
            if self._owners:
                self._write()
                return
            if self._saved is self._UNSET or self._saved is None:
                os.environ.pop("NTLM_USER_FILE", None)
            else:
                os.environ["NTLM_USER_FILE"] = str(self._saved)
            self._saved = self._UNSET
            if self._dir is not None:
                self._dir.cleanup()
                self._dir = None

    def _merged(self) -> dict[str, str]:
        """lower-cased user -> password, for the conflict check (names are case-insensitive)."""
        return {u.lower(): p for users in self._owners.values() for u, p in users.items()}

    def _write(self) -> None:
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="gwctl-ntlm-")
        path = Path(self._dir.name) / "ntlm_users"
        unique = {u.lower(): (u, p) for users in self._owners.values() for u, p in users.items()}
        lines = [line for u, p in unique.values() if (line := _ntlm_line(u, p))]
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in lines))
        # atomic: an acceptor reading the file meanwhile sees the old or the new table
        os.replace(tmp, path)
        if self._saved is self._UNSET:
            self._saved = os.environ.get("NTLM_USER_FILE")
        os.environ["NTLM_USER_FILE"] = str(path)


_STORE = _NtlmUserStore()


def register_ntlm_users(owner: object, users: Mapping[str, str]) -> None:
    """Make `users` known to pyspnego's NTLM acceptor while `owner` runs."""
    _STORE.register(owner, users)


def unregister_ntlm_users(owner: object) -> None:
    _STORE.unregister(owner)


# ----------------------------------------------------------------------------- Kerberos

#: DER of the Kerberos v5 mechanism OID, which opens a raw Kerberos GSS token
_KRB5_OID = b"\x06\x09\x2a\x86\x48\x86\xf7\x12\x01\x02\x02"


#: GSS_C_CHANNEL_BOUND_FLAG (MIT krb5 1.19+): the initiator's channel binding matched
_GSS_C_CHANNEL_BOUND_FLAG = 2048
#: GSS_C_DELEG_FLAG (RFC 2744): credentials were delegated with the context
_GSS_C_DELEG_FLAG = 1


def is_kerberos_token(token: bytes) -> bool:
    return token.startswith(b"\x60") and _KRB5_OID in token[:24]


def keytab_credential(keytab: str | Path) -> object:
    """The acceptor credential of every service principal in `keytab` (MIT krb5 via GSSAPI).

    Taken from the file directly, not from ``KRB5_KTNAME``: several simulators in one
    process may each have their own keytab.
    """
    import gssapi.raw

    path = Path(keytab)
    if not path.is_file():
        raise ValueError(f"keytab {path} does not exist")
    return gssapi.raw.acquire_cred_from({b"keytab": str(path).encode()}, usage="accept").creds


def tls_server_end_point(cert_pem: Path) -> bytes:
    """RFC 5929 channel binding of a certificate: its hash with the signature's algorithm
    (SHA-256 for MD5 and SHA-1), as http.sys checks it for Extended Protection."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding

    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    algorithm = cert.signature_hash_algorithm
    if algorithm is None or algorithm.name in ("md5", "sha1"):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(cert.public_bytes(Encoding.DER))
    return b"tls-server-end-point:" + digest.finalize()


class NtlmSession:
    """The NTLM or Kerberos security context of one TCP connection (the name is history).

    Over https a Kerberos token must carry the endpoint's channel binding when it carries
    one at all (a token bound to another certificate is refused: a relayed logon);
    `channel_bound` says whether it did. Windows' default "Relaxed" hardening also accepts
    tokens without a binding, and so does this acceptor.
    """

    def __init__(self, keytab_cred: object | None = None,
                 channel_binding: bytes | None = None) -> None:
        self.channel_binding = channel_binding
        self.channel_bound = False
        self._ctx: spnego.ContextProxy | None = None
        self.user: str | None = None
        self._keytab_cred = keytab_cred
        #: the token to send back with the next response (Kerberos mutual authentication)
        self.answer: bytes | None = None
        self.kerberos = False
        #: whether the client delegated its credentials (a forwarded TGT) with the logon
        self.delegated = False

    @property
    def complete(self) -> bool:
        return self.user is not None

    def step(self, token: bytes) -> bytes | None:
        """Feed a client token; returns the token to send back (None when done)."""
        if self._ctx is None or self.complete:
            # a new negotiate message restarts authentication on this connection
            self.user, self.answer, self.kerberos = None, None, is_kerberos_token(token)
            self.delegated = False
            if self.kerberos:
                if self._keytab_cred is None:
                    raise AuthFailed("Kerberos is not enabled on this endpoint")
                from spnego.channel_bindings import GssChannelBindings

                bindings = (GssChannelBindings(application_data=self.channel_binding)
                            if self.channel_binding else None)
                self._ctx = spnego.server(
                    service="HTTP", protocol="kerberos", channel_bindings=bindings,
                    _gssapi_credential=self._keytab_cred,
                )
            else:
                protocol = "ntlm" if token.startswith(b"NTLMSSP\x00") else "negotiate"
                self._ctx = spnego.server(hostname="localhost", service="http", protocol=protocol)
        try:
            out = self._ctx.step(token)
        except Exception as exc:  # GSSAPI raises its own types besides SpnegoError
            self._ctx = None
            raise AuthFailed(_reason(exc)) from exc
        if self._ctx.complete:
            self.user = str(self._ctx.client_principal or "")
            if self.kerberos:
                self.answer, out = out, None
                flags = getattr(getattr(self._ctx, "_context", None), "actual_flags", 0)
                self.channel_bound = bool(int(flags) & _GSS_C_CHANNEL_BOUND_FLAG)
                # the client forwarded its TGT: this host could act as the user elsewhere
                self.delegated = bool(int(flags) & _GSS_C_DELEG_FLAG)
        return out

    def decrypt(self, body: bytes) -> bytes:
        """Plaintext of a ``multipart/encrypted`` body sealed with this context."""
        if self._ctx is None or not self.complete:
            raise BadMessage("encrypted message on a connection without an NTLM context")
        message = b""
        pos = 0
        while True:
            start = body.find(_BOUNDARY + b"\r\n", pos)
            if start < 0:
                break
            header_end = body.find(_BOUNDARY + b"\r\n", start + len(_BOUNDARY) + 2)
            length_match = _LENGTH.search(body, start, header_end if header_end > 0 else len(body))
            if header_end < 0 or length_match is None:
                raise BadMessage("malformed multipart/encrypted body")
            length = int(length_match.group(1))
            data = header_end + len(_BOUNDARY) + 2
            if body[data : data + len(_OCTET_HEADER)] != _OCTET_HEADER:
                raise BadMessage("malformed multipart/encrypted body")
            data += len(_OCTET_HEADER)
            # parse by length, not by searching the boundary: sealed bytes may contain anything
            (sig_len,) = struct.unpack("<I", body[data : data + 4])
            signature = body[data + 4 : data + 4 + sig_len]
            sealed = body[data + 4 + sig_len : data + 4 + sig_len + length]
            if len(sealed) != length:
                raise BadMessage("truncated encrypted message")
            try:
                plain = self._ctx.unwrap_winrm(signature, sealed)
            except Exception as exc:
                raise BadMessage(f"cannot decrypt message: {exc}") from exc
            message += plain
            pos = data + 4 + sig_len + length
        if not message and body.strip():
            raise BadMessage("malformed multipart/encrypted body")
        return message

    def encrypt(self, message: bytes) -> bytes:
        """A response body in the format pywinrm's ``parse_encrypted_response`` reads."""
        if self._ctx is None:
            raise BadMessage("no NTLM context to encrypt with")
        wrapped = self._ctx.wrap_winrm(message)
        signature, sealed = wrapped.header, wrapped.data
        return (
            _BOUNDARY + b"\r\n"
            b"\tContent-Type: " + PROTOCOL_STRING.encode() + b"\r\n"
            b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
            + str(len(message)).encode()
            + b"\r\n"
            + _BOUNDARY
            + b"\r\n"
            + _OCTET_HEADER
            + struct.pack("<I", len(signature))
            + signature
            + sealed
            + _BOUNDARY
            + b"--\r\n"
        )


def _reason(exc: BaseException) -> str:
    """A failed logon's reason without token bytes (GSSAPI's text is the mechanism's)."""
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def is_encrypted(content_type: str) -> bool:
    return (
        "multipart/encrypted" in content_type.lower()
        and PROTOCOL_STRING.lower() in content_type.lower()
    )

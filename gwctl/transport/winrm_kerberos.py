"""Kerberos for the WinRM transport, through pyspnego and GSSAPI (the ``kerberos`` extra).

pywinrm 0.5's own Kerberos path needs pykerberos and a ticket obtained beforehand with
``kinit``. gwctl instead authenticates with pyspnego's GSSAPI backend (MIT krb5 on Linux):

- with a password (``ansible_password``, Ansible's ``kinit_mode: managed``) the initial
  ticket is requested from the KDC once per run and principal, kept in memory and shared
  by every host; no ``kinit`` command and no credential cache file are involved;
- without a password (or with ``ansible_winrm_kinit_mode: manual``) the ticket comes from
  the credential cache (``KRB5CCNAME``), as after ``kinit``.

The token is a plain Kerberos token (what Windows accepts for ``Negotiate`` and ``Kerberos``),
never SPNEGO: a failed Kerberos logon is reported as such and cannot quietly turn into NTLM.
The service principal is ``HTTP/<host>``, or ``HTTP/<override>`` with
``ansible_winrm_kerberos_hostname_override`` (hosts reached by address or by an alias).
Over https the TLS server certificate's hash is bound into the token (channel binding,
Extended Protection); over http the WinRM messages are sealed with the Kerberos session key.

Tokens, tickets and session keys are never logged: errors name the host, the principal and
the KDC's reason only.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.auth import AuthBase
from winrm.exceptions import WinRMError

log = logging.getLogger("gwctl.transport")

#: the KDC's and GSSAPI's reasons, as a user can act on them
_REASONS = (
    ("preauthentication failed", "wrong password"),
    ("password incorrect", "wrong password"),
    ("integrity check failed", "wrong password"),
    (r"client .*not found", "unknown principal (the KDC does not know this user)"),
    (r"server .*not found", "the KDC knows no service principal HTTP/{spn_host}; set "
                         "ansible_winrm_kerberos_hostname_override to the host's name in AD"),
    ("clock skew", "clock skew too great between this machine and the KDC or host; "
                   "synchronise the clocks (NTP)"),
    (r"password has expired|key has expired", "the account's password has expired; change it"),
    ("expired", "the Kerberos ticket has expired; renew it (kinit) and run again"),
    ("no credentials cache", "no Kerberos ticket; run kinit or give a password"),
    ("no kerberos credentials", "no Kerberos ticket; run kinit or give a password"),
    ("cannot find kdc", "no KDC found for the realm (check krb5.conf)"),
    ("cannot contact any kdc", "cannot contact the KDC of the realm"),
    ("realm", "unknown realm (check krb5.conf)"),
)


_CREDENTIALS: dict[tuple[str, bytes], tuple[Any, float]] = {}
_CREDENTIALS_LOCK = threading.Lock()
_RENEW_MARGIN_SEC = 60.0


class KerberosLogonError(WinRMError):
    """A Kerberos logon failed; the text names the principal and why, never a token."""


class TicketExpiredError(KerberosLogonError):
    """The credential cache's ticket expired: every further host would fail the same way."""


def _available() -> None:
    try:
        import gssapi  # noqa: F401
        import spnego  # noqa: F401
    except ImportError as exc:
        raise KerberosLogonError(
            "Kerberos needs gwctl's kerberos extra (pip install 'gwctl[kerberos]', which needs "
            f"the MIT krb5 libraries): {exc}"
        ) from None


def explain(exc: BaseException, principal: str, spn_host: str) -> str:
    """One line a user can act on, from a GSSAPI/KDC failure."""
    text = str(exc)
    lower = text.lower()
    for pattern, reason in _REASONS:
        if re.search(pattern, lower):
            return f"Kerberos logon as {principal} failed: {reason.format(spn_host=spn_host)}"
    # GSSAPI's text carries the mechanism's message only, no token material
    first = text.splitlines()[0] if text else type(exc).__name__
    return f"Kerberos logon as {principal} failed: {first}"


class KerberosAuth(AuthBase):
    """requests authentication for WinRM with Kerberos, with WinRM message wrapping.

    pywinrm's ``Encryption(session, "kerberos")`` calls `wrap_winrm` and `unwrap_winrm`.
    """

    winrm_encryption_available = True

    def __init__(
        self,
        principal: str | None,
        password: str | None,
        *,
        hostname_override: str | None = None,
        delegate: bool = False,
        send_cbt: bool = True,
    ) -> None:
        _available()
        self.principal = principal
        self.password = password
        self.hostname_override = hostname_override
        self.delegate = delegate
        self.send_cbt = send_cbt
        self._context: Any = None
        self._host = ""

    @property
    def who(self) -> str:
        return self.principal or "the credential cache's default principal"

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Connection"] = "Keep-Alive"
        r.register_hook("response", self._response_hook)
        return r

    # -- the handshake --------------------------------------------------------------------

    def _response_hook(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code == 401 and "Authorization" not in response.request.headers:
            offered = response.headers.get("WWW-Authenticate", "").lower()
            scheme = "Kerberos" if "kerberos" in offered else "Negotiate"
            if "negotiate" in offered or "kerberos" in offered:
                return self._authenticate(response, scheme, kwargs)
        if response.status_code != 401:
            self._complete(response)
        return response

    def _authenticate(
        self, response: requests.Response, scheme: str, kwargs: dict[str, Any]
    ) -> requests.Response:
        import spnego
        from spnego.channel_bindings import GssChannelBindings

        url_host = urlsplit(response.url).hostname or ""
        self._host = self.hostname_override or url_host
        cert_hash = _server_certificate_hash(response) if self.send_cbt else None
        bindings = (
            GssChannelBindings(application_data=b"tls-server-end-point:" + cert_hash)
            if cert_hash
            else None
        )
        context_req = spnego.ContextReq.default
        if self.delegate:
            context_req |= spnego.ContextReq.delegate
        if self.password is None:
            self._check_cache()
        try:
            credential = (
                self._password_credential()
                if self.password is not None and self.principal
                else None
            )
            self._context = spnego.client(
                self.principal,
                self.password,
                _gssapi_credential=credential,
                hostname=self._host,
                service="HTTP",
                protocol="kerberos",
                channel_bindings=bindings,
                context_req=context_req,
                options=spnego.NegotiateOptions.wrapping_winrm,
            )
            token = self._context.step() or b""
        except Exception as exc:  # pyspnego wraps GSSAPI and KDC errors in many types
            self._context = None
            raise self._logon_error(exc) from None
        # the 401's connection carries the authenticated request (the context is per
        # connection, as http.sys keeps it)
        _ = response.content
        response.raw.release_conn()
        request = response.request.copy()
        request.headers["Authorization"] = f"{scheme} {base64.b64encode(token).decode()}"
        if request.body is not None and hasattr(request.body, "seek"):
            request.body.seek(0)
        retried: requests.Response = response.connection.send(request, **kwargs)
        retried.history.append(response)
        if retried.status_code == 401:
            log.info("%s: the host refused the Kerberos logon of %s", self._host, self.who)
            self._context = None
            return retried
        self._complete(retried)
        return retried

    def _complete(self, response: requests.Response) -> None:
        """Mutual authentication: the host's answer token proves it holds the service key."""
        ctx = self._context
        if ctx is None or ctx.complete:
            return
        offered = response.headers.get("WWW-Authenticate", "")
        _, _, value = offered.strip().partition(" ")
        if not value:
            raise KerberosLogonError(
                f"Kerberos logon as {self.who}: the host did not prove its identity "
                "(no mutual-authentication token)"
            )
        try:
            ctx.step(base64.b64decode(value))
        except Exception as exc:
            self._context = None
            raise KerberosLogonError(
                f"Kerberos logon as {self.who}: the host's answer did not verify "
                f"({type(exc).__name__})"
            ) from None

    def _password_credential(self) -> Any:
        """The initial ticket for principal and password, shared by every host of the run.

        Getting it costs the KDC round trips and the password's key derivation (PBKDF2 for
        AES); a fleet-wide diff would otherwise pay that once per host. It is kept in this
        process's memory only and replaced when less than a minute of it is left.
        """
        key = (self.principal or "", hashlib.sha256((self.password or "").encode()).digest())
        with _CREDENTIALS_LOCK:
            cached = _CREDENTIALS.get(key)
            if cached is not None and cached[1] - time.time() > _RENEW_MARGIN_SEC:
                return cached[0]
            import gssapi
            import gssapi.raw

            name = gssapi.Name(self.principal, gssapi.NameType.kerberos_principal)
            krb5 = gssapi.OID.from_int_seq("1.2.840.113554.1.2.2")
            result = gssapi.raw.acquire_cred_with_password(
                name, (self.password or "").encode("utf-8"), usage="initiate", mechs=[krb5]
            )
            credential = gssapi.Credentials(base=result.creds)
            lifetime = result.lifetime if result.lifetime is not None else 3600
            _CREDENTIALS[key] = (credential, time.time() + lifetime)
            return credential

    def _check_cache(self) -> None:
        """With a credential cache: stop with a clear message when its ticket expired."""
        import gssapi
        from gssapi.exceptions import ExpiredCredentialsError
        from gssapi.raw.misc import GSSError

        try:
            name = (
                gssapi.Name(self.principal, gssapi.NameType.kerberos_principal)
                if self.principal
                else None
            )
            lifetime = gssapi.Credentials(name=name, usage="initiate").lifetime
        except ExpiredCredentialsError:
            raise TicketExpiredError(
                f"Kerberos ticket of {self.who} has expired; renew it (kinit) and run again"
            ) from None
        except GSSError as exc:
            raise self._logon_error(exc) from None
        if lifetime is not None and lifetime <= 0:
            raise TicketExpiredError(
                f"Kerberos ticket of {self.who} has expired; renew it (kinit) and run again"
            )

    def _logon_error(self, exc: BaseException) -> KerberosLogonError:
        message = explain(exc, self.who, self._host)
        if "ticket has expired" in message:
            return TicketExpiredError(message)
        return KerberosLogonError(message)

    # -- WinRM message encryption (called by pywinrm's Encryption) ------------------------

    def wrap_winrm(self, host: str, message: bytes) -> tuple[bytes, bytes]:
        if self._context is None:
            raise KerberosLogonError(f"no Kerberos context with {host} to encrypt with")
        wrapped = self._context.wrap_winrm(message)
        return wrapped.data, wrapped.header

    def unwrap_winrm(self, host: str, message: bytes, header: bytes) -> bytes:
        if self._context is None:
            raise KerberosLogonError(f"no Kerberos context with {host} to decrypt with")
        return bytes(self._context.unwrap_winrm(header, message))


def _server_certificate_hash(response: requests.Response) -> bytes | None:
    """RFC 5929 tls-server-end-point: the certificate's hash with its signature's algorithm
    (SHA-256 for MD5/SHA-1 signed ones), as Windows computes it for Extended Protection."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    try:
        sock = response.raw._fp.fp.raw._sock
        der = sock.getpeercert(True)
    except AttributeError:
        return None  # plain http
    if not der:
        return None
    cert = x509.load_der_x509_certificate(der)
    try:
        algorithm = cert.signature_hash_algorithm
    except Exception:
        algorithm = None
    if algorithm is None or algorithm.name in ("md5", "sha1"):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(der)
    return digest.finalize()


def use_kerberos(transport: Any, auth: KerberosAuth) -> None:
    """Make a pywinrm ``Transport`` (built with auth_method "kerberos") authenticate with
    `auth`. pywinrm builds the session itself (proxies, TLS verification, CA); only the
    authentication object and the encryption set-up are gwctl's."""
    build = transport.build_session

    def build_with_kerberos() -> requests.Session:
        if transport.session is not None:
            return transport.session  # type: ignore[no-any-return]
        encryption = transport.message_encryption
        # let pywinrm build a Basic session, which needs no pykerberos, then swap the auth
        transport.auth_method, transport.message_encryption = "basic", "never"
        try:
            session: requests.Session = build()
        finally:
            transport.auth_method, transport.message_encryption = "kerberos", encryption
        session.auth = auth
        https = transport.endpoint.lower().startswith("https")
        if encryption == "always" or (encryption == "auto" and not https):
            started = time.monotonic()
            transport.setup_encryption(session)
            log.debug("Kerberos logon took %.1f ms", (time.monotonic() - started) * 1000)
        return session

    transport.build_session = build_with_kerberos

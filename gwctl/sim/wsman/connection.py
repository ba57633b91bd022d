"""One TCP connection to the emulated WinRM service: authentication, encryption, faults.

A handler object lives as long as its connection, which is where NTLM keeps its security
context (see ``auth.py``). Each POST is read whole (or cut short by ``drop_after_bytes``),
authenticated, decrypted, parsed, checked against the host's fault rules and handed to the
shell service; the answer is encrypted when the request was and written in one piece.
"""

from __future__ import annotations

import base64
import binascii
import logging
import socket
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gwctl.sim.wsman import auth, soap
from gwctl.sim.wsman.faults import Action
from gwctl.sim.wsman.soap import WsmanFault

if TYPE_CHECKING:
    from gwctl.sim.wsman.server import WsmanServer, _HttpServer

log = logging.getLogger("gwctl.sim.wsman")

SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"
_PHRASES = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
}


class _Dropped(Exception):
    """The connection was closed on purpose (fault injection) or by the peer."""


class ConnectionHandler(BaseHTTPRequestHandler):
    """One TCP connection: its NTLM context, its requests."""

    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    #: the scheme of this connection's Kerberos logon, for its mutual-authentication answer
    answer_scheme = "Kerberos"
    server: _HttpServer

    def setup(self) -> None:
        self.app: WsmanServer = self.server.app
        # idle keep-alive connections end as http.sys ends them
        self.request.settimeout(self.app.keepalive_timeout)
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.ntlm = auth.NtlmSession(self.app.keytab_cred, self.app.channel_binding)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._simple(405)

    do_PUT = do_DELETE = do_HEAD = do_GET

    def do_POST(self) -> None:
        started = time.monotonic()
        try:
            status = self._post()
        except _Dropped:
            self.close_connection = True
            status = 0
        log.debug(
            "%s POST %s -> %s in %.1f ms",
            self.client_address[0],
            self.path,
            status or "dropped",
            (time.monotonic() - started) * 1000,
        )

    # -- request --------------------------------------------------------------------------

    def _post(self) -> int:
        path = urlsplit(self.path).path
        host = self.app.host_of_path(path)
        length_text = self.headers.get("Content-Length")
        if length_text is None and self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return self._simple(411)
        try:
            length = int(length_text or "0")
        except ValueError:
            length = -1
        if length < 0 or length > self.app.max_body_bytes:
            self.close_connection = True
            return self._simple(413 if length > 0 else 400)
        body = self._read_body(host, length)
        handler = self.app.resolver(host) if host else None
        if host is None or handler is None:
            return self._simple(404)

        user = self._authenticate(host)
        if user is None:
            return 401
        encrypted = auth.is_encrypted(self.headers.get("Content-Type", ""))
        if encrypted:
            try:
                body = self.ntlm.decrypt(body)
            except auth.BadMessage as exc:
                log.debug("cannot decrypt request for %s: %s", host, exc)
                return self._simple(400, host=host)
        elif body and self.app.ssl_context is None and not self.app.allow_unencrypted:
            return self._challenge(host)
        if not body:
            # pywinrm's first NTLM request (it sets up encryption) has an empty body
            return self._respond(host, 200, b"", encrypt=False)

        try:
            req = soap.parse_request(body)
        except WsmanFault as fault:
            return self._fault(host, fault, "", encrypted)
        step = self.app.service.step_of(host, user, req)
        decision = self.app.faults.decide(host, step)
        if decision.action is Action.DROP:
            self._drop()
        if decision.action is Action.FAULT:
            return self._fault(host, WsmanFault(decision.code), req.message_id, encrypted)
        if decision.action is Action.TIMEOUT:
            return self._fault(host, WsmanFault(soap.OPERATION_TIMEOUT), req.message_id, encrypted)
        try:
            response = self.app.service.handle(
                host,
                user,
                req,
                handler,
                address=f"{self.app.scheme}://{self.headers.get('Host', '')}{path}",
                client_ip=self.client_address[0],
            )
        except WsmanFault as fault:
            if decision.action is Action.DROP_AFTER:
                self._drop()
            return self._fault(host, fault, req.message_id, encrypted)
        if decision.action is Action.DROP_AFTER:
            self._drop()
        return self._respond(host, 200, response, encrypt=encrypted, content_type=SOAP_CONTENT_TYPE)

    def _read_body(self, host: str | None, length: int) -> bytes:
        allowance = self.app.faults.body_allowance(host, length) if host else None
        if allowance is not None:
            self.rfile.read(allowance)
            log.info("fault injection: dropping connection of %s after body bytes", host)
            self._drop()
        data = self.rfile.read(length) if length else b""
        if len(data) < length:
            self._drop()  # the client went away mid-body
        return data

    def _authenticate(self, host: str) -> str | None:
        """The authenticated user, or None after answering 401."""
        scheme, _, value = self.headers.get("Authorization", "").strip().partition(" ")
        kind = scheme.lower()
        if kind == "basic" and "basic" in self.app.auth_methods:
            if self.app.ssl_context is None and not self.app.allow_unencrypted:
                self._challenge(host)  # Basic over http needs AllowUnencrypted
                return None
            try:
                return auth.check_basic(value, self.app.users)
            except auth.AuthFailed as exc:
                log.info("Basic logon to %s refused: %s", host, exc)
                self._challenge(host)
                return None
        if kind in ("negotiate", "ntlm", "kerberos") and self.app.auth_methods & {
            "ntlm",
            "kerberos",
        }:
            try:
                token = base64.b64decode(value.strip(), validate=True)
                method = "kerberos" if auth.is_kerberos_token(token) else "ntlm"
                if method not in self.app.auth_methods:
                    raise auth.AuthFailed(f"{method} is not enabled on this endpoint")
                out = self.ntlm.step(token)
                # the mutual-authentication token goes back under the scheme the client
                # used, as http.sys does (requests-kerberos reads only Negotiate)
                self.answer_scheme = "Negotiate" if kind == "negotiate" else "Kerberos"
            except (binascii.Error, auth.AuthFailed) as exc:
                log.info("%s logon to %s refused: %s", scheme, host, exc)
                self.ntlm = auth.NtlmSession(self.app.keytab_cred, self.app.channel_binding)
                self._challenge(host)
                return None
            if self.ntlm.complete and self.ntlm.channel_bound:
                self.app.bound_logons += 1
            if self.ntlm.complete and self.ntlm.kerberos:
                self.app.kerberos_logons.append({"user": self.ntlm.user,
                                                 "delegated": self.ntlm.delegated})
            if not self.ntlm.complete:
                reply = base64.b64encode(out or b"").decode("ascii")
                self._respond(host, 401, b"", headers=[("WWW-Authenticate", f"{scheme} {reply}")])
                return None
            return self.ntlm.user
        if not scheme and self.ntlm.complete:
            return self.ntlm.user
        self._challenge(host)
        return None

    # -- responses ------------------------------------------------------------------------

    def _challenge(self, host: str | None) -> int:
        headers = []
        if self.app.auth_methods & {"ntlm", "kerberos"}:
            headers.append(("WWW-Authenticate", "Negotiate"))
        if "kerberos" in self.app.auth_methods:
            headers.append(("WWW-Authenticate", "Kerberos"))
        if "basic" in self.app.auth_methods:
            headers.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        return self._respond(host, 401, b"", headers=headers)

    def _fault(self, host: str, fault: WsmanFault, relates_to: str, encrypt: bool) -> int:
        body = soap.fault_response(fault, relates_to, machine=host)
        return self._respond(host, 500, body, encrypt=encrypt, content_type=SOAP_CONTENT_TYPE)

    def _simple(self, status: int, host: str | None = None) -> int:
        return self._respond(host, status, b"")

    def _respond(
        self,
        host: str | None,
        status: int,
        body: bytes,
        *,
        encrypt: bool = False,
        content_type: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> int:
        if host is not None:
            delay = self.app.faults.latency(host)
            if delay > 0:
                self.app.stopping.wait(delay)
        if encrypt:
            body = self.ntlm.encrypt(body)
            content_type = auth.ENCRYPTED_CONTENT_TYPE
        lines = [
            f"HTTP/1.1 {status} {_PHRASES.get(status, 'Error')}",
            f"Server: {self.server_version}",
            f"Content-Length: {len(body)}",
        ]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        lines.extend(f"{name}: {value}" for name, value in headers)
        answer, self.ntlm.answer = self.ntlm.answer, None
        if answer is not None and status != 401:
            # Kerberos mutual authentication: the AP-REP rides on the first answer
            encoded = base64.b64encode(answer).decode("ascii")
            lines.append(f"WWW-Authenticate: {self.answer_scheme} {encoded}")
        if self.close_connection:
            lines.append("Connection: close")
        # one write: headers and body in one segment
        try:
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        except OSError as exc:
            raise _Dropped() from exc
        return status

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise _Dropped()

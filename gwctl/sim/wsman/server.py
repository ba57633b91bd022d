"""HTTP(S) listener of the emulated WinRM service: many hosts on one port, by URL path.

``POST /wsman/<host>`` reaches the emulated host ``<host>`` (pywinrm endpoint
``http://127.0.0.1:PORT/wsman/<host>``, Ansible ``ansible_winrm_path: /wsman/<host>``).

Design: a threaded ``http.server`` with HTTP/1.1 keep-alive — one thread and one handler
object per TCP connection. Chosen over asyncio/ASGI because WinRM authentication is
connection-bound (the NTLM context, and with it the message encryption keys, lives with the
TCP connection), because fault injection must drop a connection after exactly N body bytes
or between two requests, and because command handlers are blocking code; all three are
direct with a socket per thread and awkward behind an ASGI server that hides connections.
Fifty concurrent clients means fifty threads, which is fine for a loopback simulator.

Behaviour copied from Windows (see ``auth.py`` for NTLM and encryption):

- 401 with an empty body and ``WWW-Authenticate: Negotiate`` / ``Basic realm="WSMAN"``
  headers when a request carries no (valid) credentials.
- ``allow_unencrypted=False`` (WinRM's ``AllowUnencrypted``, false by default on Windows):
  over http, Basic is refused with 401 and so is any unencrypted body, as Windows does;
  only NTLM-encrypted messages pass. https is always allowed.
- An encrypted body that cannot be decrypted on this connection (e.g. a client that
  reconnected without re-authenticating) gets 400, which Ansible's plugin knows.
- Faults are HTTP 500 with an ``s:Fault`` envelope; every response echoes the request's
  MessageID in ``a:RelatesTo``; sockets get TCP_NODELAY (else Nagle + delayed ACK cost
  ~40 ms per round trip).
"""

from __future__ import annotations

import logging
import socket
import socketserver
import ssl
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, unquote

from gwctl.sim.wsman import auth
from gwctl.sim.wsman.connection import ConnectionHandler
from gwctl.sim.wsman.faults import FaultTable
from gwctl.sim.wsman.service import ShellService
from gwctl.sim.wsman.shell import Resolver, ShellManager
from gwctl.sim.wsman.tls import TlsFiles, ensure_certificates

log = logging.getLogger("gwctl.sim.wsman")

PATH_PREFIX = "/wsman/"
AUTH_METHODS = frozenset({"basic", "ntlm", "kerberos"})


class WsmanServer:
    """An emulated WinRM service for many hosts, on one loopback port.

    `resolver` maps the host name of the URL path to its command handler (None: 404);
    `users` maps user names to passwords (Basic and NTLM); with `kerberos_keytab` the
    endpoint also accepts Kerberos for the service principals in that keytab (the KDC is
    the one the process's krb5.conf names; see ``auth.py``). See the module docstring for
    what `allow_unencrypted` changes; `https_dir` switches the listener to https with
    certificates kept in that directory (`ca_file` is the one to pin). `default_host` is the
    host served at plain ``/wsman`` — needed by ``winrm.Session``, which cuts any other path
    off its URL.
    """

    def __init__(
        self,
        resolver: Resolver,
        users: Mapping[str, str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        https_dir: str | Path | None = None,
        allow_unencrypted: bool = True,
        faults: FaultTable | None = None,
        auth_methods: Iterable[str] = ("basic", "ntlm"),
        max_operation_timeout: float = 60.0,
        max_receive_bytes: int = 96 * 1024,
        max_shells_per_user: int = 30,
        max_commands_per_shell: int = 1500,
        shell_idle_timeout: float = 7200.0,
        keepalive_timeout: float = 120.0,
        max_body_bytes: int = 4 * 1024 * 1024,
        default_host: str | None = None,
        kerberos_keytab: str | Path | None = None,
    ) -> None:
        self.resolver = resolver
        self.default_host = default_host
        self.users = dict(users)
        self.host = host
        self.faults = faults if faults is not None else FaultTable()
        self.auth_methods = frozenset(m.lower() for m in auth_methods)
        if not self.auth_methods <= AUTH_METHODS:
            raise ValueError(
                f"unsupported auth methods: {sorted(self.auth_methods - AUTH_METHODS)}"
            )
        #: the acceptor credential from the keytab; Kerberos is offered only with one
        self.keytab_cred: object | None = None
        if kerberos_keytab is not None:
            self.keytab_cred = auth.keytab_credential(kerberos_keytab)
            self.auth_methods |= {"kerberos"}
        elif "kerberos" in self.auth_methods:
            raise ValueError("the kerberos auth method needs kerberos_keytab")
        #: RFC 5929 tls-server-end-point of the https certificate (Extended Protection)
        self.channel_binding: bytes | None = None
        #: Kerberos logons whose token carried this endpoint's channel binding
        self.bound_logons = 0
        #: each completed Kerberos logon: its user and whether credentials were delegated
        self.kerberos_logons: list[dict[str, Any]] = []
        self.allow_unencrypted = allow_unencrypted
        self.keepalive_timeout = keepalive_timeout
        self.max_body_bytes = max_body_bytes
        self.shells = ShellManager(
            max_receive_bytes=max_receive_bytes,
            max_shells_per_user=max_shells_per_user,
            max_commands_per_shell=max_commands_per_shell,
            idle_timeout=shell_idle_timeout,
        )
        self.service = ShellService(self.shells, max_operation_timeout=max_operation_timeout)
        self.stopping = threading.Event()
        self._https_dir = Path(https_dir) if https_dir is not None else None
        self._requested_port = port
        self.tls_files: TlsFiles | None = None
        self.ssl_context: ssl.SSLContext | None = None
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> WsmanServer:
        """Listen and serve in a background thread; returns once the socket listens."""
        if self._httpd is not None:
            return self
        if self.stopping.is_set():
            raise RuntimeError("a stopped WsmanServer cannot start again; create a new one")
        if self._https_dir is not None:
            self.tls_files = ensure_certificates(self._https_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(self.tls_files.cert_file, self.tls_files.key_file)
            self.ssl_context = context
            self.channel_binding = auth.tls_server_end_point(self.tls_files.cert_file)
        if "ntlm" in self.auth_methods:
            auth.register_ntlm_users(self, self.users)
        try:
            self._httpd = _HttpServer((self.host, self._requested_port), self)
        except BaseException:
            auth.unregister_ntlm_users(self)
            raise
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"wsman-{self.port}",
            daemon=True,
        )
        self._thread.start()
        log.info("WinRM simulator listening on %s", self.base_url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, drop open connections, join threads and release the port."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        httpd.join_threads(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        self.shells.stop(timeout)
        auth.unregister_ntlm_users(self)

    def __enter__(self) -> WsmanServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses ------------------------------------------------------------------------

    @property
    def scheme(self) -> str:
        return "https" if self._https_dir is not None else "http"

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def ca_file(self) -> Path | None:
        """The CA certificate https clients pin (None for http)."""
        return self.tls_files.ca_file if self.tls_files else None

    def host_of_path(self, path: str) -> str | None:
        """Emulated host addressed by a URL path (``/wsman`` → `default_host`)."""
        if path.rstrip("/") == "/wsman":
            return self.default_host
        host = unquote(path[len(PATH_PREFIX) :]) if path.startswith(PATH_PREFIX) else ""
        return host if host and "/" not in host else None

    def path_for(self, host: str) -> str:
        """URL path of `host` (``ansible_winrm_path``)."""
        return PATH_PREFIX + quote(host, safe="")

    def url_for(self, host: str) -> str:
        """pywinrm endpoint of `host`."""
        return self.base_url + self.path_for(host)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # bursts of concurrent clients must not hit SYN retries (1 s)

    def __init__(self, address: tuple[str, int], app: WsmanServer) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.app = app
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._workers: set[threading.Thread] = set()
        super().__init__(address, ConnectionHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn): skip it
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = (
            str(self.server_address[0]),
            int(self.server_address[1]),
        )

    def process_request(self, request: Any, client_address: Any) -> None:
        worker = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            daemon=True,
            name="wsman-conn",
        )
        with self._lock:
            self._workers.add(worker)
        worker.start()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._workers.discard(threading.current_thread())

    def finish_request(self, request: Any, client_address: Any) -> None:
        context = self.app.ssl_context
        if context is None:
            ConnectionHandler(request, client_address, self)
            return
        # the TLS handshake runs here, in the connection's thread, not in the accept loop
        request.settimeout(10.0)
        try:
            tls = context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            log.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        try:
            ConnectionHandler(tls, client_address, self)
        finally:
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a peer that goes away is routine; anything else is a bug worth a traceback
        if isinstance(sys.exc_info()[1], OSError):
            log.debug("connection from %s ended: %s", client_address, sys.exc_info()[1])
        else:
            log.error("WinRM simulator failed on a request from %s", client_address, exc_info=True)

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def close_connections(self) -> None:
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def join_threads(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))

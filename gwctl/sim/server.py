"""The simulator on the network: one uvicorn server, one port per emulated gateway.

All gateways, plus a small admin endpoint, are served by **one** uvicorn server in one
asyncio event loop: each gateway gets a loopback socket of its own (``127.0.0.1``, port 0
= a free one, or the port it had in the previous run when that is still free), all
sockets are handed to ``uvicorn.Server.serve(sockets=[...])``, and the ASGI app dispatches
on ``scope["server"]`` (the local port). Sockets are created as TCP sockets with
TCP_NODELAY (uvicorn's transports do not set it on sockets passed in, and Nagle plus
delayed ACKs would cost ~40 ms per request). The emulated WinRM service
(`gwctl.sim.wsman.WsmanServer`) runs next to it, on one more loopback port.

`SimSite` is the Python API (and what the ``sim_site`` pytest fixture yields)::

    site = SimSite.create(tmp_path / "sim", SiteSpec(site="demo", gateways=2)).start()
    httpx.get(site.gateway_url("demo-ms") + "/.well-known/uris")
    site.recycle("demo-gw1"); site.set_fault("demo-gw1", "latency:50"); site.stop()

``start()`` serves from a background thread (tests, embedding); ``serve_forever()`` serves
from the calling thread until SIGTERM/SIGINT or an admin ``/shutdown`` (``gwctl sim up``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gwctl.errors import GwctlError, UsageError
from gwctl.sim.control import StateLock
from gwctl.sim.faults import Faults
from gwctl.sim.gateway import Receive, Scope, Send
from gwctl.sim.hostenv import Staging, needs_restart, stage
from gwctl.sim.site import SiteRuntime
from gwctl.sim.state import (
    PID_FILE,
    ProcessInfo,
    SimState,
    SiteSpec,
    create_state,
    utc_now_text,
    write_fleet,
    write_inventory,
)

LOOPBACK = "127.0.0.1"
POOL_POLL_TICKS = 3  # uvicorn ticks are 0.1 s


def _protocol_class() -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol, with TCP_NODELAY and the transport in ``scope["state"]``.

    The transport lets the ``drop`` fault close a connection without any response.
    """
    base: Any
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol as base

    class SimHttpProtocol(base):  # type: ignore[misc]
        def connection_made(self, transport: Any) -> None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().connection_made(transport)
            state: dict[str, Any] = self.__dict__.get("app_state") or {}
            self.app_state = {**state, "gwctl.transport": transport}

    return SimHttpProtocol


def listen_socket(port: int = 0, host: str = LOOPBACK) -> socket.socket:
    """A listening loopback TCP socket (TCP_NODELAY, inherited by accepted sockets)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def _bind_preferring(port: int | None) -> socket.socket:
    if port:
        try:
            return listen_socket(port)
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise
    return listen_socket(0)


class _Server(uvicorn.Server):
    """uvicorn without its signal capture (the owner decides) and with a periodic poll."""

    def __init__(self, config: uvicorn.Config, runtime: SiteRuntime) -> None:
        super().__init__(config)
        self.runtime = runtime

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def on_tick(self, counter: int) -> bool:
        if counter % POOL_POLL_TICKS == 0:
            with contextlib.suppress(Exception):
                self.runtime.poll_app_pools()
        result: bool = await super().on_tick(counter)
        return result


class SimSite:
    """An emulated XProtect site served on loopback (see the module docstring)."""

    def __init__(self, state_dir: Path | str, *, wsman: bool = True,
                 kerberos_keytab: Path | str | None = None,
                 ansible_modules: bool = False) -> None:
        self.state = SimState.load(state_dir)
        #: with ansible_modules=True the WinRM endpoint also answers Ansible's module
        #: wrapper (gwctl.sim.wsman.ansible_wrapper): lower-case host name -> its answers
        self.ansible_modules: dict[str, Any] | None = {} if ansible_modules else None
        #: the WinRM endpoint also accepts Kerberos, with the service keys of this keytab
        self.kerberos_keytab = kerberos_keytab
        self.runtime = SiteRuntime(self.state)
        self.want_wsman = wsman
        self.wsman: Any = None
        self._sockets: list[socket.socket] = []
        self._admin_socket: socket.socket | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = StateLock(self.state.dir)
        self._started = False
        self._admin: Starlette | None = None
        self.admin_port = 0
        #: the state's realm has its KDC running as this process's child
        self._kdc_started = False

    @classmethod
    def create(cls, state_dir: Path | str, spec: SiteSpec | None = None, *,
               wsman: bool = True, kerberos_keytab: Path | str | None = None,
               ansible_modules: bool = False) -> SimSite:
        """Create the state directory for `spec` and return the (not yet started) site."""
        create_state(state_dir, spec or SiteSpec())
        return cls(state_dir, wsman=wsman, kerberos_keytab=kerberos_keytab,
                   ansible_modules=ansible_modules)

    # -- start and stop -------------------------------------------------------------------

    def _prepare(self) -> None:
        if not self._lock.acquire():
            raise UsageError(f"a simulator is already running for {self.state.dir} "
                             f"(stop it with 'gwctl sim down --state {self.state.dir}')")
        try:
            ports: dict[str, int] = {}
            for gw in self.runtime.gateways.values():
                sock = _bind_preferring(gw.host.port)
                self._sockets.append(sock)
                ports[gw.name] = sock.getsockname()[1]
            previous = self.state.process
            self._admin_socket = _bind_preferring(previous.admin_port if previous else None)
            self.admin_port = self._admin_socket.getsockname()[1]
            self.runtime.bind_ports(ports)
            self.runtime.start_all()
            if self.want_wsman and self.kerberos_keytab is None and self.state.kerberos:
                from gwctl.sim import kerberos

                kerberos.start_kdc(self.state.dir, self.state.kerberos)
                self._kdc_started = True
                self.kerberos_keytab = kerberos.keytab(self.state.dir)
            if self.want_wsman:
                self._start_wsman(previous.wsman_port if previous else None)
            self.state.process = ProcessInfo(os.getpid(), self.admin_port,
                                             self.wsman.port if self.wsman else None,
                                             utc_now_text())
            self.state.save()
            (self.state.dir / PID_FILE).write_text(f"{os.getpid()}\n", "utf-8")
            write_inventory(self.state)
            write_fleet(self.state)
            config = uvicorn.Config(
                self._asgi, http=_protocol_class(), ws="websockets-sansio", lifespan="off",
                access_log=False, log_config=None, log_level="warning",
                server_header=False, date_header=True, timeout_keep_alive=30,
                timeout_graceful_shutdown=3, loop="asyncio", interface="asgi3",
                proxy_headers=False)
            self._server = _Server(config, self.runtime)
            self._admin = _admin_app(self)
        except BaseException:
            self._cleanup()
            raise

    def _start_wsman(self, previous_port: int | None) -> None:
        from gwctl.sim.winrm_handler import make_resolver
        from gwctl.sim.wsman import FaultTable, WsmanServer

        users: dict[str, str] = {}
        for host in self.state.hosts.values():
            users.update(host.users)
        user, password = self.state.windows_admin
        users[user] = password
        faults = FaultTable()
        resolver = make_resolver(self.runtime, faults, self.ansible_modules)
        server = None
        if previous_port:
            with contextlib.suppress(OSError):
                server = WsmanServer(resolver, users, host=LOOPBACK, port=previous_port,
                                     kerberos_keytab=self.kerberos_keytab,
                                     faults=faults).start()
        if server is None:
            server = WsmanServer(resolver, users, host=LOOPBACK, port=0,
                                 kerberos_keytab=self.kerberos_keytab, faults=faults).start()
        self.wsman = server

    def start(self, timeout: float = 10.0) -> SimSite:
        """Serve from a background thread; returns once every port answers."""
        if self._started:
            return self
        self._prepare()
        server = self._server
        assert server is not None
        assert self._admin_socket is not None
        sockets = [*self._sockets, self._admin_socket]
        self._thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets)),
                                        name="gwctl-sim", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._cleanup()
                raise GwctlError("the simulator's HTTP server did not start")
            time.sleep(0.002)
        self._started = True
        return self

    def serve_forever(self, ready: Callable[[SimSite], None] | None = None) -> None:
        """Serve from this thread until SIGTERM/SIGINT or an admin shutdown.

        `ready` is called once the ports are bound, before serving starts.
        """
        self._prepare()
        if ready is not None:
            try:
                ready(self)
            except BaseException:
                self._cleanup()
                raise
        server = self._server
        assert server is not None
        assert self._admin_socket is not None
        sockets = [*self._sockets, self._admin_socket]

        def _exit(signum: int, frame: Any) -> None:
            server.should_exit = True

        old = {sig: signal.signal(sig, _exit) for sig in (signal.SIGTERM, signal.SIGINT)}
        self._started = True
        try:
            asyncio.run(server.serve(sockets))
        finally:
            for sig, handler in old.items():
                signal.signal(sig, handler)
            self._started = False
            self._cleanup()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, release every port and the state lock (idempotent)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._started = False
        self._cleanup()

    def _cleanup(self) -> None:
        if self.wsman is not None:
            with contextlib.suppress(Exception):
                self.wsman.stop()
            self.wsman = None
        if self._kdc_started:
            from gwctl.sim import kerberos

            kerberos.stop_kdc(self.state.dir)
            self._kdc_started = False
        for sock in [*self._sockets, self._admin_socket]:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        self._sockets, self._admin_socket = [], None
        for gw in self.runtime.gateways.values():
            gw.logs.close()
            gw.webrtc.reset()  # ends its media peers, which would stream on otherwise
        self.runtime.management.close()
        process = self.state.process
        ours = self._lock.held and process is not None and process.pid == os.getpid()
        if self._server is not None or ours:
            self.state.process = None
            with contextlib.suppress(OSError):
                self.state.save()
            with contextlib.suppress(OSError):
                (self.state.dir / PID_FILE).unlink()
            self._server = None
        self._lock.release()

    def request_shutdown(self) -> None:
        if self._server is not None:
            self._server.should_exit = True

    def __enter__(self) -> SimSite:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- the ASGI entry point -------------------------------------------------------------

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            gw = self.runtime.by_port.get(scope["server"][1])
            if gw is not None:
                await gw.websocket(scope, receive, send)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            return
        gw = self.runtime.by_port.get(scope["server"][1])
        if gw is not None:
            await gw.asgi(scope, receive, send)
            return
        if self._admin is not None:
            await self._admin(scope, receive, send)

    # -- the Python API -------------------------------------------------------------------

    @property
    def state_dir(self) -> Path:
        return self.state.dir

    @property
    def inventory_path(self) -> Path:
        return self.state.dir / "inventory.yml"

    @property
    def fleet_path(self) -> Path:
        return self.state.dir / "fleet.yaml"

    @property
    def gateway_names(self) -> list[str]:
        return [gw.name for gw in self.runtime.gateways.values()]

    @property
    def management_host(self) -> str:
        return self.state.management_host

    @property
    def users(self) -> dict[str, str]:
        """XProtect basic users of the emulated IDP (name -> password)."""
        return dict(self.state.xprotect_users)

    @property
    def windows_admin(self) -> tuple[str, str]:
        """The Windows account of the hosts (WinRM): (user, password)."""
        return self.state.windows_admin

    def gateway_url(self, name: str) -> str:
        """``http://127.0.0.1:PORT/api`` of gateway `name`."""
        gw = self.runtime.gateway(name)
        if not gw.port:
            raise GwctlError("the simulator is not started")
        return f"http://{LOOPBACK}:{gw.port}/api"

    def wsman_url(self, name: str) -> str:
        """The pywinrm endpoint of host `name` (``http://127.0.0.1:PORT/wsman/NAME``)."""
        if self.wsman is None:
            raise GwctlError("the simulator's WinRM endpoint is not running")
        url: str = self.wsman.url_for(self.state.host(name).name)
        return url

    def host_root(self, name: str) -> Path:
        return self.state.host_root(name)

    def install_dir(self, name: str) -> Path:
        """Local directory of ``C:\\Program Files\\Milestone\\XProtect API Gateway``."""
        return self.state.install_dir(name)

    def production_path(self, name: str) -> Path:
        return self.install_dir(name) / "appsettings.Production.json"

    def plant_as_local_user(self, name: str, windows_path: str, data: bytes) -> None:
        """Write a file as a local, non-admin account of host `name` would: allowed where
        the modelled ACL lets Users create files (a folder gwctl has not protected
        inherits ProgramData's), else `PermissionError` (`gwctl.ops.hostkey`)."""
        from gwctl.ops.hostkey import local_user_may_create
        from gwctl.ops.pyimpl import DirectoryHost

        target = DirectoryHost(self.host_root(name)).map_path(windows_path)
        folder = target.parent
        while not folder.exists():
            folder = folder.parent
        if not local_user_may_create(folder) or (
                target.parent.exists() and not local_user_may_create(target.parent)):
            raise PermissionError(f"{windows_path}: access denied (Administrators and "
                                  "SYSTEM only)")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def install_jea_module(self, name: str, module_dir: Path) -> Path:
        """Do on host `name` what `gwctl host-setup`'s install script does with the module
        (`gwctl.sim.jea`): from then on the host runs only the scripts its policy lists,
        on the pinned paths (docs/jea.md)."""
        from gwctl.sim.jea import install_module

        return install_module(self.host_root(name), module_dir)

    def recycle(self, name: str) -> dict[str, Any]:
        """Recycle the gateway's app pool (re-reads its appsettings files)."""
        return self.runtime.gateway(name).recycle()

    def stage_host(self, name: str, staging: Staging) -> list[str]:
        """Change host `name`'s IIS files as an administrator would (`gwctl.sim.hostenv`)
        and, unless only app_offline.htm changed (ANCM polls for it), recycle its gateway
        as IIS restarts an application whose configuration changed."""
        gw = self.runtime.gateway(name)
        done = stage(gw.root, gw.install_dir, staging)
        if needs_restart(staging):
            gw.recycle(source="host configuration changed")
        return done

    def set_pool_state(self, name: str, state: str) -> dict[str, Any]:
        """Start or stop the gateway's app pool (``Started`` / ``Stopped``)."""
        return self.runtime.gateway(name).set_pool_state(state)

    def upgrade(self, name: str, release: str, *, reset_nlog: bool = False
                ) -> dict[str, Any]:
        """Install `release` on host `name` (see `SiteRuntime.upgrade`): the management
        server host upgrades the management server and its co-located gateway."""
        return self.runtime.upgrade(name, release, reset_nlog=reset_nlog)

    def set_fault(self, name: str, profile: str, param: str | float | None = None
                  ) -> list[str]:
        """Activate a fault profile on a host (see `gwctl.sim.faults`); active profiles."""
        host = self.state.host(name)
        host.faults.set(profile, None if param is None else str(param))
        self.runtime.persist()
        return host.faults.describe()

    def clear_faults(self, name: str, profile: str | None = None) -> list[str]:
        host = self.state.host(name)
        host.faults.clear(profile)
        self.runtime.persist()
        return host.faults.describe()

    def faults(self, name: str) -> Faults:
        return self.state.host(name).faults

    def status(self) -> dict[str, Any]:
        out = self.runtime.status()
        out["process"] = self.state.process.to_json() if self.state.process else None
        out["wsman"] = ({"port": self.wsman.port, "url": self.wsman.base_url + "/wsman/<host>"}
                        if self.wsman else None)
        krb = self.state.kerberos
        if krb is not None and self._kdc_started:
            from gwctl.sim import kerberos

            # never the password: status is printed; it is in inventory.yml and state.json
            out["kerberos"] = {"realm": krb.realm, "user": krb.user,
                               "kdc": f"127.0.0.1:{krb.kdc_port}",
                               "krb5_conf": str(kerberos.krb5_conf(self.state.dir).resolve())}
        out["inventory"] = str(self.inventory_path)
        out["fleet"] = str(self.fleet_path)
        return out


# -- the admin endpoint -------------------------------------------------------------------


def _admin_app(site: SimSite) -> Starlette:
    token = site.state.admin_token

    def authorized(request: Request) -> bool:
        return request.headers.get("authorization", "") == f"Bearer {token}"

    def fail(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def body_of(request: Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def guarded(handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            if not authorized(request):
                return fail(401, "missing or wrong admin token")
            try:
                result: Response = await handler(request)
            except GwctlError as exc:
                return fail(400, exc.message)
            except ValueError as exc:
                return fail(400, str(exc))
            return result
        return endpoint

    async def status(request: Request) -> Response:
        return JSONResponse(site.status())

    async def recycle(request: Request) -> Response:
        data = await body_of(request)
        return JSONResponse(site.recycle(str(data.get("host", ""))))

    async def pool(request: Request) -> Response:
        data = await body_of(request)
        return JSONResponse(site.set_pool_state(str(data.get("host", "")),
                                                str(data.get("state", ""))))

    async def fault(request: Request) -> Response:
        data = await body_of(request)
        host = str(data.get("host", ""))
        if data.get("clear"):
            profile = data.get("profile")
            active = site.clear_faults(host, str(profile) if profile else None)
        else:
            active = site.set_fault(host, str(data.get("profile", "")))
        return JSONResponse({"host": site.state.host(host).name, "faults": active})

    async def upgrade(request: Request) -> Response:
        data = await body_of(request)
        return JSONResponse(site.upgrade(str(data.get("host", "")),
                                         str(data.get("version", "")),
                                         reset_nlog=data.get("reset_nlog") is True))

    async def shutdown(request: Request) -> Response:
        site.request_shutdown()
        return JSONResponse({"stopping": True, "pid": os.getpid()})

    return Starlette(routes=[
        Route("/status", guarded(status), methods=["GET"]),
        Route("/recycle", guarded(recycle), methods=["POST"]),
        Route("/pool", guarded(pool), methods=["POST"]),
        Route("/fault", guarded(fault), methods=["POST"]),
        Route("/upgrade", guarded(upgrade), methods=["POST"]),
        Route("/shutdown", guarded(shutdown), methods=["POST"]),
    ])


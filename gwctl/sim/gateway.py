"""One emulated API Gateway: its app pool, running configuration and request pipeline.

Pipeline of a request on the gateway's port (what IIS + ASP.NET Core + YARP do):

1. network faults of the host (``latency``, ``drop``, ``5xx-burst``);
2. IIS: the app pool must be started and not recycling (else 503); the gateway's start
   must have succeeded (else 503 until fixed and recycled); the app is mounted at ``/api``
   (anything else is IIS's 404), so ``/api/rest/v1/sites`` is ``/rest/v1/sites`` for YARP;
3. CORS (loaded ``CORS`` section): a preflight ``OPTIONS`` is answered 204 at once, with
   ``Access-Control-Allow-Origin/-Headers/-Methods`` when the origin (and the requested
   method and headers) are allowed and without them otherwise; other responses to an
   allowed ``Origin`` carry the same headers; ``Enabled: false`` means no CORS headers;
4. endpoint selection among the YARP routes and the gateway's own controllers (WebRTC
   signalling, ``/REST/v1/Internal/...`` commands), see `gwctl.sim.routing`;
5. a YARP route: its cluster must exist (else 503, as YARP's
   ``ProxyPipelineInitializerMiddleware`` answers "no cluster found",
   microsoft/reverse-proxy src/ReverseProxy/Model/ProxyPipelineInitializerMiddleware.cs)
   and have a destination (else 503); a destination whose ``Address`` is not an absolute
   http(s) URI answers 502 (YARP cannot build the outgoing request URI,
   ``RequestUtilities.MakeDestinationAddress``); the request is transformed and sent to the
   first destination. Destinations resolve by host name to the emulated hosts of the site
   (scheme and port are not checked; ``127.0.0.1:PORT`` of a gateway works too): the
   management server host serves the management server, IDP and event server paths, and
   ``/API/...`` on a gateway host re-enters that gateway (at most 4 hops). Any other
   address -- a dead or unknown host -- answers **502 at once**: the simulator opens no
   outbound connection, and YARP answers 502 when it cannot connect.

A request body over `MAX_BODY` (4 MiB, the simulator's limit; IIS request filtering has
its own, larger one) is refused with 413, as IIS's request filtering does.

WebSocket upgrades take the same path (`GatewayEmulator.websocket`): IIS's 503s first,
then endpoint selection; the WebRTC signalling endpoint ``/ws/webrtc/v1`` (2025 R1+) is
the gateway's own (`gwctl.sim.webrtc_ws`), any other upgrade is refused with the answer
the same HTTP GET would get. On the management server host, ``/IDP/...`` outside ``/api``
is the IDP's own IIS application (Windows users' tokens, see `gwctl.sim.backends`).

**Version mismatch.** From 2023 R3 a gateway's release must equal the management
server's. The emulation (a choice; the vendor does not document the symptom) lets a
mismatched gateway start and pass the anonymous ``/.well-known/uris`` through -- so
discovery still reads the management server's ``ProductVersion`` through any gateway, and
a probe of that URL alone does not notice -- while every other call that needs the
management server (IDP token, REST, event server) and the gateway's own WebRTC and
internal commands answer ``502 {"error": "..."}``, as a gateway whose upstream refuses it.
The reason is written to ``gateway.log`` at start and shown by ``gwctl sim status``.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from gwctl.errors import OperationError
from gwctl.fleet.model import APP_POOL, DEFAULT_INSTALL_DIR
from gwctl.iis.ancm import PROVIDERS, start_failure_event, start_success_event
from gwctl.iis.behaviour import (
    PRODUCTION,
    START_FAILURE_STATUS,
    EnvironmentDecision,
    effective_environment,
)
from gwctl.iis.hostinfo import HostInfo
from gwctl.ops.eventlog import append_entry
from gwctl.ops.pyimpl import DirectoryHost
from gwctl.ops.winpaths import child
from gwctl.sim import webrtc_ws
from gwctl.sim.hostenv import APP_OFFLINE
from gwctl.sim.iislog import IisLog
from gwctl.sim.logs import GatewayLogs
from gwctl.sim.messages import SimResponse, empty, iis_error, json_response
from gwctl.sim.routing import (
    Endpoint,
    ForwardRequest,
    RouteTemplate,
    apply_request_transforms,
    apply_response_transforms,
    select,
    split_path,
)
from gwctl.sim.running import RunningConfig, load_running_config
from gwctl.sim.state import HostState, utc_now_text
from gwctl.sim.webrtc import WebRtcService
from gwctl.versions.dotnet import runtime_for
from gwctl.versions.features import supports
from gwctl.versions.release import Version
from gwctl.yarp import constraints, destination

if TYPE_CHECKING:
    from gwctl.sim.site import SiteRuntime

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

MAX_BODY = 4 * 1024 * 1024
MISSING_CLUSTER_STATUS = 503
MAX_HOPS = 4
SERVER_HEADER = (b"server", b"gwctl-sim")


@dataclass
class IncomingRequest:
    method: str
    path: str  # full path, e.g. /api/rest/v1/sites
    query_string: str
    headers: dict[str, str]  # lower-case names, repeated headers joined with ","
    body: bytes
    client: str
    port: int
    client_port: int = 0

    _query: list[tuple[str, str]] | None = None

    @property
    def query(self) -> list[tuple[str, str]]:
        if self._query is None:
            self._query = parse_qsl(self.query_string, keep_blank_values=True)
        return self._query

    def query_values(self, name: str) -> list[str] | None:
        low = name.lower()
        found = [v for k, v in self.query if k.lower() == low]
        return found or None

    def header_values(self, name: str) -> list[str] | None:
        value = self.headers.get(name.lower())
        return None if value is None else [value]


def _internal_endpoints(version: Version) -> list[Endpoint]:
    eps: list[Endpoint] = []
    if supports("webrtc-rest-signalling", version):
        for eid, template, methods in (
            ("WebRTC.Session.Create", "/REST/v1/WebRTC/Session", {"POST"}),
            ("WebRTC.Session", "/REST/v1/WebRTC/Session/{sessionId}", {"GET", "PATCH"}),
            ("WebRTC.IceCandidates", "/REST/v1/WebRTC/IceCandidates/{sessionId}",
             {"GET", "POST"}),
        ):
            eps.append(Endpoint(eid, RouteTemplate.parse(template),
                                methods=frozenset(methods), internal=eid))
    if supports("webrtc-ws-signalling", version):
        eps.append(Endpoint("WebRTC.WebSocket", RouteTemplate.parse("/ws/webrtc/v1"),
                            methods=frozenset({"GET"}), internal="WebRTC.WebSocket"))
    eps.append(Endpoint("Internal.Commands", RouteTemplate.parse("/REST/v1/Internal/{**command}"),
                        internal="Internal.Commands"))
    return eps


class GatewayEmulator:
    """An emulated gateway host: IIS app pool + ASP.NET Core app + YARP."""

    def __init__(self, site: SiteRuntime, host: HostState) -> None:
        assert host.gateway_version is not None and host.app_pool is not None
        self.site = site
        self.host = host
        self.name = host.name
        self.version = Version.parse(host.gateway_version)
        self._mismatch: tuple[tuple[Any, ...], str | None] = ((), None)
        self.root = site.state.host_root(host.name)
        self.install_dir = site.state.install_dir(host.name)
        self.directory = DirectoryHost(self.root, app_pools=SimAppPools(self))
        self.logs = GatewayLogs(self.directory, self.install_dir)
        self.iis_log = IisLog(self.directory.map_path)
        seed = site.state.seed ^ zlib.crc32(host.name.encode())
        self.rng = random.Random(seed)
        self.webrtc = WebRtcService(self.version, site.management.cameras, seed=seed)
        self.internal = _internal_endpoints(self.version)
        self.running = RunningConfig(ok=False, reason="not started")
        self.recycling_until = 0.0
        self.port = 0
        self._lock = threading.Lock()
        self._pool_written: str | None = None
        #: the host's IIS facts as read at the last start (None: unreadable)
        self.host_info: HostInfo | None = None
        self.environment = EnvironmentDecision(PRODUCTION, None, "default")
        #: monotonic times of failed starts, for rapid-fail protection
        self._failed_starts: list[float] = []

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def pool(self) -> Any:
        return self.host.app_pool

    @property
    def mismatch(self) -> str | None:
        """Why this gateway cannot work with the management server (versions), or None."""
        key = (self.version, self.site.ms_version)
        if self._mismatch[0] != key:
            self._mismatch = (key, self.site.version_mismatch(self.version))
        return self._mismatch[1]

    @property
    def dotnet_version(self) -> int:
        """The .NET major version the worker runs: the host's, else its release's."""
        declared = self.host.dotnet_version
        return declared if declared is not None else runtime_for(self.version)

    def set_version(self, version: Version) -> None:
        """An upgrade (or downgrade) of the installed gateway; takes effect at next start."""
        self.version = version
        self.webrtc.reset()  # the old service's media peers end with it
        self.webrtc = WebRtcService(version, self.site.management.cameras,
                                    seed=self.site.state.seed ^ zlib.crc32(self.name.encode()))
        self.internal = _internal_endpoints(version)

    def _read_host(self) -> HostInfo | None:
        try:
            return HostInfo.from_result(self.directory.run(
                "read_host", {"install_dir": DEFAULT_INSTALL_DIR, "pool": APP_POOL}))
        except (OperationError, ValueError):
            return None

    def start(self) -> None:
        """Start the worker process: the host's IIS facts decide the environment (which
        ``appsettings.{Environment}.json`` is loaded) and the pool identity NLog writes
        as; then nlog.config and the appsettings files are loaded."""
        info = self._read_host()
        self.host_info = info
        self.iis_log.configure(info)
        self.environment = (effective_environment(info) if info is not None
                            else EnvironmentDecision(PRODUCTION, None, "default"))
        self.logs.identity_type = info.app_pool.identity_type if info else "NetworkService"
        self.logs.start()
        self.running = load_running_config(self.install_dir, self.version, self.internal,
                                           trusted_base=self.site.reference_digest(self),
                                           runtime=self.dotnet_version,
                                           environment=self.environment.name)
        self.webrtc.reset()
        if self.running.ok:
            self.logs.app("info", f"Application started. Hosting environment: "
                                  f"{self.environment.name}; "
                                  f"{self.running.route_count} routes, "
                                  f"{len(self.running.clusters)} clusters loaded")
        else:
            self.logs.app("fatal", f"Application startup exception: {self.running.reason}")
        self._ancm_event(info)
        if not self.running.ok:
            self._rapid_fail(info)
        if self.mismatch:
            self.logs.app("error", self.mismatch)

    def _ancm_event(self, info: HostInfo | None) -> None:
        """ANCM's Application-log entry for this start (`gwctl.iis.ancm`); only a host with
        the gateway's web.config runs under ANCM."""
        if info is None or not info.web_config.exists:
            return
        model = info.web_config.hosting_model
        root = DEFAULT_INSTALL_DIR.rstrip("\\") + "\\"
        if self.running.ok:
            event_id, message = start_success_event(model, self.pool.worker_pid or 0,
                                                    49152 + zlib.crc32(self.name.encode()) % 16000)
            entry_type = "Information"
        else:
            # the host's start-up exception, as the .NET host prints it on stderr
            event_id, message = start_failure_event(
                model, root, f"Unhandled exception. {self.running.reason}")
            entry_type = "Error"
        append_entry(self.root, {"log": "Application", "source": PROVIDERS[0],
                                 "event_id": event_id, "entry_type": entry_type,
                                 "message": message, "written_at": utc_now_text()})

    def _rapid_fail(self, info: HostInfo | None) -> None:
        """A failed start is a worker failure: rapid-fail protection stops the pool after
        `rapid_fail_max_crashes` of them within the interval (hosts with a web.config;
        see `gwctl.sim.hostenv`)."""
        if info is None or not info.web_config.exists or not info.app_pool.rapid_fail_protection:
            return
        now = time.monotonic()
        window = info.app_pool.rapid_fail_interval_minutes * 60
        self._failed_starts = [t for t in self._failed_starts if now - t < window] + [now]
        if len(self._failed_starts) >= info.app_pool.rapid_fail_max_crashes:
            self._failed_starts = []
            self.pool.state = "Stopped"
            self.logs.app("fatal", f"Application pool '{APP_POOL}' is being automatically "
                                   "disabled due to a series of failures in the process(es) "
                                   "serving that application pool (rapid-fail protection)")

    def recycle(self, *, source: str = "gwctl sim") -> dict[str, Any]:
        """Recycle the app pool: a new worker reads the files; `recycle_delay` of 503s."""
        with self._lock:
            delay = self.host.faults.recycle_delay
            now = utc_now_text()
            self.pool.state = "Started"
            self.pool.last_recycle = now
            self.pool.worker_pid = self.rng.randrange(1000, 60000)
            self.recycling_until = time.monotonic() + delay
            self.logs.app("info", f"App pool '{APP_POOL}' recycled ({source})")
            self.start()
            self.site.persist(self)
        return {"name": self.pool.name, "state": self.pool.state, "recycled_at": now}

    def set_pool_state(self, state: str) -> dict[str, Any]:
        if state not in ("Started", "Stopped"):
            raise ValueError(f"unknown app pool state {state!r}")
        with self._lock:
            was = self.pool.state
            self.pool.state = state
            if state == "Started" and was != "Started":
                self.pool.worker_pid = self.rng.randrange(1000, 60000)
                self.start()
            self.site.persist(self)
        return self.pool_state()

    def pool_state(self) -> dict[str, Any]:
        return {"name": self.pool.name, "state": self.pool.state,
                "last_recycle": self.pool.last_recycle}

    def status(self) -> dict[str, Any]:
        rc = self.running
        serving = "ok"
        info = self.host_info
        if self.pool.state != "Started":
            serving = "503 (app pool stopped)"
        elif self.app_offline() is not None:
            serving = f"503 ({APP_OFFLINE} present)"
        elif time.monotonic() < self.recycling_until:
            serving = "503 (recycling)"
        elif not rc.ok:
            code = "503"
            if info is not None and info.web_config.exists:
                status, sub = START_FAILURE_STATUS[info.web_config.hosting_model]
                code = f"{status}.{sub}"
            serving = f"{code} ({rc.reason})"
        return {
            "name": self.name,
            "roles": list(self.host.roles),
            "version": self.host.gateway_version,
            "release": self.version.name,
            "dotnet_version": self.dotnet_version,
            "url": f"http://127.0.0.1:{self.port}/api",
            "port": self.port,
            "app_pool": {**self.pool.to_json()},
            "serving": serving,
            "config": rc.summary(),
            "version_mismatch": self.mismatch,
            "environment": {"name": self.environment.name,
                            "source": self.environment.describe()},
            "faults": self.host.faults.describe(),
            "nlog": {"reload_error": self.logs.last_reload_error,
                     "log_directory": (str(self.logs.settings.log_dir)
                                       if self.logs.settings and self.logs.settings.log_dir
                                       else None)},
        }

    # -- ASGI ---------------------------------------------------------------------------

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        faults = self.host.faults
        method: str = scope["method"]
        path: str = scope["path"]
        raw_headers = scope["headers"]
        if faults.any_request_fault:
            if faults.latency_ms:
                await asyncio.sleep(faults.latency_ms / 1000.0)
            if faults.take_drop(self.rng):
                self._log_raw(scope, method, path, "-", started, "dropped (fault drop)")
                transport = scope.get("state", {}).get("gwctl.transport")
                if transport is not None:
                    transport.abort()
                    await asyncio.sleep(0)
                return
            burst = faults.take_burst()
            if burst is not None:
                res = iis_error(503) if burst == 503 else empty(burst)
                res.note = "fault 5xx-burst"
                self._log_raw(scope, method, path, burst, started, res.note)
                self._site_log(scope, method, path, res, started)
                await self._send(send, res, method)
                return
        headers: dict[str, str] = {}
        for k, v in raw_headers:
            name = k.decode("latin-1")
            value = v.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        body = b""
        if "content-length" in headers or "transfer-encoding" in headers:
            chunks: list[bytes] = []
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > MAX_BODY:
                    await self._send(send, empty(413), method)
                    return
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            body = b"".join(chunks)
        client = scope.get("client") or ("-", 0)
        req = IncomingRequest(method, path, scope["query_string"].decode("latin-1"), headers,
                              body, client[0], scope["server"][1], client[1])
        self.logs.check()
        if self.webrtc.media is not None and req.method == "POST":
            # a POST may be a session request, which waits for a real media peer's offer:
            # that must not hold up the other requests. The other methods hand their media
            # work (the answer) to the peers without waiting, so they run here: a thread
            # hop per request costs each its turn for the GIL against the media thread
            res = await asyncio.to_thread(self.dispatch, req, 0)
        else:
            res = self.dispatch(req, 0)
        # logged before the answer leaves: a client holding the response finds its line
        authorization = headers.get("authorization")
        user = (self.site.management.idp.user_of(authorization) if authorization else None)
        self.logs.access(
            method=method, path=path, query=req.query_string, port=req.port,
            user=user, client=req.client, agent=headers.get("user-agent"),
            origin=headers.get("origin"), status=res.status,
            millis=int((time.perf_counter() - started) * 1000), route=res.route,
            destination=res.destination, note=res.note)
        self._site_log(scope, method, path, res, started)
        await self._send(send, res, method)

    async def _send(self, send: Send, res: SimResponse, method: str) -> None:
        body = res.body
        headers = [(b"content-length", str(len(body)).encode()), SERVER_HEADER, *res.headers]
        await send({"type": "http.response.start", "status": res.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})  # uvicorn drops it for HEAD

    def _log_raw(self, scope: Scope, method: str, path: str, status: int | str,
                 started: float, note: str) -> None:
        client = scope.get("client") or ("-", 0)
        self.logs.access(method=method, path=path,
                         query=scope["query_string"].decode("latin-1"),
                         port=scope["server"][1], user=None, client=client[0], agent=None,
                         origin=None, status=status,
                         millis=int((time.perf_counter() - started) * 1000), route="-",
                         destination="-", note=note)

    def _site_log(self, scope: Scope, method: str, path: str, res: SimResponse,
                  started: float) -> None:
        """The request's line in the IIS site's W3C log (`gwctl.sim.iislog`)."""
        if res.http_sys:
            return  # HTTP.sys answered for a stopped pool: its HTTPERR log, not the site's
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
        client = scope.get("client") or ("-", 0)
        self.iis_log.request(method=method, stem=path,
                             query=scope["query_string"].decode("latin-1"),
                             port=scope["server"][1], client=client[0],
                             agent=headers.get("user-agent"), referer=headers.get("referer"),
                             status=res.status, substatus=res.substatus,
                             millis=int((time.perf_counter() - started) * 1000))

    # -- the pipeline -------------------------------------------------------------------

    def app_offline(self) -> bytes | None:
        """The content of ``app_offline.htm`` while it exists (ANCM polls for it)."""
        try:
            return child(self.install_dir, APP_OFFLINE).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def _iis_refusal(self) -> SimResponse | None:
        """IIS's and ANCM's answers before the app: 503 while the app pool is stopped or
        recycling, app_offline.htm's content with 503, the start failure of the hosting
        model (`gwctl.iis.behaviour`)."""
        if self.pool.state != "Started":
            res = iis_error(503)
            res.note = "app pool stopped"
            res.http_sys = True
            return res
        offline = self.app_offline()
        if offline is not None:
            return SimResponse(503, offline, [(b"content-type", b"text/html")],
                               note="app_offline.htm present")
        if self.recycling_until and time.monotonic() < self.recycling_until:
            res = iis_error(503)
            res.note = "app pool recycling"
            return res
        if not self.running.ok:
            info = self.host_info
            if info is not None and info.web_config.exists:
                return ancm_start_failure(info.web_config.hosting_model, self.running.reason)
            res = iis_error(503)
            res.note = f"startup failed: {self.running.reason}"
            return res
        return None

    async def websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket upgrade: the signalling endpoint accepts it (`gwctl.sim.webrtc_ws`);
        anything else is refused with the answer the same HTTP GET would get."""
        started = time.perf_counter()
        headers: dict[str, str] = {}
        for k, v in scope["headers"]:
            name, value = k.decode("latin-1"), v.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        client = scope.get("client") or ("-", 0)
        req = IncomingRequest("GET", scope["path"], scope["query_string"].decode("latin-1"),
                              headers, b"", client[0], scope["server"][1], client[1])
        self.logs.check()
        res = self._iis_refusal()
        path = req.path
        if res is None and path[:4].lower() == "/api" and not self.mismatch:
            sel = select(self.running.endpoints, "GET", split_path(path[4:] or "/"),
                         headers.get("host", ""), req.header_values, req.query_values)
            if sel.endpoint is not None and sel.endpoint.internal == "WebRTC.WebSocket":
                self.logs.access(
                    method="GET", path=path, query=req.query_string, port=req.port,
                    user=None, client=req.client, agent=headers.get("user-agent"),
                    origin=headers.get("origin"), status=101, millis=0,
                    route=sel.endpoint.id, destination="-", note="websocket")
                self._site_log(scope, "GET", path, SimResponse(101), started)
                await webrtc_ws.serve(self, receive, send)
                return
        if res is None:
            res = self.dispatch(req, 0)
        self.logs.access(
            method="GET", path=path, query=req.query_string, port=req.port, user=None,
            client=req.client, agent=headers.get("user-agent"), origin=headers.get("origin"),
            status=res.status, millis=int((time.perf_counter() - started) * 1000),
            route=res.route, destination=res.destination, note="websocket refused")
        self._site_log(scope, "GET", path, res, started)
        await send({"type": "websocket.http.response.start", "status": res.status,
                    "headers": [(b"content-length", str(len(res.body)).encode()),
                                SERVER_HEADER, *res.headers]})
        await send({"type": "websocket.http.response.body", "body": res.body})

    def dispatch(self, req: IncomingRequest, hops: int) -> SimResponse:
        """IIS, then the app: everything after the network faults (sync, no I/O)."""
        refusal = self._iis_refusal()
        if refusal is not None:
            return refusal
        rc = self.running
        path = req.path
        if path[:5].lower() == "/idp/" and self.host.is_management_server:
            # the IDP is an IIS application of its own on the management server host
            fwd = ForwardRequest(req.method, path, list(req.query), dict(req.headers), req.body)
            res = self.site.management.idp_direct(fwd, (req.client, req.client_port))
            res.route = "IDP.direct"
            return res
        if not (path[:4].lower() == "/api" and (len(path) == 4 or path[4] == "/")):
            return iis_error(404)
        sub = path[4:] or "/"
        if rc.matcher_error is not None:
            # the endpoint matcher is built on the first request and throws on every one
            return SimResponse(constraints.UNRESOLVED_STATUS, b"", route="-",
                               note=f"endpoint matcher: {rc.matcher_error}")
        cors = rc.cors
        origin = req.headers.get("origin")
        cors_headers: list[tuple[bytes, bytes]] = []
        if cors is not None and origin is not None:
            acrm = req.headers.get("access-control-request-method")
            if req.method == "OPTIONS" and acrm is not None:
                preflight = cors.preflight(origin, acrm,
                                           req.headers.get("access-control-request-headers"))
                return SimResponse(204, b"", preflight, route="cors-preflight",
                                   note="allowed" if preflight else "origin not allowed")
            if cors.allows(origin):
                cors_headers = cors.response_headers(origin)
        res = self._route(req, sub, rc, hops)
        if cors_headers:
            res.headers.extend(cors_headers)
        return res

    def _route(self, req: IncomingRequest, sub: str, rc: RunningConfig,
               hops: int) -> SimResponse:
        sel = select(rc.endpoints, req.method, split_path(sub), req.headers.get("host", ""),
                     req.header_values, req.query_values)
        ep = sel.endpoint
        if ep is None:
            if sel.status == 405:
                return SimResponse(405, b"", [(b"allow", ", ".join(sel.allow).encode())])
            if sel.status == 500:
                return SimResponse(500, b"", route="-",
                                   note="AmbiguousMatchException: " + ";".join(sel.ambiguous))
            return empty(404)
        if ep.internal is not None:
            res = self._internal(ep.internal, req, sel.values)
            res.route = ep.id
            return res
        cluster = rc.clusters.get(ep.cluster_id.lower()) if ep.cluster_id else None
        if cluster is None:
            return SimResponse(MISSING_CLUSTER_STATUS, b"", route=ep.id,
                               note=f"cluster '{ep.cluster_id}' does not exist")
        if not cluster.destinations:
            return SimResponse(destination.NO_DESTINATION_STATUS, b"", route=ep.id,
                               note=f"cluster '{cluster.id}' has no destinations")
        _, address = cluster.destinations[0]
        why = destination.address_problem(address)
        if why is not None:
            return SimResponse(destination.BAD_ADDRESS_STATUS, b"", route=ep.id,
                               note=f"destination address '{address}' {why}")
        fwd = ForwardRequest(req.method, sub, list(req.query), dict(req.headers), req.body)
        apply_request_transforms(ep.transforms, fwd, sel.values, client_ip=req.client,
                                 host=req.headers.get("host", ""), scheme="http",
                                 path_base="/api")
        res = self.site.forward(self, address, fwd, hops)
        res.route = ep.id
        if any(t.kind.startswith("Response") for t in ep.transforms):
            pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in res.headers]
            pairs = apply_response_transforms(ep.transforms, res.status, pairs)
            res.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in pairs]
        return res

    def _internal(self, handler: str, req: IncomingRequest,
                  values: dict[str, str]) -> SimResponse:
        """The gateway's own controllers (WebRTC signalling, internal commands)."""
        if self.site.management.idp.user_of(req.headers.get("authorization")) is None:
            return json_response(401, {"error": "Unauthorized"},
                                 [(b"www-authenticate", b"Bearer")])
        if self.mismatch:
            return json_response(502, {"error": self.mismatch})
        sid = values.get("sessionId", "")
        if handler == "WebRTC.Session.Create":
            res = self.webrtc.create(req.body, self.running.ice_servers,
                                     self.host.faults.webrtc_window)
            # what a support case needs from gateway.log: each session request's outcome
            if res.status >= 400:
                self.logs.app("warn", f"WebRTC session request failed with status "
                                      f"{res.status}: {res.body.decode('utf-8', 'replace')}")
            else:
                self.logs.app("info", "WebRTC session created")
            return res
        if handler == "WebRTC.Session":
            if req.method == "PATCH":
                return self.webrtc.patch(sid, req.body)
            return self.webrtc.get(sid)
        if handler == "WebRTC.IceCandidates":
            return self.webrtc.ice_candidates(req.method, sid, req.body)
        if handler == "WebRTC.WebSocket":
            return json_response(400, {"error": "WebSocket upgrade required"})
        command = values.get("command", "")
        return json_response(200, {"data": {"command": command, "state": "Success",
                                             "query": dict(req.query)}})


_ANCM_TITLES = {"inprocess": "HTTP Error 500.30 - ASP.NET Core app failed to start",
                "outofprocess": "HTTP Error 502.5 - ANCM Out-Of-Process Startup Failure"}


def ancm_start_failure(model: str, reason: str | None) -> SimResponse:
    """ANCM's error page for an app that did not start (500.30 or 502.5)."""
    status, sub = START_FAILURE_STATUS["inprocess" if model == "inprocess" else "outofprocess"]
    title = _ANCM_TITLES["inprocess" if model == "inprocess" else "outofprocess"]
    body = (f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1>"
            "<p>Common solutions to this issue: the application failed to start; check the "
            "Application event log.</p></body></html>\r\n").encode("ascii")
    return SimResponse(status, body, [(b"content-type", b"text/html")],
                       note=f"{status}.{sub} startup failed: {reason}", substatus=sub)


class SimAppPools:
    """`gwctl.ops.pyimpl.AppPoolHook` of an emulated host: recycles the gateway in-process."""

    def __init__(self, gateway: GatewayEmulator) -> None:
        self.gateway = gateway

    def _check(self, name: str) -> None:
        if name.casefold() != self.gateway.pool.name.casefold():
            raise OperationError(f"application pool {name!r} does not exist", code="not_found")

    def recycle(self, name: str) -> dict[str, Any]:
        self._check(name)
        return self.gateway.recycle(source="remote operation recycle_app_pool")

    def state(self, name: str) -> dict[str, Any]:
        self._check(name)
        return self.gateway.pool_state()

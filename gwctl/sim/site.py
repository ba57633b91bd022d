"""The emulated site without its sockets: gateways, management server, forwarding.

`SiteRuntime` owns one `GatewayEmulator` per gateway host and the `ManagementServer`
backend, resolves cluster destinations to them, and keeps ``state.json`` up to date with
app-pool changes. `gwctl.sim.server.SimSite` puts it on the network.
"""

from __future__ import annotations

import hashlib
import json
import threading
from functools import lru_cache
from typing import Any
from urllib.parse import SplitResult, urlencode, urlsplit

from gwctl.errors import UsageError
from gwctl.fleet.model import APP_POOL
from gwctl.render.bases import reference_base_text
from gwctl.sim.backends import GatewayEntry, ManagementServer
from gwctl.sim.gateway import MAX_HOPS, GatewayEmulator, IncomingRequest
from gwctl.sim.messages import SimResponse, iis_error, json_response
from gwctl.sim.routing import ForwardRequest
from gwctl.sim.state import (
    DEFAULT_NLOG_CONFIG,
    SimState,
    product_version,
    write_installed_products,
    write_server_config,
)
from gwctl.textio import write_atomic
from gwctl.versions.features import supports
from gwctl.versions.release import Version

WELL_KNOWN = "/managementserver/.well-known/uris"


@lru_cache(maxsize=1024)
def _split(address: str) -> SplitResult:
    return urlsplit(address)


class SiteRuntime:
    def __init__(self, state: SimState) -> None:
        self.state = state
        self.ms_version = Version.parse(state.management_version)
        self.management = ManagementServer(state, self._gateway_entries)
        self.gateways: dict[str, GatewayEmulator] = {}
        for host in state.gateways():
            self.gateways[host.name.lower()] = GatewayEmulator(self, host)
        self.by_port: dict[int, GatewayEmulator] = {}
        self._persist_lock = threading.Lock()
        self._pool_marks: dict[str, tuple[int, str | None]] = {}

    # -- set-up -------------------------------------------------------------------------

    def version_mismatch(self, gateway_version: Version) -> str | None:
        """Why a gateway of `gateway_version` cannot work with this management server."""
        ms = self.ms_version
        if gateway_version.release_key == ms.release_key:
            return None
        if not (supports("version-match", ms) or supports("version-match", gateway_version)):
            return None
        return (f"API Gateway version {gateway_version.name} does not match the management "
                f"server version {ms.name} ({self.state.management_version}); since 2023 R3 "
                "they must be equal")

    def reference_digest(self, gw: GatewayEmulator) -> str:
        """sha256 of the reference ``appsettings.json`` the simulator installed for `gw`."""
        text = reference_base_text(gw.version, self.state.management_url,
                                   self.state.gateway_root_url(gw.name))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def bind_ports(self, ports: dict[str, int]) -> None:
        for name, port in ports.items():
            gw = self.gateway(name)
            gw.port = port
            gw.host.port = port
            self.by_port[port] = gw
        self.management.invalidate()

    def start_all(self) -> None:
        for gw in self.gateways.values():
            gw.start()
            self._write_pools(gw)

    def _gateway_entries(self) -> list[GatewayEntry]:
        return [GatewayEntry(gw.name, f"http://127.0.0.1:{gw.port}/API/",
                             gw.host.gateway_version or "")
                for gw in self.gateways.values()]

    def gateway(self, name: str) -> GatewayEmulator:
        gw = self.gateways.get(name.lower())
        if gw is None:
            raise UsageError(f"no gateway {name!r} in the simulated site (gateways: "
                             f"{', '.join(g.name for g in self.gateways.values())})")
        return gw

    # -- forwarding ---------------------------------------------------------------------

    def forward(self, origin: GatewayEmulator, address: str, req: ForwardRequest,
                hops: int) -> SimResponse:
        """Send a proxied request to a cluster destination (in-process)."""
        parts = _split(address)
        host = (parts.hostname or "").lower()
        full_path = parts.path.rstrip("/") + req.path if parts.path.strip("/") else req.path
        req.path = full_path
        target_url = f"{parts.scheme}://{parts.netloc}{full_path}"
        if hops >= MAX_HOPS:
            return SimResponse(502, b"", destination=target_url, note="forwarding loop")
        gw: GatewayEmulator | None = None
        is_ms = host == self.state.management_host.lower()
        if host in ("127.0.0.1", "localhost") and parts.port in self.by_port:
            gw = self.by_port[parts.port]
            is_ms = False
        elif host in self.gateways:
            gw = self.gateways[host]
        if not is_ms and gw is None:
            return SimResponse(502, b"", destination=target_url,
                               note=f"destination {parts.netloc} is not reachable (no "
                                    "emulated host of that name)")
        low = full_path.lower()
        if gw is not None and (low == "/api" or low.startswith("/api/")):
            query = urlencode(req.query)
            inner = IncomingRequest(req.method, full_path, query, req.headers, req.body,
                                    "127.0.0.1", gw.port)
            res = gw.dispatch(inner, hops + 1)
        elif is_ms:
            if origin.mismatch and low != WELL_KNOWN:
                res = json_response(502, {"error": origin.mismatch})
                res.note = "version mismatch"
            else:
                res = self.management.handle(req)
        else:
            res = iis_error(404)
        res.destination = target_url
        return res

    # -- persistence --------------------------------------------------------------------

    def persist(self, gw: GatewayEmulator | None = None) -> None:
        """Save ``state.json`` (and the host's ``.host/apppools.json``)."""
        with self._persist_lock:
            self.state.save()
            if gw is not None:
                self._write_pools(gw)

    def _write_pools(self, gw: GatewayEmulator) -> None:
        path = gw.root / ".host" / "apppools.json"
        pool = gw.pool
        data = {APP_POOL: {"state": pool.state, "last_recycle": pool.last_recycle}}
        try:
            write_atomic(path, json.dumps(data, indent=2, sort_keys=True).encode("utf-8"),
                         0o644)
            self._pool_marks[gw.name] = (path.stat().st_mtime_ns, pool.last_recycle)
        except OSError:
            pass

    def poll_app_pools(self) -> None:
        """Recycle a gateway whose ``.host/apppools.json`` was changed by someone else.

        gwctl's local transport (``FileAppPools``) records a recycle there; with this, a
        recycle through the local transport reaches the running emulation too.
        """
        for gw in self.gateways.values():
            path = gw.root / ".host" / "apppools.json"
            try:
                mtime = path.stat().st_mtime_ns
            except OSError:
                continue
            mark = self._pool_marks.get(gw.name)
            if mark is not None and mark[0] == mtime:
                continue
            try:
                data = json.loads(path.read_text("utf-8"))
            except (OSError, ValueError):
                continue
            entry: dict[str, Any] = next((v for k, v in data.items()
                                          if k.casefold() == APP_POOL.casefold()), {})
            last = entry.get("last_recycle")
            if mark is not None and last and last != mark[1]:
                gw.recycle(source="apppools.json changed")
            else:
                self._pool_marks[gw.name] = (mtime, last)

    def upgrade(self, name: str, release: str, *, reset_nlog: bool = False
                ) -> dict[str, Any]:
        """Install another release on host `name`, as the vendor's installer would.

        The management server host: the management server (``ServerConfig.xml``, installed
        products) and, as the manual says, its co-located gateway with it. Another host: its
        gateway. A gateway gets the reference ``appsettings.json`` of the new release (its
        ``appsettings.Production.json`` and ``nlog.config`` are kept) and is restarted.
        Gateways on other hosts are not touched: they now mismatch until upgraded too.
        `reset_nlog`: the installer also puts back the release's default ``nlog.config``
        (the manual promises only that ``appsettings.Production.json`` survives).
        """
        version = Version.parse(release)
        full = product_version(version)
        host = self.state.host(name)
        if host.is_management_server:
            self.state.management_version = full
            self.ms_version = version
            self.management.set_version(version)
            write_server_config(self.state, host.name)
        gw = self.gateways.get(host.name.lower())
        if gw is not None:
            host.gateway_version = full
            gw.set_version(version)
            (gw.install_dir / "appsettings.json").write_text(reference_base_text(
                version, self.state.management_url, self.state.gateway_root_url(gw.name)),
                "utf-8")
            if reset_nlog:
                (gw.install_dir / "nlog.config").write_text(DEFAULT_NLOG_CONFIG, "utf-8")
        write_installed_products(self.state, host)
        if gw is not None:
            gw.recycle(source=f"upgrade to {version.name}")
        else:
            self.persist()
        return {"host": host.name, "version": full, "release": version.name,
                "nlog_reset": reset_nlog and gw is not None}

    def status(self) -> dict[str, Any]:
        st = self.state
        return {
            "site": st.site,
            "state_dir": str(st.dir),
            "management_server": {"host": st.management_host,
                                  "version": st.management_version,
                                  "release": self.ms_version.name,
                                  "encryption": st.encryption},
            "gateways": [gw.status() for gw in self.gateways.values()],
            "health_user": st.health_user,
        }

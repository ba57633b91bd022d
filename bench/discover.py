"""Benchmark: version discovery of 200 emulated gateways, 20 ms per WinRM round trip.

    .venv/bin/python bench/discover.py [--gateways 200] [--per-site 10] [--latency-ms 20]
                                       [--workers 32] [--runs 3]

Every gateway host is emulated on loopback by the simulator's WS-Management endpoint
(`gwctl.sim.wsman.WsmanServer`) running gwctl's operations on a directory per host
(`gwctl.ops.pyimpl.DirectoryHost`): its installed-products registry, and on each site's
management server host a ServerConfig.xml. The endpoint waits ``--latency-ms`` before
every HTTP response (each WinRM round trip, NTLM handshakes included); a small HTTP
server answers ``/.well-known/uris`` with the same latency. Discovery itself is
`gwctl.versions.discovery.discover`, the code ``gwctl versions`` runs, over real pywinrm/NTLM.

The harness (`emulated_fleet`) is also used by tests/test_discovery.py.
Target: under 3 s for 200 gateways at 20 ms (bounded concurrency, ``--workers``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import yaml

from gwctl.fleet.model import DEFAULT_INSTALL_DIR, DEFAULT_SERVER_CONFIG, Fleet, build_fleet
from gwctl.fleet.source import combine
from gwctl.fleet.yaml_reader import load_yaml_text
from gwctl.hosts.inventory import InventoryHost
from gwctl.ops.pyimpl import GATEWAY_PRODUCT, DirectoryHost
from gwctl.sim.wsman import CommandResult, FaultTable, WsmanServer

USER, PASSWORD = "gwctl-bench", "Bench-pa55word!"


def local_path(root: Path, windows_path: str) -> Path:
    drive, rest = windows_path.split(":", 1)
    return root / drive.upper() / rest.replace("\\", "/").lstrip("/")


class OpsHost:
    """One emulated host: gwctl's remote operations on its directory, counted."""

    def __init__(self, root: Path, stats: Stats) -> None:
        self.host = DirectoryHost(root)
        self.stats = stats

    def run(self, command: str, arguments: list[str], stdin: bytes) -> CommandResult:
        self.stats.enter()
        try:
            out, code = self.host.dispatch_wire(stdin)
            return CommandResult(out, b"", code)
        finally:
            self.stats.leave()


@dataclass
class Stats:
    """Concurrent operations on all hosts (to check the pool's bound)."""

    active: int = 0
    peak: int = 0
    commands: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def enter(self) -> None:
        with self.lock:
            self.active += 1
            self.commands += 1
            self.peak = max(self.peak, self.active)

    def leave(self) -> None:
        with self.lock:
            self.active -= 1


@dataclass
class Emulated:
    fleet: Fleet
    hosts: list[InventoryHost]
    roots: dict[str, Path]
    stats: Stats
    remote_stats: Any = None

    def counters(self) -> tuple[int, int]:
        """(operations run so far, peak concurrent operations since the last call)."""
        if self.remote_stats is not None:
            return self.remote_stats()  # type: ignore[no-any-return]
        commands, peak = self.stats.commands, self.stats.peak
        self.stats.peak = 0
        return commands, peak

    def set_gateway_version(self, host: str, version: str | None) -> None:
        """Change (None: uninstall) the gateway version in a host's registry."""
        products = {} if version is None else {GATEWAY_PRODUCT: version}
        path = self.roots[host] / ".host" / "installed-products.json"
        path.write_text(json.dumps(products), "utf-8")


def _write_host(root: Path, gateway_version: str | None, ms_version: str | None) -> None:
    (root / ".host").mkdir(parents=True, exist_ok=True)
    products = {GATEWAY_PRODUCT: gateway_version} if gateway_version else {}
    (root / ".host" / "installed-products.json").write_text(json.dumps(products), "utf-8")
    (root / ".host" / "hostname").write_text(root.name, "utf-8")
    local_path(root, DEFAULT_INSTALL_DIR).mkdir(parents=True, exist_ok=True)
    if ms_version is not None:
        config = local_path(root, DEFAULT_SERVER_CONFIG)
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(f"<?xml version=\"1.0\"?>\n<server><version>{ms_version}</version>"
                          "</server>\n", "utf-8")


class _WellKnown(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _WellKnownServer

    def do_GET(self) -> None:
        time.sleep(self.server.latency_s)
        parts = self.path.strip("/").split("/")
        version = self.server.answers.get(parts[0]) if parts else None
        if parts[1:] != ["api", ".well-known", "uris"] or version is None:
            body, status = b'{"error": "unavailable"}', 503
        else:
            body = json.dumps({"ProductVersion": version, "ApiGateways": [],
                               "IdentityProvider": "http://127.0.0.1/IDP"}).encode()
            status = 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _WellKnownServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, answers: dict[str, str | None], latency_s: float) -> None:
        self.answers = answers
        self.latency_s = latency_s
        super().__init__(("127.0.0.1", 0), _WellKnown)


@dataclass(frozen=True)
class Spec:
    gateways: int = 200
    per_site: int = 10
    latency_ms: float = 20.0
    ms_version: str = "25.2.5700.1"
    gateway_versions: tuple[tuple[str, str | None], ...] = ()

    def layout(self) -> Iterator[tuple[str, str, str, bool]]:
        """(site, gateway, host, on the management server host) per gateway."""
        for i in range(self.gateways):
            s, g = divmod(i, self.per_site)
            site = f"site{s:03d}"
            name = f"{site}-gw{g}"
            host = f"{site}-ms.example.com" if g == 0 else f"{name}.example.com"
            yield site, name, host, g == 0


def _build_hosts(base: Path, spec: Spec) -> dict[str, Path]:
    overrides = dict(spec.gateway_versions)
    roots = {}
    for _site, name, _host, colocated in spec.layout():
        root = base / name
        _write_host(root, overrides.get(name, spec.ms_version),
                    spec.ms_version if colocated else None)
        roots[name] = root
    return roots


class _Servers:
    """The emulated hosts' WinRM endpoint and the /.well-known/uris server."""

    def __init__(self, base: Path, spec: Spec) -> None:
        self.stats = Stats()
        self.roots = _build_hosts(base, spec)
        handlers = {name: OpsHost(root, self.stats) for name, root in self.roots.items()}
        answers: dict[str, str | None] = {site: spec.ms_version
                                          for site, *_ in spec.layout()}
        faults = FaultTable()
        if spec.latency_ms:
            faults.set("*", latency_ms=spec.latency_ms)
        self.wsman = WsmanServer(handlers.get, {USER: PASSWORD}, faults=faults,
                                 max_shells_per_user=10_000)
        self.http = _WellKnownServer(answers, spec.latency_ms / 1000.0)
        self._thread = threading.Thread(target=self.http.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)

    def start(self) -> tuple[int, int]:
        self.wsman.start()
        self._thread.start()
        return self.wsman.port, self.http.server_port

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.wsman.stop()


def _serve(base: str, spec: Spec, conn: Any) -> None:
    """Child process: serve the emulated hosts until the parent says stop."""
    servers = _Servers(Path(base), spec)
    conn.send(servers.start())
    while True:
        msg = conn.recv()
        if msg == "stats":
            conn.send((servers.stats.commands, servers.stats.peak))
            servers.stats.peak = 0
        else:
            break
    servers.stop()
    conn.send("stopped")


def _fleet(base: Path, spec: Spec) -> Fleet:
    sites: dict[str, Any] = {}
    for site, name, host, _colocated in spec.layout():
        entry = sites.setdefault(site, {
            "management_server": {"host": f"{site}-ms.example.com",
                                  "version": spec.ms_version},
            "gateways": {}})
        entry["gateways"][name] = {"host": host}
    text = yaml.safe_dump({"apiVersion": "gwctl/v1", "sites": sites}, sort_keys=False)
    source = combine([load_yaml_text(text, file="fleet.yaml")], base)
    fleet, problems = build_fleet(source)
    assert fleet is not None, problems
    return fleet


@contextmanager
def emulated_fleet(base: Path, *, gateways: int = 200, per_site: int = 10,
                   latency_ms: float = 20.0, ms_version: str = "25.2.5700.1",
                   gateway_versions: dict[str, str | None] | None = None,
                   unreachable: tuple[str, ...] = (), uninventoried: tuple[str, ...] = (),
                   separate_process: bool = False, auth: str = "ntlm"
                   ) -> Iterator[Emulated]:
    """A fleet of `gateways` gateways in sites of `per_site`, emulated on loopback.

    The first gateway of each site (``<site>-gw0``) is on the management server host and
    holds its ServerConfig.xml. `gateway_versions` overrides a host's installed version
    (None: not installed); `unreachable` hosts point at a closed port; `uninventoried`
    gateways have no inventory host. `auth` is the WinRM transport (``ntlm``: NTLM with
    message encryption; ``basic``). With `separate_process` the emulated hosts run in a
    child process, as remote hosts (or ``gwctl sim up``) would: the client's CPU and GIL
    are its own.
    """
    spec = Spec(gateways, per_site, latency_ms, ms_version,
                tuple(sorted((gateway_versions or {}).items())))
    fleet = _fleet(base, spec)
    stats = Stats()
    servers: _Servers | None = None
    child = None
    if separate_process:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        parent_conn, child_conn = ctx.Pipe()
        child = ctx.Process(target=_serve, args=(str(base), spec, child_conn), daemon=True)
        child.start()
        wsman_port, http_port = parent_conn.recv()
        roots = {name: base / name for _s, name, _h, _c in spec.layout()}
    else:
        servers = _Servers(base, spec)
        wsman_port, http_port = servers.start()
        roots = servers.roots
        stats = servers.stats
    try:
        hosts = []
        closed_port = _closed_port()
        for site, name, _host, _colocated in spec.layout():
            if name in uninventoried:
                continue
            hosts.append(InventoryHost(name, [site], {
                "ansible_connection": "winrm", "ansible_host": "127.0.0.1",
                "ansible_port": closed_port if name in unreachable else wsman_port,
                "ansible_winrm_scheme": "http", "ansible_winrm_transport": auth,
                "ansible_winrm_path": "/wsman/" + name,
                "ansible_user": USER, "ansible_password": PASSWORD,
                "ansible_winrm_operation_timeout_sec": 5,
                "ansible_winrm_read_timeout_sec": 10,
                "gwctl_gateway_url": f"http://127.0.0.1:{http_port}/{site}/api",
            }))
        emu = Emulated(fleet, hosts, roots, stats)
        if child is not None:
            emu.remote_stats = lambda: _remote_stats(parent_conn)
        yield emu
    finally:
        if servers is not None:
            servers.stop()
        if child is not None:
            parent_conn.send("stop")
            parent_conn.recv()
            child.join(10)


def _remote_stats(conn: Any) -> tuple[int, int]:
    conn.send("stats")
    commands, peak = conn.recv()
    return int(commands), int(peak)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    from gwctl.versions.discovery import discover

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gateways", type=int, default=200)
    ap.add_argument("--per-site", type=int, default=10)
    ap.add_argument("--latency-ms", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--auth", choices=("ntlm", "basic"), default="basic",
                    help="WinRM authentication over http (ntlm encrypts every message)")
    ap.add_argument("--limit-s", type=float, default=3.0)
    ns = ap.parse_args(argv)
    with TemporaryDirectory(prefix="gwctl-bench-") as tmp, \
            emulated_fleet(Path(tmp), gateways=ns.gateways, per_site=ns.per_site,
                           latency_ms=ns.latency_ms, separate_process=True,
                           auth=ns.auth) as emu:
        print(f"discovery of {ns.gateways} emulated gateways in {len(emu.fleet.sites)} sites, "
              f"{ns.latency_ms:g} ms per WinRM round trip, {ns.workers} workers, WinRM "
              f"{ns.auth} over http; emulated hosts in a separate process")
        times = []
        for run in range(1, ns.runs + 1):
            before, _ = emu.counters()
            d = discover(emu.fleet, emu.hosts, workers=ns.workers)
            commands, peak = emu.counters()
            found = [g for s in d.sites.values() for g in s.gateways.values()]
            ok = sum(g.version is not None for g in found)
            ms_ok = sum(s.management_server_version is not None for s in d.sites.values())
            per_host = sorted(g.elapsed_s * 1000 for g in found)
            times.append(d.elapsed_s)
            print(f"  run {run}: {d.elapsed_s:.3f} s total; {ok}/{len(found)} gateway "
                  f"versions, {ms_ok}/{len(d.sites)} management servers; per host "
                  f"p50 {statistics.median(per_host):.0f} ms, "
                  f"p95 {per_host[int(len(per_host) * 0.95) - 1]:.0f} ms, "
                  f"max {per_host[-1]:.0f} ms; peak {peak} concurrent operations "
                  f"on the hosts; {commands - before} remote operations")
            if ok != len(found) or ms_ok != len(d.sites):
                print("  FAILED: some versions were not discovered", file=sys.stderr)
                return 1
        best, worst = min(times), max(times)
        verdict = "ok" if worst < ns.limit_s else "TOO SLOW"
        print(f"best {best:.3f} s, worst {worst:.3f} s (limit {ns.limit_s:g} s): {verdict}")
        return 0 if worst < ns.limit_s else 1


if __name__ == "__main__":
    sys.exit(main())

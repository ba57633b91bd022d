"""Probe a gateway the way a multi-camera client uses it.

``gwctl probe webrtc -i INVENTORY --gateway HOST [-f FLEET] --cameras M --sessions N
--pattern simultaneous|staggered:200ms|ramp [--report DIR]`` opens N WebRTC signalling
sessions (REST: session, ICE candidates, answer) across the first M cameras of the
gateway, as the --health-user (password from $GWCTL_HEALTH_PASSWORD; the host's inventory
variables gwctl_health_user and gwctl_health_password win over both), and records every
request and response with tokens and passwords masked. It reports how many sessions were
set up, which failed with which status, each session's time to answer, whether the
forum's pattern (400 Bad Request while another session of the same gateway is still
being set up) is present, and the highest number of simultaneous set-ups that works
(``ramp`` searches it; after a failed ``simultaneous`` round it is searched too).
The gateway's API URL is the host's ``gwctl_gateway_url`` (or the fleet's with -f); its
release is the fleet's, else the one ``/.well-known/uris`` answers.
--report DIR writes the support-case bundle: report.md, report.json, exchanges.json,
gateway-log-excerpt.txt (the gateway's NLog log for the probe's window, read over WinRM
like apply) and support-case.zip. Exit 0 when every session was set up, 1 otherwise.
--serve-page [--port 8080] serves instead the multi-camera browser test page (log in, list
cameras, one player per camera at once or staggered, per-panel status and timings).
--media (the 'webrtc' extra, aiortc) answers each session with a real WebRTC peer and
reports the time from the session request to the first decoded video frame; with
--duration D it keeps receiving for D after the set-ups and reports each session's frames
and frame rate. --ice-server URL (stun:, turn:, turns:; aiortc uses the first STUN and the
first TURN server) gives the media peers server-reflexive and relayed candidates, a TURN
server with --ice-username and the credential from $GWCTL_ICE_CREDENTIAL; --relay-only
keeps them to relayed candidates, as a browser with iceTransportPolicy "relay"."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gwctl.cli.deploy_common import add_inventory_options
from gwctl.errors import EXIT_FAILED, EXIT_OK, InputError, UsageError

if TYPE_CHECKING:
    from gwctl.hosts.inventory import InventoryHost
    from gwctl.probe.webrtc import ProbeResult
    from gwctl.versions.release import Version


def register(p: argparse.ArgumentParser) -> None:
    kinds = p.add_subparsers(dest="probe_kind", metavar="KIND")
    w = kinds.add_parser("webrtc", help="many WebRTC sessions to many cameras, recorded",
                         description=__doc__)
    add_inventory_options(w, required=False)
    w.add_argument("--gateway", metavar="HOST", help="the inventory host (gateway) to probe")
    w.add_argument("-f", "--fleet", metavar="PATH",
                   help="fleet file: the gateway's URL, release and install directory")
    w.add_argument("--cameras", type=int, default=4, metavar="M",
                   help="cameras used, the first M the gateway lists (default 4)")
    w.add_argument("--sessions", type=int, default=8, metavar="N",
                   help="sessions opened, round-robin over the cameras (default 8)")
    w.add_argument("--pattern", default="simultaneous",
                   help="simultaneous (default), staggered:DURATION (e.g. 200ms) or ramp")
    w.add_argument("--health-user", metavar="USER",
                   help="XProtect basic user (password from $GWCTL_HEALTH_PASSWORD); the "
                        "host's gwctl_health_user/_password inventory variables win")
    w.add_argument("--client-id", default="GrantValidatorClient", metavar="ID")
    w.add_argument("--insecure", action="store_true",
                   help="do not verify the gateway's TLS certificate")
    w.add_argument("--media", action="store_true",
                   help="receive video with a real WebRTC peer per session (aiortc, the "
                        "'webrtc' extra) and report the time to the first decoded frame")
    w.add_argument("--duration", default="0s", metavar="DURATION",
                   help="with --media: keep receiving this long after the set-ups and "
                        "report frames and frame rate per session (e.g. 10s)")
    w.add_argument("--media-timeout", default="10s", metavar="DURATION",
                   help="how long a session may take to its first frame (default 10s)")
    w.add_argument("--ice-server", action="append", default=[], metavar="URL",
                   help="with --media: a STUN/TURN server for the client's peers "
                        "(repeatable)")
    w.add_argument("--ice-username", metavar="NAME",
                   help="the TURN servers' username (credential: $GWCTL_ICE_CREDENTIAL)")
    w.add_argument("--relay-only", action="store_true",
                   help="with --media: relayed candidates only (through the TURN server)")
    w.add_argument("--report", metavar="DIR", help="write the support-case bundle here")
    w.add_argument("--output", choices=("text", "json"), default="text")
    w.add_argument("--serve-page", action="store_true",
                   help="instead of probing: serve the multi-camera browser test page")
    w.add_argument("--bind", default="127.0.0.1", metavar="ADDRESS",
                   help="--serve-page: the address to listen on (default 127.0.0.1)")
    w.add_argument("--port", type=int, default=8080, help="--serve-page: the port (8080)")


def gateway_location(ns: argparse.Namespace, host: InventoryHost
                     ) -> tuple[str, str, Version | None]:
    """(API URL, install directory, release or None) of the probed gateway."""
    from gwctl.fleet.model import DEFAULT_INSTALL_DIR

    if ns.fleet:
        from gwctl import api
        from gwctl.cli.common import report
        from gwctl.hosts.targets import pair, select_gateways
        from gwctl.problems import has_errors

        result = api.validate(ns.fleet)
        if result.fleet is None or has_errors(result.problems):
            report(result.problems, "text", ok_message="")
            raise InputError(f"{ns.fleet}: the fleet has errors")
        gateways = select_gateways(result.fleet, gateway=host.gateway_ref)
        targets, _ = pair(result.fleet, gateways, [host])
        if not targets:
            raise InputError(f"{host.name}: no gateway of the fleet matches this host")
        t = targets[0]
        return t.url, t.gateway.install_dir, t.gateway.version
    url = host.vars.get("gwctl_gateway_url")
    if not url:
        raise UsageError(f"{host.name}: the inventory sets no gwctl_gateway_url; set it or "
                         "pass -f FLEET")
    return (str(url).rstrip("/"), str(host.vars.get("gwctl_install_dir")
                                      or DEFAULT_INSTALL_DIR), None)


def execute(ns: argparse.Namespace) -> int:
    from gwctl.cli.deploy_common import inventory_host
    from gwctl.deploy.health import health_credentials
    from gwctl.output import redact
    from gwctl.probe.pattern import Pattern
    from gwctl.probe.webrtc import ProbeSettings, run_probe
    from gwctl.versions.discovery import HttpSettings, read_well_known

    if ns.probe_kind != "webrtc":
        raise UsageError("gwctl probe: name what to probe (webrtc); see 'gwctl probe --help'")
    if ns.serve_page:
        return _serve_page(ns.bind, ns.port)
    for option, value in (("-i/--inventory", ns.inventory), ("--gateway", ns.gateway)):
        if not value:
            raise UsageError(f"gwctl probe webrtc: {option} is required (unless --serve-page)")
    host = inventory_host(ns, ns.gateway)
    user, password = health_credentials(host.vars, ns.health_user,
                                        os.environ.get("GWCTL_HEALTH_PASSWORD"))
    if not user:
        raise UsageError("gwctl probe webrtc: --health-user is required (unless --serve-page "
                         f"or the inventory sets gwctl_health_user for {host.name})")
    if not password:
        raise UsageError("set $GWCTL_HEALTH_PASSWORD to the --health-user's password")
    redact.register(password)
    from gwctl.probe.pattern import parse_duration

    settings = ProbeSettings(user=user, password=password, sessions=ns.sessions,
                             cameras=ns.cameras, pattern=Pattern.parse(ns.pattern),
                             client_id=ns.client_id, verify_tls=not ns.insecure,
                             media=ns.media,
                             media_timeout_s=parse_duration(ns.media_timeout,
                                                            "--media-timeout"),
                             duration_s=parse_duration(ns.duration, "--duration"),
                             ice_servers=_ice_servers(ns), relay_only=ns.relay_only)
    settings.check()
    if settings.duration_s and not ns.media:
        raise UsageError("--duration measures received video: it needs --media")
    if (ns.ice_server or ns.relay_only) and not ns.media:
        raise UsageError("--ice-server and --relay-only are for the media peers: they need "
                         "--media")
    if ns.relay_only and not any(u.lower().startswith("turn") for u in ns.ice_server):
        raise UsageError("--relay-only needs a TURN server (--ice-server turn:HOST:PORT)")
    if ns.media:
        from gwctl.probe.media import require

        require()
    url, install_dir, version = gateway_location(ns, host)
    if version is None:
        with HttpSettings(verify_tls=not ns.insecure).client() as client:
            reading = read_well_known(client, url)
        if reading.version is None:
            raise InputError(f"{url}: cannot tell the gateway's release "
                             f"({reading.error}); pass -f FLEET")
        version = reading.version
    result = run_probe(host.name, url, version, settings)
    zip_path = None
    if ns.report:
        from gwctl.probe.bundle import gather_environment, write_bundle

        env = gather_environment(host, install_dir, result)
        zip_path = write_bundle(Path(ns.report), result, env)
    if ns.output == "json":
        doc = result.to_json()
        doc["report"] = str(zip_path) if zip_path else None
        sys.stdout.write(redact.scrub(json.dumps(doc, indent=2)) + "\n")
    else:
        _print(result)
        if zip_path:
            print(f"support-case bundle: {zip_path} (and the files beside it)")
    return EXIT_OK if result.outcomes and not result.failed and not result.setup_error \
        else EXIT_FAILED


def _ice_servers(ns: argparse.Namespace) -> list[tuple[str, str | None, str | None]]:
    from gwctl.output import redact
    from gwctl.verify.ice import parse_ice_url

    credential = os.environ.get("GWCTL_ICE_CREDENTIAL")
    if credential:
        redact.register(credential)
    out: list[tuple[str, str | None, str | None]] = []
    for url in ns.ice_server:
        try:
            scheme = parse_ice_url(url).scheme
        except ValueError as exc:
            raise UsageError(f"--ice-server: {exc}") from None
        if scheme.startswith("turn"):
            if not (ns.ice_username and credential):
                raise UsageError(f"--ice-server {url}: a TURN server needs --ice-username "
                                 "and $GWCTL_ICE_CREDENTIAL")
            out.append((url, ns.ice_username, credential))
        else:
            out.append((url, None, None))
    return out


def _serve_page(bind: str, port: int) -> int:
    from gwctl.probe.page import make_server

    try:
        server = make_server(bind, port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {bind}:{port}: {exc.strerror or exc}") from None
    host, real_port = str(server.server_address[0]), int(server.server_address[1])
    origin = f"http://{host}:{real_port}"
    print(f"serving the WebRTC multi-camera test page at {origin}/  (Ctrl-C stops)")
    print(f"the gateway's CORS must allow the origin {origin} (fleet: cors.allow_origins, "
          "with Authorization and Content-Type headers and GET, POST, PATCH)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return EXIT_OK


def _print(result: ProbeResult) -> None:
    from gwctl.output import redact

    stats = result.stats()
    print(f"{result.gateway} ({result.url}, {result.version}): {result.sessions_text()}")
    for o in result.outcomes:
        tta, ttf = o.time_to_answer_s, o.time_to_first_frame_s
        what = "ok" if o.ok else f"FAILED at {o.failed_step}: {o.error or ''}"
        if ttf is not None:
            what += f", first frame after {ttf * 1000:.0f} ms"
        if o.fps is not None:
            what += f", {o.frames} frames, {o.fps:.1f} fps"
        timing = f"{tta * 1000:6.0f} ms" if tta is not None else " " * 9
        print(redact.scrub(f"  {o.label:<10} camera {o.camera}  {timing}  {what}".rstrip()))
    print(f"{stats['succeeded']} of {stats['sessions']} session(s) set up"
          + (f"; time to answer p50 {stats['time_to_answer_ms']['p50']:.0f} ms, max "
             f"{stats['time_to_answer_ms']['max']:.0f} ms" if "time_to_answer_ms" in stats
             else ""))
    if "time_to_first_frame_ms" in stats:
        f = stats["time_to_first_frame_ms"]
        print(f"time to first decoded frame p50 {f['p50']:.0f} ms, p95 {f['p95']:.0f} ms, "
              f"max {f['max']:.0f} ms")
    print(result.verdict())
    if result.highest_working is not None:
        print(f"highest concurrency that worked: {result.highest_working} simultaneous "
              "set-up(s)")

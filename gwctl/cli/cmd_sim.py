"""Run an emulated XProtect site on loopback: a management server and API gateways with
real install directories, whose HTTP APIs behave according to the files on disk (503 after
a recycle onto a broken appsettings.Production.json, CORS from the CORS section, routes
from ReverseProxy, WebRTC signalling, fault profiles), plus a WinRM endpoint that runs
gwctl's remote operations on those directories.

The simulator emulates documented behaviour of the API Gateway on loopback (127.0.0.1).
It is NOT Windows, NOT IIS and NOT the real API Gateway: use it for demos, tests and
pipelines, and verify on a real site before relying on a behaviour.

  gwctl sim up --site demo --version "2025 R2" --gateways 2 --state .sim/
  gwctl sim status --state .sim/
  gwctl sim recycle --state .sim/ --host demo-gw1
  gwctl sim fault --state .sim/ --host demo-gw1 latency:50
  gwctl sim upgrade --state .sim/ --host demo-ms --version "2025 R2"
  gwctl sim down --state .sim/"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

NOT_WINDOWS = ("emulated on loopback: not Windows, not IIS, not the real API Gateway")
FAULT_HELP = ("fault profiles: latency:MS, drop:N or drop:RATIO, 5xx-burst:N[/STATUS], "
              "slow-recycle:SECONDS, webrtc-concurrency[:WINDOW_SECONDS], none")


def register(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = p.add_subparsers(dest="sim_command", metavar="SUBCOMMAND", required=True)

    up = sub.add_parser(
        "up", help="create (or reuse) a simulated site and start it in the background",
        description="Start the simulator for a state directory as a background process "
                    "that outlives this command; wait until it answers, print its endpoints "
                    "and write inventory.yml (Ansible, WinRM) and fleet.yaml (gwctl). An "
                    "existing state directory is reused as it is (edited files survive); "
                    f"--reset starts afresh. The site is {NOT_WINDOWS}.")
    _state(up)
    up.add_argument("--site", help="site name (default demo; new sites only)")
    up.add_argument("--version", help='release of the management server, e.g. "2025 R2" '
                                      "(default 2025 R2; new sites only)")
    up.add_argument("--gateways", type=int, metavar="N",
                    help="number of gateways, the first on the management server host "
                         "(default 2; new sites only)")
    up.add_argument("--gateway-version", action="append", default=[], metavar="NAME=REL",
                    help="a gateway on another release than the management server, e.g. "
                         'demo-gw1="2025 R1" (repeatable; new sites only)')
    up.add_argument("--gateway-dotnet", action="append", default=[], metavar="NAME=N",
                    help="a gateway on another .NET major version than its release's, e.g. "
                         "demo-gw1=10 (JSON null stays null; repeatable; new sites only)")
    up.add_argument("--fault", action="append", default=[], metavar="HOST=PROFILE",
                    help=f"activate a fault profile at start (repeatable); {FAULT_HELP}")
    up.add_argument("--seed", type=int, help="seed of camera and site ids (new sites only)")
    up.add_argument("--cameras", type=int, default=None, metavar="N",
                    help="number of emulated cameras (default 4; new sites only)")
    up.add_argument("--reset", action="store_true",
                    help="delete the state directory's site first (refused while it runs)")
    up.add_argument("--foreground", action="store_true",
                    help="serve in this process until Ctrl-C instead of in the background")
    up.add_argument("--timeout", type=float, default=20.0, metavar="SECONDS",
                    help="how long to wait for the background process to answer")
    _output(up)

    status = sub.add_parser("status", help="show the running site: pid, ports, app pools, "
                                           "loaded configuration",
                            description="Show the simulator of a state directory: process, "
                                        "ports, each gateway's app pool and whether its "
                                        "loaded configuration serves (ok) or fails (503, "
                                        "and why). Exit 1 when no simulator runs.")
    _state(status)
    _output(status)

    recycle = sub.add_parser(
        "recycle", help="recycle a gateway's app pool (re-reads appsettings*.json)",
        description="What 'recycle VideoOS ApiGateway AppPool' does on the real host: the "
                    "gateway reads appsettings.json and appsettings.Production.json again "
                    "(and answers 503 when they are broken).")
    _state(recycle)
    recycle.add_argument("--host", required=True, metavar="NAME")
    _output(recycle)

    fault = sub.add_parser(
        "fault", help="set or clear a fault profile of a host",
        description=f"Set a fault profile of a host at run time (or, while the simulator "
                    f"is down, for its next start). {FAULT_HELP}.")
    _state(fault)
    fault.add_argument("--host", required=True, metavar="NAME")
    fault.add_argument("profile", nargs="?", metavar="PROFILE[:PARAM]")
    fault.add_argument("--clear", action="store_true",
                       help="clear PROFILE (or every profile when none is given)")
    _output(fault)

    upgrade = sub.add_parser(
        "upgrade", help="install another release on a host (management server or gateway)",
        description="What the vendor's installer does: on the management server host it "
                    "upgrades the management server and its co-located gateway; on another "
                    "host, that host's gateway (which then restarts on the reference "
                    "appsettings.json of the new release; appsettings.Production.json and "
                    "nlog.config are kept). Other gateways keep their release and mismatch "
                    "until they are upgraded too.")
    _state(upgrade)
    upgrade.add_argument("--host", required=True, metavar="NAME")
    upgrade.add_argument("--version", required=True, metavar="RELEASE",
                         help='e.g. "2025 R2" or 25.2.5700.1')
    _output(upgrade)

    down = sub.add_parser("down", help="stop the simulator (idempotent)",
                          description="Stop the simulator of a state directory, wait until "
                                      "its process is gone and its ports are released. "
                                      "Succeeds when nothing runs. The state is kept.")
    _state(down)
    down.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS")


def _state(p: argparse.ArgumentParser) -> None:
    p.add_argument("--state", required=True, type=Path, metavar="DIR",
                   help="the simulator's state directory (e.g. .sim/)")


def _output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", choices=("text", "json"), default="text")


def execute(ns: argparse.Namespace) -> int:
    handler = {"up": _up, "status": _status, "recycle": _recycle, "fault": _fault,
               "upgrade": _upgrade, "down": _down}[ns.sim_command]
    code: int = handler(ns)
    return code


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


# -- up ---------------------------------------------------------------------------------


def _up(ns: argparse.Namespace) -> int:
    import shutil

    from gwctl.errors import GwctlError
    from gwctl.sim import control
    from gwctl.sim.state import (
        HOSTS_DIR,
        LOG_FILE,
        STATE_FILE,
        SimState,
        SiteSpec,
        create_state,
        parse_assignments,
    )

    state_dir: Path = ns.state
    if control.lock_is_held(state_dir):
        pid = control.read_pid(state_dir)
        raise GwctlError(f"a simulator is already running for {state_dir} (pid {pid}); "
                         f"stop it with 'gwctl sim down --state {state_dir}'")
    faults = parse_assignments(ns.fault, "--fault")
    if ns.reset and SimState.exists(state_dir):
        (state_dir / STATE_FILE).unlink()
        shutil.rmtree(state_dir / HOSTS_DIR, ignore_errors=True)
    if SimState.exists(state_dir):
        state = SimState.load(state_dir)
        _check_reuse(ns, state)
        for host, profiles in faults.items():
            for profile in profiles:
                state.host(host).faults.set(profile)
        state.save()
    else:
        versions = {k: v[-1] for k, v in parse_assignments(ns.gateway_version,
                                                          "--gateway-version").items()}
        runtimes = {k: _major(k, v[-1]) for k, v in parse_assignments(
            ns.gateway_dotnet, "--gateway-dotnet").items()}
        spec = SiteSpec(site=ns.site or "demo", version=ns.version or "2025 R2",
                        gateways=2 if ns.gateways is None else ns.gateways,
                        gateway_versions=versions, gateway_dotnet=runtimes, faults=faults,
                        cameras=4 if ns.cameras is None else ns.cameras, seed=ns.seed)
        create_state(state_dir, spec)
    if ns.foreground:
        from gwctl.sim.server import SimSite

        def ready(site: SimSite) -> None:
            _print_up(site.status(), ns.output)
            print("serving in the foreground; Ctrl-C stops", file=sys.stderr, flush=True)

        SimSite(state_dir).serve_forever(ready=ready)
        return 0
    pid = control.spawn_background(state_dir, state_dir / LOG_FILE)
    try:
        status = control.wait_until_ready(state_dir, pid, ns.timeout)
    except BaseException:
        control.stop(state_dir, timeout=5.0)
        control.terminate(pid)  # the process we started, should it hang before its lock
        raise
    _print_up(status, ns.output)
    return 0


def _major(name: str, value: str) -> int:
    from gwctl.errors import UsageError

    if not value.isdigit():
        raise UsageError(f"--gateway-dotnet {name}={value}: expected a .NET major version "
                         "such as 10")
    return int(value)


def _check_reuse(ns: argparse.Namespace, state: Any) -> None:
    from gwctl.errors import UsageError
    from gwctl.versions.release import Version

    conflicts = []
    if ns.site is not None and ns.site != state.site:
        conflicts.append(f"--site {ns.site} (the state holds site {state.site})")
    if ns.version is not None and Version.parse(ns.version).release_key != Version.parse(
            state.management_version).release_key:
        conflicts.append(f"--version {ns.version} (the state holds "
                         f"{Version.parse(state.management_version).name})")
    if ns.gateways is not None and ns.gateways != len(state.gateways()):
        conflicts.append(f"--gateways {ns.gateways} (the state holds "
                         f"{len(state.gateways())})")
    if ns.gateway_version or ns.gateway_dotnet or ns.seed is not None or ns.cameras is not None:
        conflicts.append("--gateway-version/--gateway-dotnet/--seed/--cameras apply to new "
                         "sites only")
    if conflicts:
        raise UsageError(f"{state.dir} already holds a site: " + "; ".join(conflicts)
                         + ". Pass --reset to start a new one, or drop these options.")


def _print_up(status: dict[str, Any], output: str) -> None:
    if output == "json":
        _print_json(status)
        return
    ms = status["management_server"]
    proc = status.get("process") or {}
    lines = [f"gwctl sim: site {status['site']!r} is up ({NOT_WINDOWS})",
             f"  management server  {ms['host']}  {ms['release']} ({ms['version']})"]
    for gw in status["gateways"]:
        where = "  (on the management server host)" if "management_server" in gw["roles"] else ""
        lines.append(f"  gateway {gw['name']:<14} {gw['release']}  {gw['url']}  "
                     f"[{gw['serving']}]{where}")
    wsman = status.get("wsman")
    if wsman:
        lines.append(f"  WinRM              {wsman['url']}  (NTLM or Basic; credentials in "
                     "inventory.yml)")
    lines.append(f"  IDP users          xprotect_users in {status['state_dir']}/state.json "
                 "(client_id GrantValidatorClient)")
    lines.append(f"  inventory          {status['inventory']}")
    lines.append(f"  fleet              {status['fleet']}")
    lines.append(f"  pid {proc.get('pid')}; stop with: gwctl sim down --state "
                 f"{status['state_dir']}")
    print("\n".join(lines))


# -- status, recycle, fault, down -------------------------------------------------------


def _status(ns: argparse.Namespace) -> int:
    from gwctl.sim import control

    try:
        status = control.AdminClient.for_state(ns.state).call("GET", "/status")
    except control.SimNotRunning as exc:
        if ns.output == "json":
            _print_json({"running": False, "state_dir": str(ns.state)})
        print(f"gwctl sim: {exc}", file=sys.stderr)
        return 1
    if ns.output == "json":
        _print_json({"running": True, **status})
        return 0
    proc = status.get("process") or {}
    ms = status["management_server"]
    wsman = status.get("wsman") or {}
    print(f"site {status['site']} ({NOT_WINDOWS})\n"
          f"  process pid {proc.get('pid')}, started {proc.get('started')}, admin port "
          f"{proc.get('admin_port')}, WinRM port {wsman.get('port', '-')}\n"
          f"  management server {ms['host']} {ms['release']} ({ms['version']})")
    rows = [("GATEWAY", "RELEASE", "URL", "POOL", "LAST RECYCLE", "SERVING")]
    for gw in status["gateways"]:
        pool = gw["app_pool"]
        rows.append((gw["name"], gw["release"], gw["url"], pool["state"],
                     pool["last_recycle"] or "-", gw["serving"]))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True))
              + "  " + r[5])
    for gw in status["gateways"]:
        extra = []
        if gw["faults"]:
            extra.append("faults " + ", ".join(gw["faults"]))
        if gw["version_mismatch"]:
            extra.append(gw["version_mismatch"])
        if gw["nlog"]["reload_error"]:
            extra.append(f"nlog.config not reloaded: {gw['nlog']['reload_error']}")
        for e in extra:
            print(f"  {gw['name']}: {e}")
    return 0


def _recycle(ns: argparse.Namespace) -> int:
    from gwctl.sim import control

    client = control.AdminClient.for_state(ns.state)
    result = client.call("POST", "/recycle", {"host": ns.host})
    status = client.call("GET", "/status")
    gw = next(g for g in status["gateways"] if g["name"].lower() == ns.host.lower())
    if ns.output == "json":
        _print_json({"recycle": result, "gateway": gw})
    else:
        print(f"recycled {result['name']} on {gw['name']} at {result['recycled_at']}; "
              f"now serving: {gw['serving']}")
    return 0


def _fault(ns: argparse.Namespace) -> int:
    from gwctl.errors import UsageError
    from gwctl.sim import control
    from gwctl.sim.faults import split_profile
    from gwctl.sim.state import SimState

    if not ns.clear and not ns.profile:
        raise UsageError("give a PROFILE (e.g. latency:50), or --clear")
    if ns.profile:
        split_profile(ns.profile)  # a usage error before anything is touched
    if control.lock_is_held(ns.state):
        body: dict[str, Any] = {"host": ns.host}
        if ns.clear:
            body["clear"] = True
            if ns.profile:
                body["profile"] = ns.profile
        else:
            body["profile"] = ns.profile
        result = control.AdminClient.for_state(ns.state).call("POST", "/fault", body)
        when = "now"
    else:
        state = SimState.load(ns.state)
        host = state.host(ns.host)
        if ns.clear:
            host.faults.clear(ns.profile)
        else:
            host.faults.set(ns.profile)
        state.save()
        result = {"host": host.name, "faults": host.faults.describe()}
        when = "at the next 'gwctl sim up' (the simulator is not running)"
    if ns.output == "json":
        _print_json(result)
    else:
        active = ", ".join(result["faults"]) or "none"
        print(f"{result['host']}: active fault profiles {when}: {active}")
    return 0


def _upgrade(ns: argparse.Namespace) -> int:
    from gwctl.sim import control
    from gwctl.versions.release import Version

    Version.parse(ns.version)  # a clear error before the simulator is asked
    result = control.AdminClient.for_state(ns.state).call(
        "POST", "/upgrade", {"host": ns.host, "version": ns.version})
    if ns.output == "json":
        _print_json(result)
    else:
        print(f"{result['host']}: now {result['release']} ({result['version']})")
    return 0


def _down(ns: argparse.Namespace) -> int:
    from gwctl.sim import control

    pid = control.stop(ns.state, timeout=ns.timeout)
    if pid is None:
        print(f"gwctl sim: no simulator is running for {ns.state}")
    else:
        print(f"gwctl sim: stopped (pid {pid}); ports released")
    return 0

"""Run an emulated XProtect site on loopback: a management server and API gateways with
real install directories, whose HTTP APIs behave according to the files on disk (503 after
a recycle onto a broken appsettings.Production.json, CORS from the CORS section, routes
from ReverseProxy, WebRTC signalling, fault profiles), plus a WinRM endpoint that runs
gwctl's remote operations on those directories.

The simulator emulates documented behaviour of the API Gateway on loopback (127.0.0.1).
It is NOT Windows, NOT IIS and NOT the real API Gateway: use it for demos, tests and
pipelines, and verify on a real site before relying on a behaviour.

  gwctl sim up --site demo --version "2025 R2" --gateways 2 --state .sim/
  gwctl sim up --state .sim/ --kerberos      (a KDC too; WinRM logons with Kerberos)
  gwctl sim status --state .sim/
  gwctl sim recycle --state .sim/ --host demo-gw1
  gwctl sim fault --state .sim/ --host demo-gw1 latency:50
  gwctl sim upgrade --state .sim/ --host demo-ms --version "2025 R2"
  gwctl sim host-env --state .sim/ --host demo-gw1 --environment Staging
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
    up.add_argument("--jea", action="store_true",
                    help="install gwctl's JEA module (what 'gwctl host-setup' writes, default "
                         "directories) on every host and register its session configuration "
                         "'gwctl': they then run only the allowlisted operation scripts, on "
                         "the pinned paths, and answer PSRP (--configuration-name gwctl) with "
                         "the module's functions only (docs/jea.md)")
    up.add_argument("--kerberos", action="store_true",
                    help="also run a Kerberos realm for the site: an MIT KDC on loopback "
                         "(Debian krb5-kdc, krb5-admin-server) owned by the simulator, "
                         "HTTP/<host> for every emulated host, a user with a generated "
                         "password; inventory.yml then logs on with Kerberos. Prints the "
                         "KRB5_CONFIG to export. 'sim down' removes the realm")
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
                    "appsettings.json of the new release; appsettings.Production.json is "
                    "kept, and nlog.config too unless --reset-nlog). Other gateways keep "
                    "their release and mismatch until they are upgraded too.")
    _state(upgrade)
    upgrade.add_argument("--host", required=True, metavar="NAME")
    upgrade.add_argument("--version", required=True, metavar="RELEASE",
                         help='e.g. "2025 R2" or 25.2.5700.1')
    upgrade.add_argument("--reset-nlog", action="store_true",
                         help="also replace the gateway's nlog.config by the release's "
                              "default, as an installer may (the manual promises only that "
                              "appsettings.Production.json survives an update)")
    _output(upgrade)

    host_env = sub.add_parser(
        "host-env", help="stage a host condition: environment, app_offline.htm, hosting "
                         "model, rapid-fail protection, stdout log, log-directory ACL",
        description="Change a gateway host's IIS side as an administrator would: "
                    "ASPNETCORE_ENVIRONMENT in the machine environment, the app pool "
                    "(applicationHost.config) or web.config; app_offline.htm; web.config's "
                    "hostingModel and stdoutLogEnabled; the pool's rapid-fail protection; "
                    "whether the pool identity may create files in a log directory. A "
                    "running gateway is recycled to pick the change up (IIS restarts an "
                    "application whose configuration changes); app_offline.htm takes "
                    "effect at once. While the simulator is down the files are changed for "
                    "its next start.")
    _state(host_env)
    host_env.add_argument("--host", required=True, metavar="NAME")
    host_env.add_argument("--environment", metavar="NAME",
                          help="set ASPNETCORE_ENVIRONMENT (e.g. Staging) in --layer")
    host_env.add_argument("--layer", choices=("machine", "app-pool", "web.config"),
                          default="machine", help="where --environment is set")
    host_env.add_argument("--clear-environment", action="store_true",
                          help="remove ASPNETCORE_ENVIRONMENT from every layer")
    offline = host_env.add_mutually_exclusive_group()
    offline.add_argument("--app-offline", nargs="?", const=True, metavar="HTML",
                         help="write app_offline.htm (with HTML, or a default page)")
    offline.add_argument("--no-app-offline", dest="app_offline", action="store_false",
                         help="remove app_offline.htm")
    host_env.add_argument("--hosting-model", choices=("inprocess", "outofprocess"))
    host_env.add_argument("--rapid-fail", choices=("on", "off"))
    host_env.add_argument("--rapid-fail-max-crashes", type=int, metavar="N")
    host_env.add_argument("--stdout-log", choices=("on", "off"))
    host_env.add_argument("--log-dir", metavar="WINDOWS_PATH",
                          help=r"a directory, e.g. C:\ProgramData\Milestone\ApiGateway\Logs")
    host_env.add_argument("--log-dir-writable", choices=("yes", "no"),
                          help="whether the pool identity may create files in --log-dir")
    _output(host_env)

    down = sub.add_parser("down", help="stop the simulator (idempotent)",
                          description="Stop the simulator of a state directory, wait until "
                                      "its process is gone and its ports are released. "
                                      "Succeeds when nothing runs. The state is kept, "
                                      "except a Kerberos realm of 'sim up --kerberos': its "
                                      "KDC is stopped and its files are deleted.")
    _state(down)
    down.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS")


def _state(p: argparse.ArgumentParser) -> None:
    p.add_argument("--state", required=True, type=Path, metavar="DIR",
                   help="the simulator's state directory (e.g. .sim/)")


def _output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", choices=("text", "json"), default="text")


def execute(ns: argparse.Namespace) -> int:
    handler = {"up": _up, "status": _status, "recycle": _recycle, "fault": _fault,
               "upgrade": _upgrade, "host-env": _host_env, "down": _down}[ns.sim_command]
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
    if ns.kerberos:
        from gwctl.sim import kerberos

        kerberos.check_available()  # before anything is created or reset
    if ns.reset and SimState.exists(state_dir):
        _remove_realm(state_dir)  # a realm names the old site's hosts
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
                        cameras=4 if ns.cameras is None else ns.cameras, seed=ns.seed,
                        health_user_in_inventory=True)
        create_state(state_dir, spec)
    if ns.jea:
        _install_jea(state_dir)
    if ns.kerberos:
        _create_realm(state_dir)
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


def _install_jea(state_dir: Path) -> None:
    from gwctl.fleet.model import DEFAULT_BACKUP_DIR, DEFAULT_INSTALL_DIR, DEFAULT_SERVER_CONFIG
    from gwctl.ops.jea import JeaOptions
    from gwctl.render.nlog import DEFAULT_LOG_DIRECTORY
    from gwctl.sim.jea import SIM_OPERATORS, set_up
    from gwctl.sim.state import SimState

    state = SimState.load(state_dir)
    options = JeaOptions(operators=SIM_OPERATORS, install_dir=DEFAULT_INSTALL_DIR,
                         log_dir=DEFAULT_LOG_DIRECTORY, backup_dir=DEFAULT_BACKUP_DIR,
                         management_server_dir=DEFAULT_SERVER_CONFIG.rsplit("\\", 1)[0])
    set_up([state.host_root(name) for name in state.hosts], options)


def _create_realm(state_dir: Path) -> None:
    """The state's realm, created unless it exists; the inventory then uses it."""
    from gwctl.sim import kerberos
    from gwctl.sim.state import WINDOWS_ADMIN, SimState, write_inventory

    state = SimState.load(state_dir)
    if state.kerberos is not None and kerberos.keytab(state_dir).is_file():
        return
    state.kerberos = kerberos.create_realm(state_dir, state.site, list(state.hosts),
                                           WINDOWS_ADMIN)
    state.save()
    write_inventory(state)


def _remove_realm(state_dir: Path) -> str | None:
    """Delete the state's realm (its KDC stopped); the realm's name, or None."""
    from gwctl.sim import kerberos
    from gwctl.sim.state import SimState, write_inventory

    removed = kerberos.remove_realm(state_dir)
    if not SimState.exists(state_dir):
        return None
    state = SimState.load(state_dir)
    realm = state.kerberos
    if realm is None:
        return "(unrecorded)" if removed else None
    state.kerberos = None
    state.save()
    write_inventory(state)  # back to the NTLM logon of a site without a realm
    return realm.realm


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
    krb = status.get("kerberos")
    if wsman:
        logons = "Kerberos, NTLM or Basic" if krb else "NTLM or Basic"
        lines.append(f"  WinRM              {wsman['url']}  ({logons}; credentials in "
                     "inventory.yml)")
    if krb:
        lines.append(f"  Kerberos           realm {krb['realm']}, KDC {krb['kdc']}, user "
                     f"{krb['user']} (password: ansible_password in inventory.yml)")
    lines.append(f"  IDP users          xprotect_users in {status['state_dir']}/state.json "
                 "(client_id GrantValidatorClient)")
    if status.get("health_user"):
        lines.append(f"  health user        {status['health_user']} (gwctl_health_user/_password "
                     "of the gateways in inventory.yml: verify and probe log in with it)")
    lines.append(f"  inventory          {status['inventory']}")
    lines.append(f"  fleet              {status['fleet']}")
    lines.append(f"  pid {proc.get('pid')}; stop with: gwctl sim down --state "
                 f"{status['state_dir']}")
    if krb:
        import shlex

        ccache = Path(krb["krb5_conf"]).with_name("ccache")
        # unindented, to be pasted or picked with grep ^export: gwctl and Ansible need only
        # KRB5_CONFIG (the inventory holds the password); KRB5CCNAME keeps a kinit of the
        # site's user out of the user's own credential cache
        lines += ["export KRB5_CONFIG=" + shlex.quote(krb["krb5_conf"]),
                  "export KRB5CCNAME=" + shlex.quote(f"FILE:{ccache}")
                  + f"   # for 'kinit {krb['user']}' (optional)"]
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
    krb = status.get("kerberos")
    if krb:
        print(f"  Kerberos realm {krb['realm']}, KDC {krb['kdc']}, user {krb['user']}; "
              f"KRB5_CONFIG={krb['krb5_conf']}")
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
        "POST", "/upgrade", {"host": ns.host, "version": ns.version,
                             "reset_nlog": ns.reset_nlog})
    if ns.output == "json":
        _print_json(result)
    else:
        reset = "; nlog.config reset to the release default" if result.get("nlog_reset") else ""
        print(f"{result['host']}: now {result['release']} ({result['version']}){reset}")
    return 0


def _down(ns: argparse.Namespace) -> int:
    from gwctl.sim import control

    pid = control.stop(ns.state, timeout=ns.timeout)
    if pid is None:
        print(f"gwctl sim: no simulator is running for {ns.state}")
    else:
        print(f"gwctl sim: stopped (pid {pid}); ports released")
    realm = _remove_realm(ns.state)
    if realm is not None:
        print(f"gwctl sim: Kerberos realm {realm} removed (KDC stopped, its files deleted; "
              "inventory.yml is back to NTLM)")
    return 0


def _host_env(ns: argparse.Namespace) -> int:
    from gwctl.errors import UsageError
    from gwctl.sim import control
    from gwctl.sim.hostenv import Staging, needs_restart, stage
    from gwctl.sim.state import SimState

    if (ns.log_dir is None) != (ns.log_dir_writable is None):
        raise UsageError("--log-dir and --log-dir-writable go together")
    staging = Staging(
        environment=ns.environment, layer=ns.layer, clear_environment=ns.clear_environment,
        app_offline=ns.app_offline, hosting_model=ns.hosting_model,
        rapid_fail=None if ns.rapid_fail is None else ns.rapid_fail == "on",
        rapid_fail_max_crashes=ns.rapid_fail_max_crashes,
        stdout_log=None if ns.stdout_log is None else ns.stdout_log == "on",
        log_dir=ns.log_dir,
        log_dir_writable=None if ns.log_dir_writable is None else ns.log_dir_writable == "yes")
    state = SimState.load(ns.state)
    host = state.host(ns.host)
    if not host.is_gateway:
        raise UsageError(f"{host.name} has no API Gateway")
    done = stage(state.host_root(host.name), state.install_dir(host.name), staging)
    if not done:
        raise UsageError("nothing to change: give --environment, --app-offline, "
                         "--hosting-model, ... (gwctl sim host-env --help)")
    recycled = None
    if needs_restart(staging) and control.lock_is_held(ns.state):
        recycled = control.AdminClient.for_state(ns.state).call(
            "POST", "/recycle", {"host": host.name})
    if ns.output == "json":
        _print_json({"host": host.name, "changed": done, "recycled": recycled})
    else:
        for line in done:
            print(f"{host.name}: {line}")
        if recycled is not None:
            print(f"{host.name}: recycled to pick the change up (pool {recycled['state']})")
    return 0

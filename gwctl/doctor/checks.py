"""The checks of ``gwctl doctor`` for one gateway host.

They read only: the gateway's answers, and the host through the remote operations
(``read_versions``, ``stat`` with contents, ``app_pool_state``, ``read_host``,
``read_events``, ``read_iis_log``). The live
files are linted by a function the caller passes (the CLI passes ``gwctl lint-file``'s
engine), so this package does not depend on the rules. The host conditions come from
`gwctl.iis.conditions`, the same findings the ``host-*`` rules report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from gwctl.doctor import events, iislog, tls
from gwctl.errors import GwctlError
from gwctl.fleet.model import APP_POOL
from gwctl.hosts.facts import BASE_FILE, read_live_files
from gwctl.hosts.inventory import InventoryHost
from gwctl.hosts.targets import TransportFactory, open_transport
from gwctl.iis.behaviour import effective_environment, failure_story
from gwctl.iis.conditions import (
    APP_OFFLINE,
    LOG_DIR_NOT_WRITABLE,
    OVERRIDE_NOT_LOADED,
    RAPID_FAIL_DISABLED,
    STDOUT_LOG_ENABLED,
    conditions,
)
from gwctl.iis.hostinfo import HostInfo
from gwctl.netjson.config import Effective, flatten_text
from gwctl.output import redact
from gwctl.probe.gatewaylog import log_target
from gwctl.problems import Level, Problem
from gwctl.render.files import APPSETTINGS, NLOG
from gwctl.textio import decode
from gwctl.transport.base import Transport
from gwctl.verify import ice
from gwctl.verify.result import CheckResult, GatewayReport, Status
from gwctl.versions.release import Version

#: lints live files (name -> bytes, as on the host) as the gateway reads them
Linter = Callable[[dict[str, bytes]], list[Problem]]

S_NOT_ANSWERING = "manual, Troubleshooting > API Gateway doesn't answer requests"
S_CORS = "manual, Troubleshooting > CORS errors; Cross-Origin Resource Sharing (CORS)"
S_WEBRTC = "manual, Troubleshooting > No WebRTC connection"
S_STUN = "manual, STUN and TURN server addresses"
S_UPGRADE = "manual, Upgrade > Upgrading the API Gateway"
LOG_TAIL_BYTES = 256 * 1024
LOG_ERRORS_SHOWN = 3


@dataclass(frozen=True)
class DoctorOptions:
    verify_tls: bool | str = True
    timeout_s: float = 5.0
    ice_timeout_s: float = ice.DEFAULT_TIMEOUT_S


def _r(check: str, status: Status, start: float, detail: str, remedy: str = ""
       ) -> CheckResult:
    return CheckResult(check, status, time.monotonic() - start, redact.scrub(detail),
                       redact.scrub(remedy))


def _get(tree: Any, name: str) -> Any:
    if not isinstance(tree, dict):
        return None
    return next((v for k, v in tree.items() if k.lower() == name.lower()), None)


def _answering(url: str, opts: DoctorOptions) -> tuple[CheckResult, dict[str, Any] | None]:
    start = time.monotonic()
    try:
        with httpx.Client(verify=opts.verify_tls, timeout=opts.timeout_s) as client:
            r = client.get(f"{url}/.well-known/uris")
    except httpx.HTTPError as exc:
        return _r("answering", "fail", start, f"no answer: {type(exc).__name__}: {exc}",
                  f"{S_NOT_ANSWERING}: check that IIS runs and the host is reachable"), None
    if r.status_code in (500, 502, 503):
        return _r("answering", "fail", start,
                  f"HTTP {r.status_code}: the gateway does not start (cause, per the manual: "
                  "syntax errors in the appsettings files; the host checks below name "
                  "app_offline.htm and the hosting model's answers)",
                  f"{S_NOT_ANSWERING}: see live-files below; never edit appsettings.json, "
                  "fix appsettings.Production.json (gwctl apply writes a checked one)"), None
    if r.status_code != 200:
        return _r("answering", "fail", start, f"HTTP {r.status_code}", S_NOT_ANSWERING), None
    try:
        doc = r.json()
    except ValueError:
        doc = None
    return _r("answering", "pass", start, "/.well-known/uris answered 200"), \
        doc if isinstance(doc, dict) else None


def _app_pool(transport: Transport) -> CheckResult:
    start = time.monotonic()
    try:
        state = transport.run("app_pool_state", {"name": APP_POOL})
    except GwctlError as exc:
        return _r("app-pool", "fail", start, str(exc), "check that IIS and the API Gateway "
                                                       "are installed on this host")
    name = state.get("state")
    if name == "Started":
        return _r("app-pool", "pass", start, f"'{APP_POOL}' is Started")
    return _r("app-pool", "fail", start,
              f"'{APP_POOL}' is {name}: IIS stops a pool whose application keeps failing",
              f"{S_NOT_ANSWERING}: fix the files (live-files), then start the pool; gwctl "
              "apply recycles it after a change")


def _live_files(texts: dict[str, bytes], lint: Linter | None) -> CheckResult:
    start = time.monotonic()
    if lint is None:
        return _r("live-files", "skip", start, "no linter given")
    problems = lint(texts)
    errors = [p for p in problems if p.level == Level.ERROR]
    warnings = [p for p in problems if p.level == Level.WARNING]

    def show(p: Problem) -> str:
        where = f"{p.file}:{p.line}" if p.line else (p.file or "")
        return f"{where}: {p.message} ({p.rule})"

    if errors:
        return _r("live-files", "fail", start,
                  "; ".join(show(p) for p in errors[:3])
                  + (f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""),
                  f"{S_NOT_ANSWERING}: the gateway cannot start with these files; gwctl "
                  "lint-file shows every problem, gwctl import/apply replaces them")
    if warnings:
        return _r("live-files", "warn", start, "; ".join(show(p) for p in warnings[:3]),
                  "gwctl lint-file shows every finding with its rule")
    return _r("live-files", "pass", start, f"{len(texts)} file(s) read as the gateway reads "
                                           "them: no problem")


def _log_errors(transport: Transport, nlog_text: str | None, install_dir: str) -> CheckResult:
    start = time.monotonic()
    if not nlog_text:
        return _r("log-errors", "skip", start, "no nlog.config on the host")
    target = log_target(nlog_text, install_dir)
    if target.path is None:
        return _r("log-errors", "warn", start, target.problem or target.hint() or "no log",
                  "")
    log = read_live_files(transport, {"log": target.path})["log"]
    if not log.exists or log.content is None:
        return _r("log-errors", "info", start, f"{target.path} does not exist (yet)",
                  target.hint() or "")
    tail = log.content[-LOG_TAIL_BYTES:].decode("utf-8", "replace").splitlines()
    # errors before the last successful start are history, not the present state
    started = [i for i, line in enumerate(tail) if "Application started" in line]
    if started:
        tail = tail[started[-1]:]
    bad = [line for line in tail if " ERROR " in line.upper() or " FATAL " in line.upper()]
    if bad:
        return _r("log-errors", "fail", start,
                  f"{len(bad)} error line(s) since the last start in {target.path}; last: "
                  + " | ".join(line.strip()[:300] for line in bad[-LOG_ERRORS_SHOWN:]),
                  f"{S_NOT_ANSWERING}: the log says why; check the Windows Application log "
                  "too")
    hint = target.hint()
    return _r("log-errors", "info" if hint else "pass", start,
              f"no error since the last start in {target.path}", hint or "")


#: doctor's check name per host condition (`gwctl.iis.conditions`)
_CONDITION_CHECKS = {OVERRIDE_NOT_LOADED: "environment", APP_OFFLINE: "app-offline",
                     LOG_DIR_NOT_WRITABLE: "log-directory-access",
                     STDOUT_LOG_ENABLED: "stdout-log", RAPID_FAIL_DISABLED: "rapid-fail"}


def _host(transport: Transport, install_dir: str, nlog_text: str | None
          ) -> tuple[list[CheckResult], HostInfo | None]:
    """What decides what the gateway runs (``read_host``), one check per condition; the
    facts (None when they could not be read)."""
    start = time.monotonic()
    target = log_target(nlog_text, install_dir) if nlog_text else None
    log_dir = (target.path.rsplit("\\", 1)[0] if target is not None and target.path
               and "\\" in target.path else None)
    try:
        info = HostInfo.from_result(transport.run(
            "read_host", {"install_dir": install_dir, "pool": APP_POOL, "log_dir": log_dir}))
    except (GwctlError, ValueError) as exc:
        return [_r("host-facts", "fail", start, f"read_host failed: {exc}",
                   "check that IIS is installed and the account may read its "
                   "configuration")], None
    found = {c.rule: c for c in conditions(info)}
    out: list[CheckResult] = []
    env = effective_environment(info)
    passes = {OVERRIDE_NOT_LOADED: f"environment {env.describe()}: "
                                   "appsettings.Production.json is loaded",
              APP_OFFLINE: "no app_offline.htm in the install directory",
              LOG_DIR_NOT_WRITABLE: (f"{info.app_pool.identity} may create files in "
                                     f"{log_dir}" if log_dir else ""),
              STDOUT_LOG_ENABLED: "ANCM's stdout log is off",
              RAPID_FAIL_DISABLED: (f"rapid-fail protection is on for '{info.app_pool.name}'"
                                    if info.app_pool.found else
                                    f"app pool '{info.app_pool.name}' not found")}
    for rule, check in _CONDITION_CHECKS.items():
        c = found.get(rule)
        if c is not None:
            remedy = f"{c.section}: {c.remedy}" if c.section else c.remedy
            out.append(_r(check, "fail" if c.blocks or rule == LOG_DIR_NOT_WRITABLE
                          else "warn", start, f"{c.message} (rule {rule})", remedy))
        elif rule == LOG_DIR_NOT_WRITABLE and log_dir is None:
            out.append(_r(check, "skip", start, "no plain log directory in nlog.config"))
        else:
            out.append(_r(check, "pass", start, passes[rule]))
    out.append(_r("hosting", "info", start,
                  f"{failure_story(info)}; pool '{info.app_pool.name}' runs as "
                  f"{info.app_pool.identity}"))
    return out, info


def _cors(tree: Any) -> CheckResult:
    start = time.monotonic()
    section = _get(tree, "CORS")
    enabled = str(_get(section, "Enabled") or "false").lower() == "true"
    if not enabled:
        return _r("cors", "info", start, "CORS is disabled: browser applications served "
                                         "from another origin than the gateway are blocked",
                  f"{S_CORS}: enable it with the fleet's cors settings when such "
                  "applications exist")
    origins = [o.strip() for o in str(_get(section, "Access-Control-Allow-Origin") or "")
               .split(",") if o.strip()]
    if not origins:
        return _r("cors", "fail", start, "CORS is enabled but allows no origin",
                  f"{S_CORS}: list the applications' origins")
    if any(o in ("*", "null") for o in origins):
        return _r("cors", "warn", start, "Access-Control-Allow-Origin allows any web page "
                                         f"({', '.join(o for o in origins if o in ('*', 'null'))})",
                  "list the origins instead (rule cors-wildcard-origin)")
    bad = [o for o in origins if "://" not in o]
    if bad:
        return _r("cors", "fail", start,
                  f"origin(s) without a scheme never match a browser's Origin: {', '.join(bad)}",
                  f"{S_CORS}: write origins as scheme://host[:port], e.g. https://{bad[0]}")
    headers = str(_get(section, "Access-Control-Allow-Headers") or "").lower()
    if "authorization" not in headers and "*" not in headers:
        return _r("cors", "fail", start, "Access-Control-Allow-Headers lacks Authorization: "
                                         "every authenticated call of a page is blocked",
                  f"{S_CORS}: allow Authorization and Content-Type")
    return _r("cors", "pass", start, f"{len(origins)} origin(s), each scheme://host")


def _ice(tree: Any, opts: DoctorOptions) -> list[CheckResult]:
    start = time.monotonic()
    servers = _get(_get(tree, "WebRTC"), "iceServers")
    items = [s for s in servers if isinstance(s, dict)] if isinstance(servers, list) else []
    out: list[CheckResult] = []
    if not items:
        out.append(_r("ice-servers", "warn", start,
                      "no STUN/TURN server configured: clients behind a symmetric NAT "
                      "firewall cannot connect",
                      f"{S_WEBRTC} > symmetric NAT: set up a TURN server ({S_STUN})"))
    if items and not any(str(_get(s, "url") or "").lower().startswith("turn")
                         for s in items):
        out.append(_r("ice-servers", "warn", start, "no TURN server: clients behind a "
                                                    "symmetric NAT firewall cannot connect",
                      f"{S_WEBRTC} > symmetric NAT ({S_STUN})"))
    for s in items:
        url = str(_get(s, "url") or "")
        cred = _get(s, "credential")
        if isinstance(cred, str):
            redact.register(cred)
        got = ice.probe(url, _get(s, "username"), cred if isinstance(cred, str) else None,
                        timeout_s=opts.ice_timeout_s, verify_tls=bool(opts.verify_tls))
        status: Status = "skip" if got.skipped else "pass" if got.ok else "fail"
        out.append(CheckResult(f"ice {url}", status, got.elapsed_s, redact.scrub(got.detail),
                               "" if got.ok else f"{S_STUN}: the server must be reachable "
                                                 "with the configured credentials"))
    out.append(_r("mdns", "info", time.monotonic(),
                  "browsers send mDNS (.local) candidates on local networks; multicast does "
                  "not pass routers, and the gateway's X-Forwarded-For workaround does not "
                  "always apply",
                  f"{S_WEBRTC} > mDNS: as a last resort disable 'Anonymize local IPs exposed "
                  "by WebRTC' in chrome://flags or edge://flags"))
    return out


def _certificate(url: str) -> CheckResult:
    start = time.monotonic()
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return _r("certificate", "skip", start, "the gateway is reached over http")
    found = tls.inspect(parts.hostname, parts.port or 443)
    status: Status = "fail" if not found.ok else "warn" if found.warn else "pass"
    return _r("certificate", status, start, found.detail,
              "" if status == "pass" else "renew the certificate bound to the gateway's IIS "
                                          "site (Server Configurator) for the gateway's name")


def _version(answer: dict[str, Any], well_known: dict[str, Any] | None,
             expected_ms: Version | None) -> CheckResult:
    start = time.monotonic()
    gw = answer.get("gateway")
    raw = str(gw.get("version")) if isinstance(gw, dict) and gw.get("version") else None
    if raw is None:
        return _r("version", "fail", start, "no API Gateway installed on this host")
    ms_raw = _get(well_known, "ProductVersion") if well_known else None
    try:
        mine = Version.parse(raw)
        ms = Version.parse(str(ms_raw)) if ms_raw else expected_ms
    except GwctlError as exc:
        return _r("version", "fail", start, exc.message)
    if ms is None:
        return _r("version", "skip", start, f"gateway {raw}; the management server's version "
                                            "is unknown (the gateway does not answer)")
    if not mine.same_release(ms):
        return _r("version", "fail", start,
                  f"the gateway runs {mine.name} ({raw}), its management server {ms.name}",
                  f"{S_UPGRADE}: upgrade the gateway right after the management server "
                  "(gwctl upgrade-plan)")
    return _r("version", "pass", start, f"gateway {raw} on its management server's release")


def diagnose(name: str, host: InventoryHost, url: str, install_dir: str,
             opts: DoctorOptions, lint: Linter | None = None,
             expected_ms: Version | None = None,
             transports: TransportFactory = open_transport) -> GatewayReport:
    report = GatewayReport(name, url)
    first, well_known = _answering(url, opts)
    report.checks.append(first)
    directory = install_dir.rstrip("\\")
    start = time.monotonic()
    try:
        with transports(host) as transport:
            report.checks.append(_app_pool(transport))
            files = read_live_files(transport, {n: f"{directory}\\{n}"
                                                for n in (BASE_FILE, APPSETTINGS, NLOG)})
            raw = {n: f.content for n, f in files.items() if f.content is not None}
            report.checks.append(_live_files(raw, lint))
            texts = {n: decode(b, file=n) for n, b in raw.items()}
            report.checks.append(_log_errors(transport, texts.get(NLOG), directory))
            host_checks, info = _host(transport, directory, texts.get(NLOG))
            report.checks += host_checks
            if info is not None:
                report.checks.append(iislog.iis_errors(transport, info))
            report.checks.append(events.recent_changes(transport))
            report.checks.append(events.startup_errors(transport))
            try:
                tree = Effective([flatten_text(texts[n], file=n) for n in
                                  (BASE_FILE, APPSETTINGS) if n in texts]).tree()
            except GwctlError:
                tree = {}  # live-files has said why
            report.checks.append(_cors(tree))
            report.checks += _ice(tree, opts)
            versions = transport.run("read_versions", {"install_dir": directory,
                                                       "server_config": None})
            report.checks.append(_version(versions, well_known, expected_ms))
    except GwctlError as exc:
        report.checks.append(_r("host", "fail", start, f"the host cannot be read: {exc}",
                                "check the inventory's connection variables (WinRM)"))
    report.checks.append(_certificate(url))
    return report

"""Running the checks of `gwctl verify` against one gateway.

A check that depends on another (the REST read on the token, the signalling on both) is
skipped, with the reason, when that one failed, so a report names the first thing that is
wrong rather than a cascade. Remedies cite the manual's sections (2025 R2 administrator
manual: "Troubleshooting", "Cross-Origin Resource Sharing (CORS)", "STUN and TURN server
addresses", "Upgrade").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from gwctl.errors import SecretError
from gwctl.fleet.model import Fleet, Gateway
from gwctl.fleet.secrets import Secret, SecretResolver
from gwctl.hosts.targets import Target, TransportFactory, open_transport
from gwctl.output import redact
from gwctl.verify import cors_judge, ice, signalling, ws_signalling
from gwctl.verify.exchange import Recorder
from gwctl.verify.result import CheckResult, GatewayReport, Status
from gwctl.versions.discovery import read_host
from gwctl.versions.features import supports
from gwctl.versions.release import Version

#: an origin no fleet declares: a gateway that allows it allows every web page
FOREIGN_ORIGIN = "https://gwctl-verify.invalid"
MANUAL_NOT_ANSWERING = ("manual, Troubleshooting > API Gateway doesn't answer requests: check "
                        "appsettings.Production.json (gwctl lint-file / gwctl diff), the app "
                        "pool and the Windows Application log")
MANUAL_CORS = ("manual, Cross-Origin Resource Sharing (CORS): declare the origin, "
               "Authorization and Content-Type headers and the methods under the fleet's "
               "cors settings, then gwctl apply")
MANUAL_TURN = "manual, STUN and TURN server addresses"


@dataclass(frozen=True)
class VerifyOptions:
    user: str | None = None
    password: str | None = None
    client_id: str = signalling.DEFAULT_CLIENT_ID
    verify_tls: bool | str = True
    timeout_s: float = 10.0
    ice_timeout_s: float = ice.DEFAULT_TIMEOUT_S


#: the requests a browser client makes through the gateway (the vendor's samples' calls)
BROWSER_REQUESTS = (
    cors_judge.BrowserRequest("GET", "/rest/v1/sites", {"Authorization": "Bearer x"}),
    cors_judge.BrowserRequest("POST", "/REST/v1/WebRTC/Session",
                              {"Authorization": "Bearer x",
                               "Content-Type": "application/json"}),
    cors_judge.BrowserRequest("PATCH", "/REST/v1/WebRTC/Session/00000000-0000-0000-0000-"
                                       "000000000000",
                              {"Authorization": "Bearer x",
                               "Content-Type": "application/json"}),
)


class _Timer:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def result(self, check: str, status: Status, detail: str = "",
               remedy: str = "") -> CheckResult:
        return CheckResult(check, status, time.monotonic() - self.start, redact.scrub(detail),
                           redact.scrub(remedy))


def _well_known(rec: Recorder, url: str, expected: Version) -> tuple[CheckResult,
                                                                  Version | None]:
    """``/.well-known/uris`` through the gateway: its ProductVersion is the management
    server's (the gateway routes the call there), expected to be the fleet's."""
    t = _Timer()
    response = rec.request("well-known", "GET", f"{url}/.well-known/uris")
    if response is None:
        return t.result("well-known", "fail", rec.exchanges[-1].error or "no answer",
                        MANUAL_NOT_ANSWERING), None
    if response.status_code != 200:
        return t.result("well-known", "fail", f"HTTP {response.status_code}",
                        MANUAL_NOT_ANSWERING), None
    try:
        doc = response.json()
        raw = next(v for k, v in doc.items() if k.lower() == "productversion")
        found = Version.parse(str(raw))
    except Exception:  # any shape of answer without a readable version is the finding
        return t.result("well-known", "fail", "no readable ProductVersion in the answer",
                        MANUAL_NOT_ANSWERING), None
    if not found.same_release(expected):
        return t.result("well-known", "fail",
                        f"version mismatch: the management server answers {raw} "
                        f"({found.name}), the fleet declares {expected.name}",
                        "correct the management server's version in the fleet (gwctl "
                        "versions shows what is installed)"), found
    return t.result("well-known", "pass", f"ProductVersion {raw} ({found.name})"), found


def _gateway_version(target: Target, ms_version: Version,
                     transports: TransportFactory) -> CheckResult:
    """The gateway's installed version (read over the remote operations, as ``gwctl
    versions`` does) against its management server's: from 2023 R3 they must be equal."""
    t = _Timer()
    found = read_host(target, None, transports)
    if found.version is None:
        return t.result("gateway-version", "skip" if found.reachable else "fail",
                        found.error or "no installed gateway version found",
                        "" if found.reachable else "the host cannot be reached over WinRM: "
                        "check the inventory's connection variables")
    gw_version = found.version
    expected = target.gateway.version
    if supports("version-match", ms_version) and \
            not gw_version.same_release(ms_version):
        return t.result("gateway-version", "fail",
                        f"version mismatch: the gateway runs {gw_version.name}, its "
                        f"management server {ms_version.name}",
                        "upgrade the gateway right after its management server (manual: "
                        "Upgrade; gwctl upgrade-plan)")
    if not gw_version.same_release(expected):
        return t.result("gateway-version", "fail",
                        f"version mismatch: the gateway runs {gw_version.name}, the fleet "
                        f"declares {expected.name}", "correct the fleet's version")
    return t.result("gateway-version", "pass", f"installed {gw_version.name}")


def _cors_checks(rec: Recorder, url: str, gw: Gateway) -> list[CheckResult]:
    cors = gw.settings.get("cors") or {}
    origins = [str(o) for o in cors.get("allow_origins") or []] if cors.get("enabled") else []
    out = []
    if not origins:
        out.append(_Timer().result("cors", "skip", "the fleet declares no CORS origin "
                                                   "(CORS disabled)"))
    for origin in origins:
        out.append(_cors_origin(rec, url, origin))
    if origins:
        out.append(_cors_foreign(rec, url))
    return out


def _cors_origin(rec: Recorder, url: str, declared: str) -> CheckResult:
    t = _Timer()
    name = f"cors {declared}"
    # what a page at the declared origin sends (punycode host, no default port): judging
    # the text as declared could pass where every browser is refused, or the reverse
    origin = cors_judge.browser_origin(declared)
    problems, notes = [], set()
    for req in BROWSER_REQUESTS:
        target = url + req.path
        response = rec.request(f"preflight {req.method} {req.path} from {origin}", "OPTIONS",
                               target, headers=req.preflight_headers(origin))
        if response is None:
            problems.append(f"{req.method} {req.path}: no answer to the preflight")
            continue
        verdict = cors_judge.judge_preflight(req, origin, response.status_code,
                                             response.headers.multi_items())
        if verdict.note:
            notes.add(verdict.note)
        if not verdict.allowed:
            problems.append(cors_judge.blocked_message(target, origin, verdict.reason)
                            + _refused_part(rec, target, req, origin))
    target = f"{url}/.well-known/uris"
    response = rec.request(f"GET with Origin {origin}", "GET", target,
                           headers={"Origin": origin})
    if response is not None:
        reason = cors_judge.check_origin(origin, response.headers.multi_items())
        if reason:
            problems.append(cors_judge.blocked_message(target, origin, reason))
    if problems:
        return t.result(name, "fail", problems[0] + (f" (+{len(problems) - 1} more)"
                                                     if len(problems) > 1 else ""),
                        MANUAL_CORS + "; if the fleet already does, the gateway is not "
                                      "running it: gwctl diff")
    if notes:
        return t.result(name, "warn", "allowed by Chromium, not by every browser: "
                        + "; ".join(sorted(notes)), MANUAL_CORS)
    return t.result(name, "pass", f"{len(BROWSER_REQUESTS)} preflights and a simple request "
                                  "allowed, as a browser judges them")


def _refused_part(rec: Recorder, target: str, req: cors_judge.BrowserRequest,
                  origin: str) -> str:
    """A gateway refusing a preflight (ASP.NET Core's CORS) answers without any CORS
    header, whatever the reason; asking again without the request headers tells whether
    the headers or the origin/method were refused."""
    if not req.unsafe_headers():
        return ""
    headers = req.preflight_headers(origin)
    del headers["Access-Control-Request-Headers"]
    response = rec.request(f"preflight {req.method} {req.path} without headers", "OPTIONS",
                           target, headers=headers)
    if response is None:
        return ""
    bare = cors_judge.BrowserRequest(req.method, req.path, {})
    if cors_judge.judge_preflight(bare, origin, response.status_code,
                                  response.headers.multi_items()).allowed:
        return (f" [the gateway refuses the request header(s) "
                f"{', '.join(req.unsafe_headers())}: Access-Control-Allow-Headers lacks one]")
    return " [the gateway refuses the origin or the method]"


def _cors_foreign(rec: Recorder, url: str) -> CheckResult:
    t = _Timer()
    req = BROWSER_REQUESTS[1]
    response = rec.request("preflight from an undeclared origin", "OPTIONS", url + req.path,
                           headers=req.preflight_headers(FOREIGN_ORIGIN))
    if response is None:
        return t.result("cors undeclared origin refused", "fail", "no answer")
    verdict = cors_judge.judge_preflight(req, FOREIGN_ORIGIN, response.status_code,
                                         response.headers.multi_items())
    if verdict.allowed:
        return t.result("cors undeclared origin refused", "fail",
                        f"the gateway lets {FOREIGN_ORIGIN} call it: any web page can",
                        "remove '*' from Access-Control-Allow-Origin (rule "
                        "cors-wildcard-origin); list the origins instead")
    return t.result("cors undeclared origin refused", "pass",
                    "a page from an undeclared origin is blocked")


def _ice_servers(gw: Gateway, resolver: SecretResolver
                 ) -> list[tuple[str, str | None, str | None, str | None]]:
    """(url, username, credential, error) of the fleet's ICE servers."""
    out: list[tuple[str, str | None, str | None, str | None]] = []
    for server in (gw.settings.get("webrtc") or {}).get("ice_servers") or []:
        url = str(server.get("url", ""))
        username = server.get("username")
        declared = server.get("credential")
        credential, error = None, None
        if declared is not None:
            try:
                credential = resolver.resolve(Secret(str(declared)))
                redact.register(credential)
            except SecretError as exc:
                error = str(exc)
        out.append((url, None if username is None else str(username), credential, error))
    return out


def _ice_checks(gw: Gateway, resolver: SecretResolver, opts: VerifyOptions
                ) -> list[CheckResult]:
    servers = _ice_servers(gw, resolver)
    if not servers:
        return [_Timer().result("ice", "skip", "the fleet configures no STUN/TURN server "
                                               "(browsers on other networks may not connect)")]
    out = []
    for url, username, credential, error in servers:
        name = f"ice {url}"
        if error:
            out.append(_Timer().result(name, "fail", error, "set the credential's reference"))
            continue
        got = ice.probe(url, username, credential, timeout_s=opts.ice_timeout_s,
                        verify_tls=bool(opts.verify_tls))
        status: Status = "skip" if got.skipped else "pass" if got.ok else "fail"
        remedy = "" if got.ok else (
            f"{MANUAL_TURN}: check the TURN user and credential in the fleet and on the "
            "server" if "credentials" in got.detail else
            f"{MANUAL_TURN}: the server must be reachable from the gateway's clients")
        out.append(CheckResult(name, status, got.elapsed_s, redact.scrub(got.detail), remedy))
    return out


def _authenticated(rec: Recorder, url: str, gw: Gateway, opts: VerifyOptions,
                   answering: bool) -> list[CheckResult]:
    names = ("token", "rest-read", "webrtc-signalling", "webrtc-ws-signalling")
    if not answering:
        return [_Timer().result(n, "skip", "the gateway does not answer (well-known failed)")
                for n in names]
    if not opts.user:
        return [_Timer().result(n, "skip", "no --health-user given") for n in names]
    t = _Timer()
    try:
        token = signalling.get_token(rec, url, opts.user, opts.password or "", opts.client_id)
    except signalling.SignallingError as exc:
        first = t.result("token", "fail", exc.detail,
                         "check the health user and its password ($GWCTL_HEALTH_PASSWORD); "
                         "a 5xx is the gateway or its IDP route: " + MANUAL_NOT_ANSWERING)
        return [first, *(_Timer().result(n, "skip", "no token") for n in names[1:])]
    redact.register(token)
    out = [t.result("token", "pass", f"token for {opts.user}")]
    t = _Timer()
    response = rec.request("rest-read", "GET", f"{url}/rest/v1/sites",
                           headers=signalling.bearer(token))
    if response is None or response.status_code != 200:
        what = rec.exchanges[-1].error if response is None else f"HTTP {response.status_code}"
        out.append(t.result("rest-read", "fail", f"GET /rest/v1/sites: {what}",
                            "check the ReverseProxy routes to the management server "
                            "(gwctl validate; rules route-*)"))
    else:
        out.append(t.result("rest-read", "pass", "GET /rest/v1/sites answered 200"))
    rest, camera = _signalling(rec, url, gw, token)
    out += [rest, _ws_signalling(url, gw, token, camera, opts)]
    return out


def _ws_signalling(url: str, gw: Gateway, token: str, camera: str | None,
                   opts: VerifyOptions) -> CheckResult:
    t = _Timer()
    name = "webrtc-ws-signalling"
    if not supports("webrtc-ws-signalling", gw.version):
        return t.result(name, "skip", f"{gw.version.name} has no WebSocket signalling "
                                      "(from 2025 R1)")
    if camera is None:
        return t.result(name, "skip", "no camera to open a session to (see "
                                      "webrtc-signalling)")
    try:
        setup = ws_signalling.ws_session(url, token, camera, verify_tls=opts.verify_tls,
                                         timeout_s=opts.timeout_s)
    except signalling.SignallingError as exc:
        return t.result(name, "fail", str(exc),
                        "manual, Troubleshooting > No WebRTC connection; a proxy or firewall "
                        "between browser and gateway must pass WebSocket upgrades to "
                        f"{ws_signalling.PATH}")
    return t.result(name, "pass", f"register, connect, invite answered, "
                                  f"{setup.server_candidates} gateway candidate(s) trickled")


def _signalling(rec: Recorder, url: str, gw: Gateway, token: str
                ) -> tuple[CheckResult, str | None]:
    """The REST check, and a camera for the WebSocket check (None when there is none)."""
    t = _Timer()
    if not supports("webrtc-rest-signalling", gw.version):
        return t.result("webrtc-signalling", "skip",
                        f"{gw.version.name} has no WebRTC REST signalling"), None
    cameras: list[str] = []
    try:
        cameras = signalling.list_cameras(rec, url, token)
        if not cameras:
            return t.result("webrtc-signalling", "skip", "the site has no camera"), None
        session = signalling.create_session(rec, url, token, cameras[0], gw.version)
        setup = signalling.complete_session(rec, url, token, session)
    except signalling.SignallingError as exc:
        return t.result("webrtc-signalling", "fail", str(exc),
                        "manual, Troubleshooting > No WebRTC connection; gwctl probe webrtc "
                        "records every exchange for a support case"), next(iter(cameras), None)
    return t.result("webrtc-signalling", "pass",
                    f"session created, {len(setup.server_candidates)} gateway candidate(s), "
                    "answer accepted"), cameras[0]


def verify_gateway(fleet: Fleet, target: Target, resolver: SecretResolver,
                   opts: VerifyOptions, transports: TransportFactory = open_transport,
                   client_factory: Callable[[], httpx.Client] | None = None
                   ) -> tuple[GatewayReport, Recorder]:
    """Every check against one gateway."""
    gw, url = target.gateway, target.url
    ms_version = fleet.site_of(gw).management_server.version
    client = (client_factory or (lambda: httpx.Client(
        verify=opts.verify_tls, timeout=opts.timeout_s, follow_redirects=False)))()
    report = GatewayReport(gw.id, url)
    with client:
        rec = Recorder(client)
        first, _ = _well_known(rec, url, ms_version)
        report.checks.append(first)
        answering = rec.exchanges[-1].status == 200
        report.checks.append(_gateway_version(target, ms_version, transports))
        report.checks += _authenticated(rec, url, gw, opts, answering)
        if answering:
            report.checks += _cors_checks(rec, url, gw)
        else:
            report.checks.append(_Timer().result("cors", "skip", "the gateway does not answer"))
    report.checks += _ice_checks(gw, resolver, opts)
    return report, rec


def document(reports: list[GatewayReport]) -> dict[str, Any]:
    """The stable JSON of ``gwctl verify --output json``."""
    return {"ok": all(r.ok for r in reports), "gateways": [r.to_json() for r in reports]}

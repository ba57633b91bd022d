"""gwctl verify against the simulator and a real coturn, as a user runs it.

A good fleet passes every check; each fault -- a gateway answering 5xx, a CORS section
without the Authorization header, a wrong TURN credential, a gateway on another version
than the fleet says -- fails the one check that names it. The CORS judge and the ICE URL
parser have their own table tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from test_deploy import inventory_with_health_user
from turnserver import TurnServer, start_turnserver

from gwctl.cli.main import main
from gwctl.verify import cors_judge
from gwctl.verify.ice import parse_ice_url

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

TURN_PASSWORD = "tUrN-verify-5e1d77"
HEALTH_PASSWORD_ENV = "GWCTL_HEALTH_PASSWORD"
ORIGIN = "https://portal.example.com"
CORS = {"enabled": True, "allow_origins": [ORIGIN],
        "allow_headers": ["Authorization", "Content-Type"],
        "allow_methods": ["GET", "POST", "PATCH", "OPTIONS"]}


@pytest.fixture(scope="module")
def turn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TurnServer]:
    server = start_turnserver(tmp_path_factory.mktemp("turn"), TURN_PASSWORD)
    yield server
    server.stop()


def write_fleet(site: SimSite, path: Path, settings: dict[str, Any]) -> Path:
    doc = yaml.safe_load(site.fleet_path.read_text())
    (site_doc,) = doc["sites"].values()
    site_doc["settings"] = settings
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def settings_for(turn: TurnServer) -> dict[str, Any]:
    return {"environment": "test", "cors": CORS, "webrtc": {"ice_servers": [
        {"url": turn.url("stun")},
        {"url": turn.url("turn"), "username": turn.user, "credential": "env:VERIFY_TURN"},
        {"url": turn.url("turn", "tcp"), "username": turn.user,
         "credential": "env:VERIFY_TURN"}]}}


def gwctl(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def applied(sim_site: SimSite, tmp_path: Path, turn: TurnServer,
            monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
            ) -> Callable[..., tuple[int, dict[str, Any], str]]:
    """The site with the fleet applied; returns a function running verify (json)."""
    monkeypatch.setenv("VERIFY_TURN", TURN_PASSWORD)
    user, password = next(iter(sim_site.users.items()))
    monkeypatch.setenv(HEALTH_PASSWORD_ENV, password)
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", settings_for(turn))
    code, out, err = gwctl(capsys, "apply", "-f", str(fleet), "-i",
                           str(sim_site.inventory_path), "--yes")
    assert code == 0, out + err

    def verify(*extra: str) -> tuple[int, dict[str, Any], str]:
        code, out, err = gwctl(capsys, "verify", "-f", str(fleet), "-i",
                               str(sim_site.inventory_path), "--health-user", user,
                               "--output", "json", *extra)
        return code, json.loads(out), err

    return verify


def statuses(doc: dict[str, Any], gateway: str) -> dict[str, str]:
    (gw,) = [g for g in doc["gateways"] if g["gateway"] == gateway]
    return {c["check"]: c["status"] for c in gw["checks"]}


def check(doc: dict[str, Any], gateway: str, name: str) -> dict[str, Any]:
    (gw,) = [g for g in doc["gateways"] if g["gateway"] == gateway]
    (found,) = [c for c in gw["checks"] if c["check"] == name]
    return dict(found)


def test_good_fleet_passes_every_check(applied: Callable[..., Any], turn: TurnServer,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, doc, _ = applied()
    assert code == 0, json.dumps(doc, indent=1)
    assert doc["ok"] is True
    for gw in ("demo/demo-ms", "demo/demo-gw1"):
        got = statuses(doc, gw)
        assert got == {
            "well-known": "pass", "gateway-version": "pass", "token": "pass", "rest-read": "pass",
            "webrtc-signalling": "pass", "webrtc-ws-signalling": "pass",
            f"cors {ORIGIN}": "pass",
            "cors undeclared origin refused": "pass", f"ice {turn.url('stun')}": "pass",
            f"ice {turn.url('turn')}": "pass", f"ice {turn.url('turn', 'tcp')}": "pass"}
    relay = check(doc, "demo/demo-gw1", f"ice {turn.url('turn')}")
    assert "relayed address 127.0.0.1:" in relay["detail"]
    assert TURN_PASSWORD not in json.dumps(doc)


def test_text_output_one_line_per_check(applied: Callable[..., Any], sim_site: SimSite,
                                        tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = gwctl(capsys, "verify", "-f", str(tmp_path / "fleet.yaml"), "-i",
                         str(sim_site.inventory_path), "--gateway", "demo-gw1")
    assert code == 0, out
    assert "demo/demo-gw1 (http://127.0.0.1:" in out and "demo/demo-ms" not in out
    assert "  PASS  well-known" in out
    assert "  SKIP  token" in out and "no --health-user given" in out
    assert "1 of 1 gateway(s) verified" in out


def test_5xx_fails_well_known(applied: Callable[..., Any], sim_site: SimSite) -> None:
    sim_site.set_fault("demo-gw1", "5xx-burst:1000/503")
    code, doc, _ = applied()
    assert code == 1 and doc["ok"] is False
    wk = check(doc, "demo/demo-gw1", "well-known")
    assert wk["status"] == "fail" and wk["detail"] == "HTTP 503"
    assert "doesn't answer requests" in wk["remedy"]
    assert statuses(doc, "demo/demo-gw1")["token"] == "skip"
    assert statuses(doc, "demo/demo-ms")["well-known"] == "pass"


def test_cors_missing_header_fails_the_origin(applied: Callable[..., Any],
                                              sim_site: SimSite) -> None:
    # the live file drifted from the fleet: Authorization dropped from the allowed headers
    path = sim_site.production_path("demo-gw1")
    doc = json.loads(path.read_text("utf-8"))
    doc["CORS"]["Access-Control-Allow-Headers"] = "Content-Type"
    path.write_text(json.dumps(doc), "utf-8")
    sim_site.recycle("demo-gw1")
    code, doc, _ = applied()
    assert code == 1
    cors = check(doc, "demo/demo-gw1", f"cors {ORIGIN}")
    assert cors["status"] == "fail"
    # ASP.NET Core answers a refused preflight without any CORS header, so the browser
    # (and verify) says so; verify asks again to tell which part was refused
    assert cors["detail"].startswith(
        "Access to fetch at 'http://127.0.0.1:") and "/api/rest/v1/sites' from origin "\
        "'https://portal.example.com' has been blocked by CORS policy: Response to preflight "\
        "request doesn't pass access control check: No 'Access-Control-Allow-Origin' header "\
        "is present on the requested resource. [the gateway refuses the request header(s) "\
        "authorization: Access-Control-Allow-Headers lacks one] (+2 more)" in cors["detail"]
    assert "gwctl diff" in cors["remedy"]
    others = {k: v for k, v in statuses(doc, "demo/demo-gw1").items() if k != f"cors {ORIGIN}"}
    assert set(others.values()) == {"pass"}


def test_cors_wildcard_is_caught(applied: Callable[..., Any], sim_site: SimSite) -> None:
    path = sim_site.production_path("demo-gw1")
    doc = json.loads(path.read_text("utf-8"))
    doc["CORS"]["Access-Control-Allow-Origin"] = "*"
    path.write_text(json.dumps(doc), "utf-8")
    sim_site.recycle("demo-gw1")
    code, doc, _ = applied()
    assert code == 1
    assert statuses(doc, "demo/demo-gw1")["cors undeclared origin refused"] == "fail"
    assert statuses(doc, "demo/demo-gw1")[f"cors {ORIGIN}"] == "pass"


def test_turn_bad_credential(applied: Callable[..., Any], turn: TurnServer,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERIFY_TURN", "not-the-password")
    code, doc, _ = applied()
    assert code == 1
    for url in (turn.url("turn"), turn.url("turn", "tcp")):
        c = check(doc, "demo/demo-gw1", f"ice {url}")
        assert c["status"] == "fail"
        assert "refused the credentials (401" in c["detail"]
    assert check(doc, "demo/demo-gw1", f"ice {turn.url('stun')}")["status"] == "pass"
    assert "not-the-password" not in json.dumps(doc)


def test_version_mismatch(applied: Callable[..., Any], sim_site: SimSite) -> None:
    sim_site.upgrade("demo-gw1", "2025 R1")
    code, doc, _ = applied()
    assert code == 1
    assert check(doc, "demo/demo-gw1", "well-known")["status"] == "pass"
    got = check(doc, "demo/demo-gw1", "gateway-version")
    assert got["status"] == "fail"
    assert got["detail"] == ("version mismatch: the gateway runs 2025 R1, its management "
                             "server 2025 R2")
    assert "upgrade the gateway right after its management server" in got["remedy"]
    assert check(doc, "demo/demo-ms", "gateway-version")["status"] == "pass"


def test_tls_ice_servers(applied: Callable[..., Any], sim_site: SimSite, tmp_path: Path,
                         turn: TurnServer, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    # stuns: and turns: on coturn's TLS port, its self-signed certificate trusted through
    # SSL_CERT_FILE as an administrator's own CA bundle would be
    settings = settings_for(turn)
    settings["webrtc"]["ice_servers"] = [
        {"url": turn.url("stuns")},
        {"url": turn.url("turns"), "username": turn.user, "credential": "env:VERIFY_TURN"}]
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", settings)
    code, out, err = gwctl(capsys, "apply", "-f", str(fleet), "-i",
                           str(sim_site.inventory_path), "--yes")
    assert code == 0, out + err
    monkeypatch.setenv("SSL_CERT_FILE", str(turn.ca_file))
    code, doc, _ = applied("--gateway", "demo-gw1")
    stuns = check(doc, "demo/demo-gw1", f"ice {turn.url('stuns')}")
    turns = check(doc, "demo/demo-gw1", f"ice {turn.url('turns')}")
    assert (stuns["status"], turns["status"]) == ("pass", "pass"), (stuns, turns)
    assert stuns["detail"].startswith("binding answered over TLS, mapped address 127.0.0.1:")
    assert "relayed address 127.0.0.1:" in turns["detail"]
    assert code == 0
    # with the public CAs only (certifi's bundle), nobody vouches for it: both fail on TLS
    import certifi

    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    code, doc, _ = applied("--gateway", "demo-gw1")
    assert code == 1
    for url in (turn.url("stuns"), turn.url("turns")):
        got = check(doc, "demo/demo-gw1", f"ice {url}")
        assert got["status"] == "fail" and "TLS failed: " in got["detail"] and \
            "CERTIFICATE_VERIFY_FAILED" in got["detail"], got


def test_ws_signalling_shadowed_by_a_route(applied: Callable[..., Any], sim_site: SimSite,
                                           tmp_path: Path, turn: TurnServer,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    # a route ahead of the gateway's own endpoint takes the signalling WebSocket upgrade and
    # proxies it to a backend that is not there: REST signalling works, the WebSocket not
    settings = settings_for(turn)
    settings["reverse_proxy"] = {
        "routes": {"ws-catchall": {"ClusterId": "legacy", "Order": -10,
                                   "Match": {"Path": "/ws/webrtc/{**rest}"}}},
        "clusters": {"legacy": {"Destinations": {"a": {"Address": "http://127.0.0.1:9/"}}}}}
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", settings)
    code, out, err = gwctl(capsys, "apply", "-f", str(fleet), "-i",
                           str(sim_site.inventory_path), "--yes")
    assert code == 0, out + err
    code, doc, _ = applied()
    assert code == 1
    assert check(doc, "demo/demo-gw1", "webrtc-signalling")["status"] == "pass"
    got = check(doc, "demo/demo-gw1", "webrtc-ws-signalling")
    assert got["status"] == "fail"
    assert got["detail"].startswith("ws open: the upgrade was refused: HTTP 5"), got
    assert "/ws/webrtc/v1" in got["remedy"]


def test_ws_signalling_skipped_before_2025_r1(sim_factory: Callable[..., SimSite],
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    site = sim_factory(version="2024 R2")
    user, password = next(iter(site.users.items()))
    monkeypatch.setenv(HEALTH_PASSWORD_ENV, password)
    code, out, err = gwctl(capsys, "verify", "-f", str(site.fleet_path), "-i",
                           str(site.inventory_path), "--gateway", "demo-gw1",
                           "--health-user", user, "--output", "json")
    doc = json.loads(out)
    assert code == 0, out + err
    assert check(doc, "demo/demo-gw1", "webrtc-signalling")["status"] == "pass"
    got = check(doc, "demo/demo-gw1", "webrtc-ws-signalling")
    assert (got["status"], got["detail"]) == (
        "skip", "2024 R2 has no WebSocket signalling (from 2025 R1)")


def test_apply_verify(sim_site: SimSite, tmp_path: Path, turn: TurnServer,
                      monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("VERIFY_TURN", TURN_PASSWORD)
    user, password = next(iter(sim_site.users.items()))
    monkeypatch.setenv(HEALTH_PASSWORD_ENV, password)
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", settings_for(turn))
    args = ["apply", "-f", str(fleet), "-i", str(sim_site.inventory_path), "--yes",
            "--verify", "--health-user", user]
    code, out, err = gwctl(capsys, *args)
    assert code == 0, out + err
    assert "  demo/demo-gw1: changed" in out
    assert "verify:" in out and f"  PASS  cors {ORIGIN}" in out
    assert "2 of 2 gateway(s) verified" in out
    # nothing left to apply: verify still runs; json carries it under "verify"
    monkeypatch.setenv("VERIFY_TURN", "wrong-one")
    code, out, err = gwctl(capsys, *args, "--output", "json")
    assert code == 1, out + err
    doc = json.loads(out)
    assert doc["verify"]["ok"] is False
    assert "wrong-one" not in out + err and password not in out + err


# -- the judge and the parser, as tables ---------------------------------------------------

POST_JSON = cors_judge.BrowserRequest("POST", "/x", {"Authorization": "Bearer t",
                                                     "Content-Type": "application/json"})


@pytest.mark.parametrize(("status", "headers", "allowed", "reason"), [
    (204, {"Access-Control-Allow-Origin": ORIGIN, "Access-Control-Allow-Methods": "POST",
           "Access-Control-Allow-Headers": "authorization, content-type"}, True, ""),
    (204, {}, False, "No 'Access-Control-Allow-Origin' header"),
    (204, {"Access-Control-Allow-Origin": ORIGIN.upper(),
           "Access-Control-Allow-Headers": "authorization,content-type"}, False,
     "not equal to the supplied origin"),
    (401, {"Access-Control-Allow-Origin": ORIGIN}, False, "does not have HTTP ok status"),
    (204, {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "*"}, True,
     ""),
    (204, {"Access-Control-Allow-Origin": "*",
           "Access-Control-Allow-Headers": "*, Authorization"}, True, ""),
    (204, {"Access-Control-Allow-Origin": f"{ORIGIN}, https://b.example"}, False,
     "multiple values"),
])
def test_cors_judge(status: int, headers: dict[str, str], allowed: bool, reason: str) -> None:
    verdict = cors_judge.judge_preflight(POST_JSON, ORIGIN, status, headers)
    assert verdict.allowed is allowed
    assert reason in verdict.reason


def test_cors_judge_wildcard_authorization_note() -> None:
    verdict = cors_judge.judge_preflight(POST_JSON, ORIGIN, 204, {
        "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "*"})
    assert verdict.allowed and "Firefox and Safari block it" in verdict.note
    listed = cors_judge.judge_preflight(POST_JSON, ORIGIN, 204, {
        "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "*, Authorization"})
    assert listed.allowed and not listed.note


def test_cors_judge_methods() -> None:
    patch = cors_judge.BrowserRequest("patch", "/x", {})
    headers = {"Access-Control-Allow-Origin": ORIGIN, "Access-Control-Allow-Methods": "PATCH"}
    # browsers do not upper-case PATCH: the page's spelling must be listed
    assert not cors_judge.judge_preflight(patch, ORIGIN, 204, headers).allowed
    assert patch.preflight_headers(ORIGIN)["Access-Control-Request-Method"] == "patch"
    delete = cors_judge.BrowserRequest("delete", "/x", {})
    assert delete.normalised_method == "DELETE"
    assert cors_judge.judge_preflight(delete, ORIGIN, 204, {
        "Access-Control-Allow-Origin": ORIGIN, "Access-Control-Allow-Methods": "*"}).allowed
    form = cors_judge.BrowserRequest("POST", "/IDP/connect/token", {
        "Content-Type": "application/x-www-form-urlencoded"})
    assert not form.needs_preflight()
    assert POST_JSON.preflight_headers(ORIGIN)["Access-Control-Request-Headers"] == \
        "authorization,content-type"


@pytest.mark.parametrize(("url", "parts"), [
    ("stun:stun.example.com", ("stun", "stun.example.com", 3478, "udp")),
    ("turn:10.0.0.1:3479?transport=tcp", ("turn", "10.0.0.1", 3479, "tcp")),
    ("turns:turn.example.com", ("turns", "turn.example.com", 5349, "tcp")),
    ("TURN:[2001:db8::1]:3478", ("turn", "2001:db8::1", 3478, "udp")),
])
def test_ice_url(url: str, parts: tuple[str, str, int, str]) -> None:
    got = parse_ice_url(url)
    assert (got.scheme, got.host, got.port, got.transport) == parts


@pytest.mark.parametrize("url", ["stun://x", "http://x", "turn:x:99999", "stun:x?transport=tcp",
                                 "turn:", "turn:x?foo=bar"])
def test_ice_url_rejected(url: str) -> None:
    with pytest.raises(ValueError):
        parse_ice_url(url)


def test_health_credentials_from_the_inventory(applied: Callable[..., Any], sim_site: SimSite,
                                               tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    # per host, as Ansible variables (vaulted in real inventories): no --health-user needed
    user, password = next(iter(sim_site.users.items()))
    monkeypatch.delenv(HEALTH_PASSWORD_ENV)
    inventory = inventory_with_health_user(sim_site, tmp_path / "inventory.yml", "demo-gw1",
                                           user, password)
    code, out, _ = gwctl(capsys, "verify", "-f", str(tmp_path / "fleet.yaml"), "-i",
                         str(inventory), "--output", "json")
    assert code == 0, out
    doc = json.loads(out)
    assert statuses(doc, "demo/demo-gw1")["token"] == "pass", check(doc, "demo/demo-gw1", "token")
    assert statuses(doc, "demo/demo-ms")["token"] == "skip"  # no variables, no --health-user
    assert password not in out


@pytest.mark.parametrize(("declared", "sent"), [
    ("https://bücher.example.com", "https://xn--bcher-kva.example.com"),
    ("HTTPS://BÜCHER.Example.org:443/", "https://xn--bcher-kva.example.org"),
    # UTS #46 nontransitional, as browsers and .NET: the sharp s is kept, not "ss"
    ("https://straße.example.com", "https://xn--strae-oqa.example.com"),
    # a symbol IDNA 2008 leaves out but ICU's UTS #46 tables (and IDNA 2003) map
    ("https://☃.example.com", "https://xn--n3h.example.com"),
    ("https://portal.example.com:443", "https://portal.example.com"),
    ("https://portal.example.com/app", "https://portal.example.com"),
    ("http://[::1]:8080", "http://[::1]:8080"),
    ("yourdomain1.com", "yourdomain1.com"),
])
def test_cors_judge_browser_origin(declared: str, sent: str) -> None:
    assert cors_judge.browser_origin(declared) == sent


@pytest.mark.parametrize(("configured", "status"), [
    # ASP.NET Core stores the Unicode host punycoded: the page's browser is allowed
    ("https://bücher.example.com", "pass"),
    # stored lower-cased with its slash, which no browser sends: refused
    ("https://portal.example.com/", "fail"),
])
def test_verify_judges_the_origin_a_browser_sends(sim_site: SimSite, configured: str,
                                                  status: str) -> None:
    import httpx

    from gwctl.verify.exchange import Recorder
    from gwctl.verify.run import _cors_origin

    doc = {"CORS": {"Enabled": True, "Access-Control-Allow-Origin": configured,
                    "Access-Control-Allow-Headers": "Authorization,Content-Type",
                    "Access-Control-Allow-Methods": "GET,POST,PATCH"}}
    sim_site.production_path("demo-gw1").write_text(json.dumps(doc), "utf-8")
    sim_site.recycle("demo-gw1")
    with httpx.Client(timeout=10) as client:
        rec = Recorder(client)
        result = _cors_origin(rec, sim_site.gateway_url("demo-gw1"), configured)
        sent = {v for e in rec.exchanges for k, v in e.request_headers if k.lower() == "origin"}
    assert result.check == f"cors {configured}" and result.status == status, result.detail
    assert sent == {cors_judge.browser_origin(configured)}

"""The simulator over real HTTP (httpx against the in-process uvicorn server)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gwctl.fleet.model import APP_POOL
from gwctl.render.bases import reference_base_text
from gwctl.sim.server import SimSite
from gwctl.sim.state import DEFAULT_NLOG_CONFIG, SimState, product_version
from gwctl.sim.webrtc import sdp_is_well_formed
from gwctl.versions.release import Version

pytestmark = pytest.mark.timeout(60)

Factory = Callable[..., SimSite]


def token(site: SimSite, gateway: str, client_id: str = "GrantValidatorClient") -> str:
    user, password = next(iter(site.users.items()))
    r = httpx.post(site.gateway_url(gateway) + "/IDP/connect/token",
                   data={"grant_type": "password", "username": user, "password": password,
                         "client_id": client_id})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def auth(site: SimSite, gateway: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(site, gateway)}"}


def write_production(site: SimSite, gateway: str, data: Any) -> None:
    text = data if isinstance(data, str) else json.dumps(data)
    site.production_path(gateway).write_text(text, "utf-8")


def well_known(site: SimSite, gateway: str) -> httpx.Response:
    return httpx.get(site.gateway_url(gateway) + "/.well-known/uris")


def access_log(site: SimSite, gateway: str) -> str:
    path = (site.host_root(gateway) / "C" / "ProgramData" / "Milestone" / "ApiGateway"
            / "Logs" / "gateway-access.log")
    return path.read_text("utf-8")


# -- the state directory ---------------------------------------------------------------------


def test_state_layout(sim_site: SimSite) -> None:
    state = SimState.load(sim_site.state_dir)
    assert state.site == "demo" and state.management_host == "demo-ms"
    assert [h.name for h in state.gateways()] == ["demo-ms", "demo-gw1"]
    v = Version.parse("2025 R2")
    for name in ("demo-ms", "demo-gw1"):
        install = sim_site.install_dir(name)
        assert install == (sim_site.host_root(name) / "C" / "Program Files" / "Milestone"
                           / "XProtect API Gateway")
        assert (install / "appsettings.json").read_text("utf-8") == reference_base_text(
            v, "http://demo-ms/", f"http://{name}")
        assert (install / "nlog.config").read_text("utf-8") == DEFAULT_NLOG_CONFIG
        assert not (install / "appsettings.Production.json").exists()
        products = json.loads((sim_site.host_root(name) / ".host"
                               / "installed-products.json").read_text("utf-8"))
        assert products["Milestone XProtect API Gateway"] == product_version(v)
    server_config = (sim_site.host_root("demo-ms") / "C" / "ProgramData" / "Milestone"
                     / "XProtect Management Server" / "ServerConfig.xml")
    assert f"<version>{product_version(v)}</version>" in server_config.read_text("utf-8")
    assert not (sim_site.host_root("demo-gw1") / "C" / "ProgramData" / "Milestone"
                / "XProtect Management Server").exists()
    assert len(state.cameras()) == 4
    assert (sim_site.state_dir / "state.json").stat().st_mode & 0o077 == 0


def test_default_log_directory_matches_renderer() -> None:
    from gwctl.render.nlog import DEFAULT_LOG_DIRECTORY
    from gwctl.sim.state import DEFAULT_LOG_DIRECTORY as SIM_DEFAULT

    assert SIM_DEFAULT == DEFAULT_LOG_DIRECTORY


def test_cameras_are_seeded(sim_factory: Factory, tmp_path: Path) -> None:
    a = sim_factory(site="x", wsman=False)
    b = sim_factory(site="x", wsman=False)
    c = sim_factory(site="x", seed=7, wsman=False)
    ids = [[cam["id"] for cam in SimState.load(s.state_dir).cameras()] for s in (a, b, c)]
    assert ids[0] == ids[1] != ids[2]


def test_inventory_and_fleet(sim_site: SimSite) -> None:
    inv = yaml.safe_load(sim_site.inventory_path.read_text("utf-8"))
    hosts = inv["all"]["children"]["demo"]["hosts"]
    assert set(hosts) == {"demo-ms", "demo-gw1"}
    gw1 = hosts["demo-gw1"]
    assert gw1["ansible_host"] == "127.0.0.1"
    assert gw1["ansible_connection"] == "winrm"
    assert gw1["ansible_winrm_scheme"] == "http"
    assert gw1["ansible_winrm_transport"] == "ntlm"
    assert gw1["ansible_winrm_path"] == "/wsman/demo-gw1"
    assert gw1["ansible_port"] == sim_site.wsman.port
    assert (gw1["ansible_user"], gw1["ansible_password"]) == sim_site.windows_admin
    assert gw1["gwctl_gateway_url"] == sim_site.gateway_url("demo-gw1")
    assert sim_site.wsman_url("demo-gw1") == (f"http://127.0.0.1:{gw1['ansible_port']}"
                                              "/wsman/demo-gw1")

    from gwctl import api
    from gwctl.problems import Level

    result = api.load(sim_site.fleet_path)
    assert result.fleet is not None, [p.message for p in result.problems]
    assert not [p for p in result.problems if p.level is Level.ERROR]
    site = result.fleet.site("demo")
    assert site.management_server.host == "demo-ms"
    gws = {g.name: g for g in site.gateways}
    assert gws["demo-ms"].colocated and not gws["demo-gw1"].colocated
    assert gws["demo-gw1"].url == sim_site.gateway_url("demo-gw1")


def test_a_started_site_answers_at_once(sim_factory: Factory) -> None:
    # how fast it starts is bench/sim_throughput.py's to measure, not a timed test's
    site = sim_factory()
    assert well_known(site, "demo-gw1").status_code == 200


# -- discovery and identity ------------------------------------------------------------------


def test_well_known_uris(sim_site: SimSite) -> None:
    r = well_known(sim_site, "demo-gw1")
    assert r.status_code == 200
    body = r.json()
    assert body["ProductVersion"] == product_version("2025 R2")
    assert body["IdentityProvider"] == "http://demo-ms/IDP"
    assert sorted(body["ApiGateways"]) == sorted(
        sim_site.gateway_url(n).replace("/api", "/API/") for n in sim_site.gateway_names)
    # IIS mounts the gateway at /api only
    assert httpx.get(sim_site.gateway_url("demo-gw1")[:-4] + "/.well-known/uris"
                     ).status_code == 404


def test_token_flow(sim_site: SimSite) -> None:
    url = sim_site.gateway_url("demo-gw1")
    user, password = next(iter(sim_site.users.items()))
    form = {"grant_type": "password", "username": user, "password": password,
            "client_id": "GrantValidatorClient"}
    r = httpx.post(url + "/IDP/connect/token", data=form)
    assert r.status_code == 200
    body = r.json()
    assert body["expires_in"] == 3600 and body["token_type"] == "Bearer"
    bad = httpx.post(url + "/IDP/connect/token", data={**form, "password": "wrong"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    nobody = httpx.post(url + "/IDP/connect/token", data={**form, "username": "nobody"})
    assert nobody.status_code == 400 and nobody.json()["error"] == "invalid_grant"
    client = httpx.post(url + "/IDP/connect/token", data={**form, "client_id": "Other"})
    assert client.status_code == 400 and client.json()["error"] == "invalid_client"
    assert httpx.post(url + "/IDP/connect/token", data={**form, "client_id": "VmsClient"}
                      ).status_code == 200
    # REST needs the bearer token
    missing = httpx.get(url + "/rest/v1/sites")
    assert missing.status_code == 401 and "error" in missing.json()
    assert httpx.get(url + "/rest/v1/sites", headers={"Authorization": "Bearer x.y.z"}
                     ).status_code == 401
    ok = httpx.get(url + "/rest/v1/sites",
                   headers={"Authorization": f"Bearer {body['access_token']}"})
    assert ok.status_code == 200
    # a token from one gateway works through another (one IDP per site)
    assert httpx.get(sim_site.gateway_url("demo-ms") + "/rest/v1/sites",
                     headers={"Authorization": f"Bearer {body['access_token']}"}
                     ).status_code == 200


def test_client_ids_follow_the_management_server_version(sim_factory: Factory) -> None:
    site = sim_factory(version="2024 R2", wsman=False)
    url = site.gateway_url("demo-gw1")
    user, password = next(iter(site.users.items()))
    form = {"grant_type": "password", "username": user, "password": password}
    assert httpx.post(url + "/IDP/connect/token",
                      data={**form, "client_id": "GrantValidatorClient"}).status_code == 200
    r = httpx.post(url + "/IDP/connect/token", data={**form, "client_id": "VmsClient"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_client"


def test_rest_resources(sim_site: SimSite) -> None:
    url = sim_site.gateway_url("demo-ms")
    h = auth(sim_site, "demo-ms")
    sites = httpx.get(url + "/rest/v1/sites", headers=h).json()
    assert len(sites["array"]) == 1 and sites["array"][0]["version"] == product_version(
        "2025 R2")
    cams = httpx.get(url + "/rest/v1/cameras", headers=h).json()["array"]
    assert len(cams) == 4
    one = httpx.get(url + f"/rest/v1/cameras/{cams[1]['id']}", headers=h)
    assert one.status_code == 200 and one.json()["data"]["id"] == cams[1]["id"]
    missing = httpx.get(url + "/rest/v1/cameras/00000000-0000-4000-8000-000000000000",
                        headers=h)
    assert missing.status_code == 404 and "error" in missing.json()
    services = httpx.get(url + "/rest/v1/registeredServices", headers=h)
    assert services.status_code == 200
    entries = services.json()["array"]
    assert {e["type"] for e in entries} == {"e46b7bf9-03ce-44eb-bbdc-8ba16d0aaa80"}
    assert len(entries) == 2


def test_registered_services_only_from_2024_r2(sim_factory: Factory) -> None:
    site = sim_factory(version="2024 R1", wsman=False)
    r = httpx.get(site.gateway_url("demo-gw1") + "/rest/v1/registeredServices",
                  headers=auth(site, "demo-gw1"))
    assert r.status_code == 404


# -- configuration loaded at start and recycle -------------------------------------------------

BROKEN_PRODUCTION: dict[str, str] = {
    "syntax": '{"CORS": {"Enabled": true,, }}',
    "duplicate-key": '{"CORS": {"Enabled": true, "enabled": false}}',
    "top-level-array": '[{"CORS": {"Enabled": true}}]',
    "match-without-path": json.dumps({"ReverseProxy": {"Routes": {"r": {
        "ClusterId": "managementserver", "Match": {"Methods": ["GET"]}}}}}),
    "bad-template": json.dumps({"ReverseProxy": {"Routes": {"r": {
        "ClusterId": "managementserver", "Match": {"Path": "/x/{**id}/y"}}}}}),
    "bad-query-mode": json.dumps({"ReverseProxy": {"Routes": {"r": {
        "ClusterId": "managementserver", "Match": {"Path": "/x", "QueryParameters": [
            {"Name": "a", "Values": ["b"], "Mode": "Equals"}]}}}}}),
    "exists-with-values": json.dumps({"ReverseProxy": {"Routes": {"r": {
        "ClusterId": "managementserver", "Match": {"Path": "/x", "QueryParameters": [
            {"Name": "a", "Values": ["b"], "Mode": "Exists"}]}}}}}),
    "unknown-transform": json.dumps({"ReverseProxy": {"Routes": {"r": {
        "ClusterId": "managementserver", "Match": {"Path": "/x"},
        "Transforms": [{"PathPatern": "/y"}]}}}}),
    # a partial override of the stock transforms merges by index into an extra key
    "merged-transform": json.dumps({"ReverseProxy": {"Routes": {"idp": {
        "Transforms": [{"PathPrefix": "/x"}]}}}}),
    "x-forwarded-case": json.dumps({"ReverseProxy": {"Routes": {"idp": {
        "Transforms": [{}, {"X-Forwarded": "append"}]}}}}),
    "missing-address": json.dumps({"ReverseProxy": {"Clusters": {"managementserver": {
        "Destinations": {"hostname": {"Address": ""}}}}}}),
    "bad-log-level": json.dumps({"Logging": {"LogLevel": {"Yarp": "Verbose"}}}),
    "bad-boolean": json.dumps({"CORS": {"Enabled": "yes"}}),
}


def test_broken_production_file_is_503_after_recycle_only(sim_site: SimSite) -> None:
    gw = "demo-gw1"
    for name, text in BROKEN_PRODUCTION.items():
        write_production(sim_site, gw, text)
        assert well_known(sim_site, gw).status_code == 200, name  # not loaded yet
        sim_site.recycle(gw)
        r = well_known(sim_site, gw)
        assert r.status_code == 503, name
        assert "Service Unavailable" in r.text
        status = sim_site.status()["gateways"][1]
        assert status["serving"].startswith("503"), name
        assert status["config"]["reason"], name
        # fixing the file is not enough: the running configuration stays broken
        sim_site.production_path(gw).unlink()
        assert well_known(sim_site, gw).status_code == 503, name
        sim_site.recycle(gw)
        assert well_known(sim_site, gw).status_code == 200, name
    # the other gateway never noticed
    assert well_known(sim_site, "demo-ms").status_code == 200


def test_comments_and_trailing_commas_are_accepted(sim_site: SimSite) -> None:
    write_production(sim_site, "demo-gw1", '// admin overrides\n{\n  "Logging": {\n'
                     '    "LogLevel": { "Yarp": "Information", },\n  }, /* done */\n}\n')
    sim_site.recycle("demo-gw1")
    assert well_known(sim_site, "demo-gw1").status_code == 200


def test_app_pool_stop_and_start(sim_site: SimSite) -> None:
    sim_site.set_pool_state("demo-gw1", "Stopped")
    assert well_known(sim_site, "demo-gw1").status_code == 503
    state = json.loads((sim_site.state_dir / "state.json").read_text("utf-8"))
    assert state["hosts"]["demo-gw1"]["app_pool"]["state"] == "Stopped"
    sim_site.set_pool_state("demo-gw1", "Started")
    assert well_known(sim_site, "demo-gw1").status_code == 200


def test_recycle_is_recorded(sim_site: SimSite) -> None:
    before = sim_site.status()["gateways"][1]["app_pool"]
    result = sim_site.recycle("demo-gw1")
    after = sim_site.status()["gateways"][1]["app_pool"]
    assert result["name"] == APP_POOL and after["last_recycle"] == result["recycled_at"]
    assert after["worker_pid"] != before["worker_pid"]
    state = json.loads((sim_site.state_dir / "state.json").read_text("utf-8"))
    assert state["hosts"]["demo-gw1"]["app_pool"]["last_recycle"] == result["recycled_at"]


def test_recycle_through_the_local_transport(sim_site: SimSite) -> None:
    from gwctl.transport.local import LocalTransport

    write_production(sim_site, "demo-gw1", "{ broken")
    transport = LocalTransport("demo-gw1", sim_site.host_root("demo-gw1"))
    transport.run("recycle_app_pool", {"name": APP_POOL})
    deadline = time.monotonic() + 3
    while well_known(sim_site, "demo-gw1").status_code != 503:
        assert time.monotonic() < deadline, "the simulator did not see the recycle"
        time.sleep(0.05)


def test_recycle_through_winrm(sim_site: SimSite) -> None:
    from winrm.protocol import Protocol

    from gwctl.ops.wire import bootstrap_command, encode_stdin, parse_result

    write_production(sim_site, "demo-gw1", "{ broken")
    user, password = sim_site.windows_admin
    proto = Protocol(sim_site.wsman_url("demo-gw1"), transport="ntlm", username=user,
                           password=password)
    shell = proto.open_shell()
    try:
        command = proto.run_command(shell, bootstrap_command())
        proto.send_command_input(shell, command,
                                 encode_stdin("recycle_app_pool", {"name": APP_POOL}), end=True)
        out, err, code = proto.get_command_output(shell, command)
        proto.cleanup_command(shell, command)
        result = parse_result(out, code, err)
        assert result["name"] == APP_POOL
        raw = proto.run_command(shell, "ipconfig", ["/all"])
        out, err, code = proto.get_command_output(shell, raw)
        assert code == 1 and b"not Windows" in err
    finally:
        proto.close_shell(shell)
    assert well_known(sim_site, "demo-gw1").status_code == 503


# -- routing ---------------------------------------------------------------------------------


def test_route_to_missing_cluster_is_503(sim_site: SimSite) -> None:
    write_production(sim_site, "demo-gw1", {"ReverseProxy": {"Routes": {"vendor": {
        "ClusterId": "vendor", "Match": {"Path": "/vendor/{**rest}"}}}}})
    sim_site.recycle("demo-gw1")
    url = sim_site.gateway_url("demo-gw1")
    assert httpx.get(url + "/vendor/health").status_code == 503
    assert well_known(sim_site, "demo-gw1").status_code == 200
    assert "cluster+'vendor'+does+not+exist" in access_log(sim_site, "demo-gw1")


def test_dead_destination_is_502(sim_site: SimSite) -> None:
    write_production(sim_site, "demo-gw1", {"ReverseProxy": {"Clusters": {
        "managementserver": {"Destinations": {"hostname": {
            "Address": "http://dead-host.invalid/"}}}}}})
    sim_site.recycle("demo-gw1")
    started = time.perf_counter()
    assert well_known(sim_site, "demo-gw1").status_code == 502
    # answered, not left waiting for a connection timeout (tens of seconds)
    assert time.perf_counter() - started < 5


def test_route_order_and_precedence(sim_site: SimSite) -> None:
    url = sim_site.gateway_url("demo-gw1")
    h = auth(sim_site, "demo-gw1")
    cam = httpx.get(url + "/rest/v1/cameras", headers=h).json()["array"][0]["id"]
    # query-parameter match: the task goes to the gateway's internal command API
    jpeg = httpx.get(url + f"/rest/v1/cameras/{cam}?task=jpeggetlive", headers=h)
    assert jpeg.status_code == 200
    assert jpeg.json()["data"]["command"] == f"CameraCommands/JpegCommand/{cam}"
    plain = httpx.get(url + f"/rest/v1/cameras/{cam}", headers=h)
    assert plain.json()["data"]["id"] == cam
    # a more literal template wins over rest-api's catch-all; Order beats precedence
    write_production(sim_site, "demo-gw1", {"ReverseProxy": {"Routes": {
        "shadow": {"ClusterId": "nowhere", "Order": -1,
                   "Match": {"Path": "/rest/v1/{**any}"}}}}})
    sim_site.recycle("demo-gw1")
    assert httpx.get(url + "/rest/v1/sites", headers=h).status_code == 503  # no cluster
    assert well_known(sim_site, "demo-gw1").status_code == 200


def test_ambiguous_routes_are_500(sim_site: SimSite) -> None:
    write_production(sim_site, "demo-gw1", {"ReverseProxy": {"Routes": {
        "twin": {"ClusterId": "managementserver", "Match": {"Path": "/.well-known/{**x}"}},
    }}})
    sim_site.recycle("demo-gw1")
    assert well_known(sim_site, "demo-gw1").status_code == 500


def test_path_pattern_transform(sim_site: SimSite) -> None:
    write_production(sim_site, "demo-gw1", {"ReverseProxy": {"Routes": {"alias": {
        "ClusterId": "managementserver", "Match": {"Path": "/discover", "Methods": ["GET"]},
        "Transforms": [{"PathPattern": "/ManagementServer/.well-known/uris"},
                       {"ResponseHeader": "X-Alias", "Set": "yes"}]}}}})
    sim_site.recycle("demo-gw1")
    url = sim_site.gateway_url("demo-gw1")
    r = httpx.get(url + "/discover")
    assert r.status_code == 200 and r.headers["x-alias"] == "yes"
    assert "ProductVersion" in r.json()
    assert httpx.post(url + "/discover").status_code == 405


# -- CORS -----------------------------------------------------------------------------------

ALLOWED = "https://portal.example.com"


def _cors(site: SimSite, origins: str, methods: str = "GET,POST,PATCH",
          headers: str = "Authorization,Content-Type") -> str:
    write_production(site, "demo-gw1", {"CORS": {
        "Enabled": True, "Access-Control-Allow-Origin": origins,
        "Access-Control-Allow-Headers": headers, "Access-Control-Allow-Methods": methods}})
    site.recycle("demo-gw1")
    return site.gateway_url("demo-gw1")


def test_cors_allowed_and_denied_origins(sim_site: SimSite) -> None:
    url = _cors(sim_site, f"{ALLOWED}, https://other.example.com:8443")
    ok = httpx.get(url + "/.well-known/uris", headers={"Origin": ALLOWED})
    assert ok.headers["access-control-allow-origin"] == ALLOWED
    assert ok.headers["access-control-allow-methods"] == "GET, POST, PATCH"
    assert ok.headers["access-control-allow-headers"] == "Authorization, Content-Type"
    denied = httpx.get(url + "/.well-known/uris", headers={"Origin": "https://evil.test"})
    assert denied.status_code == 200
    assert not any(k.startswith("access-control-") for k in denied.headers)
    none = httpx.get(url + "/.well-known/uris")
    assert "access-control-allow-origin" not in none.headers
    # error responses of the app carry the headers too
    assert httpx.get(url + "/rest/v1/sites", headers={"Origin": ALLOWED}
                     ).headers["access-control-allow-origin"] == ALLOWED


def test_cors_preflight(sim_site: SimSite) -> None:
    url = _cors(sim_site, ALLOWED)
    pre = {"Origin": ALLOWED, "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type"}
    r = httpx.options(url + "/REST/v1/WebRTC/Session", headers=pre)
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in r.headers["access-control-allow-methods"]
    assert "access-control-allow-headers" in r.headers
    for bad in ({**pre, "Origin": "https://evil.test"},
                {**pre, "Access-Control-Request-Method": "DELETE"},
                {**pre, "Access-Control-Request-Headers": "x-custom"}):
        denied = httpx.options(url + "/REST/v1/WebRTC/Session", headers=bad)
        assert denied.status_code == 204
        assert not any(k.startswith("access-control-") for k in denied.headers)


def test_cors_wildcard_and_disabled(sim_site: SimSite) -> None:
    url = _cors(sim_site, "*", "*", "*")
    r = httpx.get(url + "/.well-known/uris", headers={"Origin": "null"})
    assert r.headers["access-control-allow-origin"] == "*"
    write_production(sim_site, "demo-gw1", {"CORS": {"Enabled": False,
                                                     "Access-Control-Allow-Origin": "*"}})
    sim_site.recycle("demo-gw1")
    r = httpx.get(url + "/.well-known/uris", headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in r.headers
    # the stock configuration: disabled
    stock = httpx.get(sim_site.gateway_url("demo-ms") + "/.well-known/uris",
                      headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in stock.headers


def test_cors_origin_without_scheme_matches_nothing(sim_site: SimSite) -> None:
    # the manual's own example ("yourdomain1.com") never matches a browser's Origin
    url = _cors(sim_site, "portal.example.com")
    r = httpx.get(url + "/.well-known/uris", headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in r.headers


# -- WebRTC signalling -----------------------------------------------------------------------


def _camera(site: SimSite, gateway: str, h: dict[str, str]) -> str:
    cams = httpx.get(site.gateway_url(gateway) + "/rest/v1/cameras", headers=h).json()
    return str(cams["array"][0]["id"])


def _answer() -> str:
    sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVP 101\r\n"
    return json.dumps({"type": "answer", "sdp": sdp})


def test_webrtc_session_flow(sim_site: SimSite) -> None:
    url = sim_site.gateway_url("demo-gw1") + "/REST/v1/WebRTC"
    h = auth(sim_site, "demo-gw1")
    cam = _camera(sim_site, "demo-gw1", h)
    assert httpx.post(url + "/Session", json={"deviceId": cam}).status_code == 401
    r = httpx.post(url + "/Session", headers=h, json={
        "deviceId": cam, "resolution": "notInUse", "includeAudio": False,
        "playbackTimeNode": {"playbackTime": "2025-12-06T15:00:00.000Z", "skipGaps": False,
                             "speed": 1}})
    assert r.status_code == 200, r.text
    session = r.json()
    assert session["answerSDP"] == "Uninitialised"
    offer = json.loads(session["offerSDP"])
    assert offer["type"] == "offer" and sdp_is_well_formed(offer["sdp"])
    sdp = offer["sdp"]
    for needle in ("a=group:BUNDLE 0 1", "m=video ", "H264/90000", "a=ice-ufrag:",
                   "a=ice-pwd:", "a=fingerprint:sha-256 ", "a=setup:actpass", "typ host",
                   "m=application 9 UDP/DTLS/SCTP webrtc-datachannel"):
        assert needle in sdp, needle
    assert "typ srflx" not in sdp and "typ relay" not in sdp  # no ICE servers configured
    sid = session["sessionId"]
    cands = httpx.get(url + f"/IceCandidates/{sid}", headers=h)
    assert cands.status_code == 200
    assert all("candidate" in json.loads(c) for c in cands.json()["candidates"])
    sent = json.dumps({"candidate": "candidate:1 1 udp 1 10.0.0.2 5000 typ host",
                       "sdpMid": "0", "sdpMLineIndex": 0})
    posted = httpx.post(url + f"/IceCandidates/{sid}", headers=h, json={"candidates": [sent]})
    assert posted.status_code == 200 and posted.json()["candidates"] == [sent]
    patched = httpx.patch(url + f"/Session/{sid}", headers=h, json={"answerSDP": _answer()})
    assert patched.status_code == 200 and patched.json()["answerSDP"] == _answer()
    bad = httpx.patch(url + f"/Session/{sid}", headers=h, json={"answerSDP": "v=0"})
    assert bad.status_code == 400 and "error" in bad.json()
    assert httpx.patch(url + "/Session/nope", headers=h, json={"answerSDP": _answer()}
                       ).status_code == 404
    # the lower-case spelling reaches the same controller (ASP.NET routes ignore case)
    assert httpx.get(sim_site.gateway_url("demo-gw1") + f"/rest/v1/webrtc/session/{sid}",
                     headers=h).status_code == 200


def test_webrtc_request_validation(sim_site: SimSite) -> None:
    url = sim_site.gateway_url("demo-gw1") + "/REST/v1/WebRTC/Session"
    h = auth(sim_site, "demo-gw1")
    cam = _camera(sim_site, "demo-gw1", h)

    def post(body: Any) -> httpx.Response:
        return httpx.post(url, headers=h, json=body)

    # 2025 R2 wants deviceId; cameraId alone is not enough; both (the forum's way) work
    assert post({"cameraId": cam}).status_code == 400
    assert post({"deviceId": cam, "cameraId": cam}).status_code == 200
    assert post({"DeviceId": cam}).status_code == 200  # property names ignore case
    assert post({"deviceId": "not-a-guid"}).status_code == 400
    unknown = post({"deviceId": "00000000-0000-4000-8000-000000000000"})
    assert unknown.status_code == 404 and "error" in unknown.json()
    node = {"playbackTime": "2025-12-06T15:00:00Z"}
    for speed, status in ((0, 400), (-1, 400), (32.5, 400), (32, 200), (0.25, 200)):
        assert post({"deviceId": cam, "playbackTimeNode": {**node, "speed": speed}}
                    ).status_code == status, speed
    assert post({"deviceId": cam, "iceServers": [{"url": "http://x"}]}).status_code == 400
    assert post([cam]).status_code == 400


def test_webrtc_field_name_per_version(sim_factory: Factory) -> None:
    site = sim_factory(version="2025 R1", wsman=False)
    url = site.gateway_url("demo-gw1") + "/REST/v1/WebRTC/Session"
    h = auth(site, "demo-gw1")
    cam = _camera(site, "demo-gw1", h)
    assert httpx.post(url, headers=h, json={"deviceId": cam}).status_code == 400
    r = httpx.post(url, headers=h, json={"cameraId": cam})
    assert r.status_code == 200 and r.json()["cameraId"] == cam
    assert httpx.post(url, headers=h, json={"deviceId": cam, "cameraId": cam}
                      ).status_code == 200


def test_webrtc_candidates_follow_ice_servers(sim_site: SimSite) -> None:
    write_production(sim_site, "demo-gw1", {"WebRTC": {"iceServers": [
        {"url": "stun:stun.example.com:3478"},
        {"url": "turns:turn.example.com:5349", "username": "u", "credential": "c"}]}})
    sim_site.recycle("demo-gw1")
    h = auth(sim_site, "demo-gw1")
    cam = _camera(sim_site, "demo-gw1", h)
    r = httpx.post(sim_site.gateway_url("demo-gw1") + "/REST/v1/WebRTC/Session", headers=h,
                   json={"deviceId": cam})
    sdp = json.loads(r.json()["offerSDP"])["sdp"]
    assert "typ srflx" in sdp and "typ relay" in sdp
    # a request's own STUN server counts too
    other = httpx.post(sim_site.gateway_url("demo-ms") + "/REST/v1/WebRTC/Session",
                       headers=h, json={"deviceId": cam,
                                        "iceServers": [{"url": "stun:s.example.com"}]})
    other_sdp = json.loads(other.json()["offerSDP"])["sdp"]
    assert "typ srflx" in other_sdp and "typ relay" not in other_sdp


# -- versions --------------------------------------------------------------------------------


def test_version_mismatch(sim_factory: Factory) -> None:
    site = sim_factory(version="2025 R2", gateway_versions={"demo-gw1": "2025 R1"},
                       wsman=False)
    r = well_known(site, "demo-gw1")
    assert r.status_code == 200
    assert r.json()["ProductVersion"] == product_version("2025 R2")
    user, password = next(iter(site.users.items()))
    tok = httpx.post(site.gateway_url("demo-gw1") + "/IDP/connect/token", data={
        "grant_type": "password", "username": user, "password": password,
        "client_id": "GrantValidatorClient"})
    assert tok.status_code == 502 and "does not match" in tok.json()["error"]
    h = auth(site, "demo-ms")  # the matching gateway works
    assert httpx.get(site.gateway_url("demo-gw1") + "/rest/v1/sites", headers=h
                     ).status_code == 502
    assert httpx.get(site.gateway_url("demo-ms") + "/rest/v1/sites", headers=h
                     ).status_code == 200
    status = site.status()["gateways"][1]
    assert "does not match" in status["version_mismatch"]
    products = json.loads((site.host_root("demo-gw1") / ".host" / "installed-products.json"
                           ).read_text("utf-8"))
    assert products["Milestone XProtect API Gateway"] == product_version("2025 R1")


def test_old_releases_tolerate_a_mismatch(sim_factory: Factory) -> None:
    site = sim_factory(version="2023 R2", gateway_versions={"demo-gw1": "2023 R1"},
                       wsman=False)
    h = auth(site, "demo-gw1")
    assert httpx.get(site.gateway_url("demo-gw1") + "/rest/v1/sites", headers=h
                     ).status_code == 200


# -- faults ---------------------------------------------------------------------------------


def test_fault_latency(sim_site: SimSite) -> None:
    well_known(sim_site, "demo-gw1")
    sim_site.set_fault("demo-gw1", "latency:300")
    started = time.perf_counter()
    assert well_known(sim_site, "demo-gw1").status_code == 200
    slowed = time.perf_counter() - started
    assert slowed >= 0.3
    started = time.perf_counter()
    well_known(sim_site, "demo-ms")
    # the other gateway is not slowed: compared with the slowed request rather than
    # with a fixed bound, so that a loaded machine slowing both does not matter
    assert time.perf_counter() - started < slowed - 0.15
    assert sim_site.faults("demo-ms").describe() == []
    sim_site.clear_faults("demo-gw1")
    assert sim_site.faults("demo-gw1").describe() == []


def test_fault_drop(sim_site: SimSite) -> None:
    sim_site.set_fault("demo-gw1", "drop:2")
    for _ in range(2):
        with pytest.raises(httpx.TransportError):
            well_known(sim_site, "demo-gw1")
    assert well_known(sim_site, "demo-gw1").status_code == 200
    sim_site.set_fault("demo-gw1", "drop", 0.5)
    outcomes = []
    for _ in range(40):
        try:
            outcomes.append(well_known(sim_site, "demo-gw1").status_code)
        except httpx.TransportError:
            outcomes.append(0)
    assert 0 in outcomes and 200 in outcomes
    assert "dropped" in access_log(sim_site, "demo-gw1")


def test_fault_5xx_burst(sim_site: SimSite) -> None:
    sim_site.set_fault("demo-gw1", "5xx-burst:4")
    codes = [well_known(sim_site, "demo-gw1").status_code for _ in range(5)]
    assert codes == [500, 502, 503, 500, 200]
    sim_site.set_fault("demo-gw1", "5xx-burst:2/504")
    assert [well_known(sim_site, "demo-gw1").status_code for _ in range(3)] == [504, 504, 200]


def test_fault_slow_recycle(sim_site: SimSite) -> None:
    sim_site.set_fault("demo-gw1", "slow-recycle:0.4")
    sim_site.recycle("demo-gw1")
    assert well_known(sim_site, "demo-gw1").status_code == 503
    assert sim_site.status()["gateways"][1]["serving"] == "503 (recycling)"
    time.sleep(0.45)
    assert well_known(sim_site, "demo-gw1").status_code == 200


def test_fault_webrtc_concurrency(sim_site: SimSite) -> None:
    # a window no loaded machine outlasts: only an answer ends a set-up's blocking
    sim_site.set_fault("demo-gw1", "webrtc-concurrency:3600")
    url = sim_site.gateway_url("demo-gw1") + "/REST/v1/WebRTC/Session"
    h = auth(sim_site, "demo-gw1")
    cams = httpx.get(sim_site.gateway_url("demo-gw1") + "/rest/v1/cameras", headers=h
                     ).json()["array"]
    first = httpx.post(url, headers=h, json={"deviceId": cams[0]["id"]})
    assert first.status_code == 200
    second = httpx.post(url, headers=h, json={"deviceId": cams[1]["id"]})
    assert second.status_code == 400
    assert second.json() == {"error": "Request failed with status 400"}
    # once the first session has its answer, the next one succeeds
    sid = first.json()["sessionId"]
    assert httpx.patch(f"{url}/{sid}", headers=h, json={"answerSDP": _answer()}
                       ).status_code == 200
    assert httpx.post(url, headers=h, json={"deviceId": cams[1]["id"]}).status_code == 200
    # without the fault, concurrent set-ups are fine
    sim_site.clear_faults("demo-gw1")
    assert httpx.post(url, headers=h, json={"deviceId": cams[2]["id"]}).status_code == 200


def test_faults_at_start_and_persisted(sim_factory: Factory) -> None:
    site = sim_factory(faults={"demo-gw1": ["5xx-burst:1/503", "latency:1"]}, wsman=False)
    assert well_known(site, "demo-gw1").status_code == 503
    assert well_known(site, "demo-gw1").status_code == 200
    site.set_fault("demo-ms", "slow-recycle:2")
    state = json.loads((site.state_dir / "state.json").read_text("utf-8"))
    assert state["hosts"]["demo-ms"]["faults"] == ["slow-recycle:2"]
    from gwctl.errors import UsageError

    with pytest.raises(UsageError):
        site.set_fault("demo-ms", "meltdown")


# -- logging --------------------------------------------------------------------------------


def test_access_log(sim_site: SimSite) -> None:
    httpx.get(sim_site.gateway_url("demo-gw1") + "/rest/v1/sites?x=1",
              headers={"Origin": "https://a.example"})
    lines = [line for line in access_log(sim_site, "demo-gw1").splitlines()
             if not line.startswith("#")]
    fields = lines[-1].split(" ")
    assert fields[3:6] == ["GET", "/api/rest/v1/sites", "x=1"]
    assert fields[9] == "python-httpx/" + httpx.__version__
    assert fields[10] == "https://a.example" and fields[11] == "401"
    assert fields[13] == "rest-api"
    assert fields[14] == "http://demo-ms/ManagementServer/Rest/sites"


def test_nlog_config_reload(sim_site: SimSite) -> None:
    install = sim_site.install_dir("demo-gw1")
    nlog = install / "nlog.config"
    text = nlog.read_text("utf-8")
    nlog.write_text(text.replace(r"C:\ProgramData\Milestone\ApiGateway\Logs",
                                 r"D:\Logs\Gateway"), "utf-8")
    well_known(sim_site, "demo-gw1")  # the reload happens with this request
    well_known(sim_site, "demo-gw1")
    new_log = sim_site.host_root("demo-gw1") / "D" / "Logs" / "Gateway"
    assert "/.well-known/uris" in (new_log / "gateway-access.log").read_text("utf-8")
    assert "logging configuration reloaded" in (new_log / "gateway.log").read_text("utf-8")
    # a broken file: NLog keeps the old configuration and says so in its internal log
    nlog.write_text("<nlog><targets>", "utf-8")
    well_known(sim_site, "demo-gw1")
    r = httpx.get(sim_site.gateway_url("demo-gw1") + "/.well-known/uris?after=broken")
    assert r.status_code == 200  # logging trouble never stops the gateway
    assert "after=broken" in (new_log / "gateway-access.log").read_text("utf-8")
    internal = (install / "internal-nlog.txt").read_text("utf-8")
    assert "Warn" in internal and "keeping the previous configuration" in internal
    assert sim_site.status()["gateways"][1]["nlog"]["reload_error"]


def test_logs_follow_nlog_on_recycle(sim_site: SimSite) -> None:
    nlog = sim_site.install_dir("demo-gw1") / "nlog.config"
    nlog.write_text("not xml", "utf-8")
    sim_site.recycle("demo-gw1")  # a new worker: no logging configuration at all
    before = access_log(sim_site, "demo-gw1")
    well_known(sim_site, "demo-gw1")
    assert access_log(sim_site, "demo-gw1") == before


def test_nlog_broken_at_start_is_watched_only_when_its_text_says_autoreload(
        sim_site: SimSite) -> None:
    # NLog's stand-in empty configuration watches the file only when the broken text holds
    # autoReload="true" (LoggingConfigurationFileLoader.ScanForBooleanParameter)
    nlog = sim_site.install_dir("demo-gw1") / "nlog.config"
    good = nlog.read_text("utf-8")
    nlog.write_text("not xml", "utf-8")
    sim_site.recycle("demo-gw1")
    nlog.write_text(good, "utf-8")
    for _ in range(2):
        httpx.get(sim_site.gateway_url("demo-gw1") + "/.well-known/uris?fixed=unwatched")
    assert "fixed=unwatched" not in access_log(sim_site, "demo-gw1")
    nlog.write_text('<nlog autoReload="true"><targets>', "utf-8")
    sim_site.recycle("demo-gw1")
    nlog.write_text(good, "utf-8")
    for _ in range(2):
        httpx.get(sim_site.gateway_url("demo-gw1") + "/.well-known/uris?fixed=watched")
    assert "fixed=watched" in access_log(sim_site, "demo-gw1")
    assert "fixed=unwatched" not in access_log(sim_site, "demo-gw1")


# -- ports ----------------------------------------------------------------------------------


def test_stop_releases_ports(sim_factory: Factory) -> None:
    site = sim_factory()
    ports = [site.runtime.gateway(n).port for n in site.gateway_names]
    ports += [site.admin_port, site.wsman.port]
    site.stop()
    for port in ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
    site.stop()  # idempotent


def test_second_instance_is_refused(sim_site: SimSite) -> None:
    from gwctl.errors import UsageError

    with pytest.raises(UsageError, match="already running"):
        SimSite(sim_site.state_dir).start()
    assert well_known(sim_site, "demo-gw1").status_code == 200


def test_restart_keeps_ports_and_files(sim_factory: Factory, tmp_path: Path) -> None:
    site = sim_factory(wsman=False, state_dir=tmp_path / "keep")
    port = site.runtime.gateway("demo-gw1").port
    write_production(site, "demo-gw1", "{ broken")
    site.stop()
    again = SimSite(tmp_path / "keep", wsman=False).start()
    try:
        assert again.runtime.gateway("demo-gw1").port == port
        assert well_known(again, "demo-gw1").status_code == 503  # loaded at start
    finally:
        again.stop()


def test_dispatch_by_port_serves_many_gateways(sim_factory: Factory) -> None:
    site = sim_factory(gateways=12, wsman=False)
    assert len(site.gateway_names) == 12
    with httpx.Client() as client:
        for name in site.gateway_names:
            assert client.get(site.gateway_url(name) + "/.well-known/uris").status_code == 200
    assert len({site.runtime.gateway(n).port for n in site.gateway_names}) == 12


def test_status_document(sim_site: SimSite) -> None:
    status = sim_site.status()
    assert status["site"] == "demo"
    assert status["process"]["admin_port"] == sim_site.admin_port
    gw = status["gateways"][0]
    assert gw["serving"] == "ok" and gw["config"]["status"] == "ok"
    assert gw["app_pool"]["name"] == APP_POOL



def test_upgrade_leaves_a_half_upgraded_site(sim_factory: Factory) -> None:
    site = sim_factory(version="2025 R1", wsman=False)
    site.upgrade("demo-ms", "2025 R2")  # the management server and its co-located gateway
    new = product_version("2025 R2")
    server_config = (site.host_root("demo-ms") / "C" / "ProgramData" / "Milestone"
                     / "XProtect Management Server" / "ServerConfig.xml").read_text("utf-8")
    assert f"<version>{new}</version>" in server_config
    ms_products = json.loads((site.host_root("demo-ms") / ".host" / "installed-products.json"
                              ).read_text("utf-8"))
    assert set(ms_products.values()) == {new}
    assert well_known(site, "demo-gw1").json()["ProductVersion"] == new
    h = auth(site, "demo-ms")
    assert httpx.get(site.gateway_url("demo-gw1") + "/rest/v1/sites", headers=h
                     ).status_code == 502  # left behind
    assert httpx.post(site.gateway_url("demo-ms") + "/IDP/connect/token", data={
        "grant_type": "password", "username": next(iter(site.users)),
        "password": next(iter(site.users.values())), "client_id": "VmsClient"}
    ).status_code == 200
    site.upgrade("demo-gw1", "2025 R2")
    assert httpx.get(site.gateway_url("demo-gw1") + "/rest/v1/sites", headers=h
                     ).status_code == 200
    assert (site.install_dir("demo-gw1") / "appsettings.json").read_text("utf-8") == (
        reference_base_text(Version.parse("2025 R2"), "http://demo-ms/", "http://demo-gw1"))


def test_inventory_drives_the_winrm_transport(sim_site: SimSite) -> None:
    winrm_transport = pytest.importorskip("gwctl.transport.winrm")
    from gwctl.transport.winrm_settings import WinRMSettings

    inv = yaml.safe_load(sim_site.inventory_path.read_text("utf-8"))
    hosts = inv["all"]["children"]["demo"]["hosts"]
    settings = WinRMSettings.from_ansible_vars("demo-ms", hosts["demo-ms"])
    transport = winrm_transport.WinRMTransport("demo-ms", settings)
    try:
        assert transport.run("ping", {})["hostname"] == "demo-ms"
        versions = transport.run("read_versions", {
            "install_dir": r"C:\Program Files\Milestone\XProtect API Gateway",
            "server_config": r"C:\ProgramData\Milestone\XProtect Management Server"
                             r"\ServerConfig.xml"})
        assert versions["gateway"]["version"] == product_version("2025 R2")
        assert versions["management_server"]["version"] == product_version("2025 R2")
        state = transport.run("app_pool_state", {"name": APP_POOL})
        assert state["state"] == "Started"
    finally:
        transport.close()

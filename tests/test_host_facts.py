"""What really decides what a gateway runs (issue 18): read in one operation, judged by the
host rules, reported by diff (drift apply cannot fix), refused by apply, named by doctor --
and honoured by the simulator over HTTP.

The conditions are staged on the simulator's hosts the way an administrator would make
them (`gwctl sim host-env` / `SimSite.stage_host`): ASPNETCORE_ENVIRONMENT in web.config,
the app pool or the machine; a leftover app_offline.htm; web.config's hosting model; the
pool's rapid-fail protection; a log directory the pool identity may not write.
"""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml

from gwctl import api
from gwctl.cli.main import main
from gwctl.errors import OperationError
from gwctl.iis.behaviour import environment_of
from gwctl.iis.hostinfo import HostInfo
from gwctl.ops.hostread import APPLICATION_HOST
from gwctl.ops.pyimpl import DirectoryHost
from gwctl.rules.runner import validate_fleet, validate_hosts
from gwctl.sim.hostenv import Staging

if TYPE_CHECKING:
    from gwctl.fleet.model import Fleet
    from gwctl.sim.server import SimSite

GW = "demo-gw1"
INSTALL = r"C:\Program Files\Milestone\XProtect API Gateway"
POOL = "VideoOS ApiGateway AppPool"
LOGS = r"C:\ProgramData\Milestone\ApiGateway\Logs"
ORIGIN = "https://portal.example.com"
DB_PASSWORD = "Pw-9c1e77d2-never-shown"
CORS_OVERRIDE = json.dumps({"CORS": {"Enabled": True, "Access-Control-Allow-Origin": ORIGIN,
                                     "Access-Control-Allow-Headers": "Authorization",
                                     "Access-Control-Allow-Methods": "GET"}})


# -- the effective environment --------------------------------------------------------------


@pytest.mark.parametrize(("machine", "pool", "web", "expected"), [
    ({}, {}, {}, ("Production", None, "default")),
    ({"ASPNETCORE_ENVIRONMENT": "Staging"}, {}, {},
     ("Staging", "ASPNETCORE_ENVIRONMENT", "machine")),
    # the pool's variables override the machine's, web.config's the pool's
    ({"ASPNETCORE_ENVIRONMENT": "Staging"}, {"ASPNETCORE_ENVIRONMENT": "Test"}, {},
     ("Test", "ASPNETCORE_ENVIRONMENT", "app pool")),
    ({"ASPNETCORE_ENVIRONMENT": "Staging"}, {"ASPNETCORE_ENVIRONMENT": "Test"},
     {"aspnetcore_environment": "Production"},
     ("Production", "ASPNETCORE_ENVIRONMENT", "web.config")),
    # ASPNETCORE_ENVIRONMENT wins over DOTNET_ENVIRONMENT whatever layer each is in
    ({"ASPNETCORE_ENVIRONMENT": "Production"}, {}, {"DOTNET_ENVIRONMENT": "Development"},
     ("Production", "ASPNETCORE_ENVIRONMENT", "machine")),
    ({}, {"DOTNET_ENVIRONMENT": "Development"}, {},
     ("Development", "DOTNET_ENVIRONMENT", "app pool")),
    # an empty web.config value replaces the inherited one, and counts as unset
    ({"ASPNETCORE_ENVIRONMENT": "Staging"}, {}, {"ASPNETCORE_ENVIRONMENT": ""},
     ("Production", None, "default")),
])
def test_environment_precedence(machine: dict[str, str], pool: dict[str, str],
                                web: dict[str, str], expected: tuple[Any, ...]) -> None:
    got = environment_of([("machine", machine), ("app pool", pool), ("web.config", web)])
    assert (got.name, got.variable, got.layer) == expected
    assert got.is_production == (expected[0] == "Production")


# -- the operation on a directory host ------------------------------------------------------


def _host(tmp_path: Path) -> tuple[DirectoryHost, Path]:
    host = DirectoryHost(tmp_path)
    install = host.map_path(INSTALL)
    install.mkdir(parents=True)
    return host, install


APPHOST = """<?xml version="1.0" encoding="UTF-8"?>
<configuration><system.applicationHost>
  <applicationPools>
    <add name="VideoOS ApiGateway AppPool">
      <failure rapidFailProtectionMaxCrashes="3" rapidFailProtectionInterval="00:10:00" />
      <recycling><periodicRestart time="00:00:00" /></recycling>
      <environmentVariables><add name="ASPNETCORE_ENVIRONMENT" value="Test" />
        <add name="API_KEY" value="k-123" /></environmentVariables>
    </add>
    <applicationPoolDefaults><processModel identityType="LocalService" /></applicationPoolDefaults>
  </applicationPools>
  <sites><site name="Gateways">
    <application path="/api" applicationPool="videoos apigateway apppool" />
  </site></sites>
</system.applicationHost></configuration>
"""


def test_read_host_reads_utf16_web_config_masks_values_and_fills_pool_defaults(
        tmp_path: Path) -> None:
    host, install = _host(tmp_path)
    web = ('<?xml version="1.0" encoding="utf-16"?><configuration><system.webServer>'
           '<aspNetCore processPath="x.exe" hostingModel="OutOfProcess" '
           'stdoutLogEnabled="true" stdoutLogFile=".\\logs\\out"><environmentVariables>'
           '<environmentVariable name="ASPNETCORE_ENVIRONMENT" value="Staging" />'
           '<environmentVariable name="ConnectionStrings__Db" '
           f'value="Server=db;Password={DB_PASSWORD}" /></environmentVariables></aspNetCore>'
           '</system.webServer></configuration>')
    (install / "web.config").write_bytes(codecs.BOM_UTF16_LE + web.encode("utf-16-le"))
    apphost = host.map_path(APPLICATION_HOST)
    apphost.parent.mkdir(parents=True)
    apphost.write_text(APPHOST, "utf-8")
    (tmp_path / ".host").mkdir()
    (tmp_path / ".host" / "environment.json").write_text('{"aspnetcore_environment": "Dev"}')
    (install / "App_Offline.htm").write_text("<p>back soon</p>")
    result = host.run("read_host", {"install_dir": INSTALL, "pool": POOL, "log_dir": None})
    assert DB_PASSWORD not in json.dumps(result) and "k-123" not in json.dumps(result)
    info = HostInfo.from_result(result)
    wc, pool = info.web_config, info.app_pool
    assert (wc.exists, wc.hosting_model, wc.hosting_model_set) == (True, "outofprocess", True)
    assert wc.environment_variables == {"ASPNETCORE_ENVIRONMENT": "Staging",
                                        "ConnectionStrings__Db": "(masked)"}
    assert wc.stdout_log_enabled and wc.stdout_log_file == ".\\logs\\out"
    assert pool.found and pool.site == "Gateways"
    assert pool.identity_type == "LocalService"  # from applicationPoolDefaults
    assert pool.identity == "NT AUTHORITY\\LOCAL SERVICE"
    assert (pool.rapid_fail_protection, pool.rapid_fail_max_crashes,
            pool.rapid_fail_interval_minutes) == (True, 3, 10.0)
    assert pool.periodic_restart_minutes is None
    assert pool.environment_variables == {"ASPNETCORE_ENVIRONMENT": "Test",
                                          "API_KEY": "(masked)"}
    assert info.machine_environment == {"ASPNETCORE_ENVIRONMENT": "Dev"}
    assert info.app_offline and info.app_offline_size == len("<p>back soon</p>")


def test_read_host_refuses_a_dtd_and_reports_missing_iis(tmp_path: Path) -> None:
    host, install = _host(tmp_path)
    (install / "web.config").write_text(
        '<?xml version="1.0"?><!DOCTYPE configuration [<!ENTITY e "Staging">]>'
        '<configuration><system.webServer><aspNetCore hostingModel="&e;" />'
        '</system.webServer></configuration>')
    result = host.run("read_host", {"install_dir": INSTALL, "pool": POOL})
    assert "DTD is not allowed" in result["web_config"]["error"]
    assert "Staging" not in json.dumps(result)
    assert result["app_pool"]["found"] is False
    assert "applicationHost.config does not exist" in result["warnings"][0]
    for bad in ({"install_dir": INSTALL, "pool": 'a"b'},
                {"install_dir": INSTALL, "pool": POOL, "extra": 1},
                {"install_dir": "relative\\dir", "pool": POOL}):
        with pytest.raises(OperationError) as exc:
            host.run("read_host", bad)
        assert exc.value.code == "bad_params"


def test_read_host_models_the_pool_identitys_acl(tmp_path: Path) -> None:
    host, _ = _host(tmp_path)
    apphost = host.map_path(APPLICATION_HOST)
    apphost.parent.mkdir(parents=True)
    apphost.write_text(APPHOST.replace("LocalService", "NetworkService"), "utf-8")
    logs = host.map_path(LOGS)
    logs.mkdir(parents=True)
    os.chmod(logs, 0o700)

    def log_dir(path: str) -> dict[str, Any]:
        result = host.run("read_host", {"install_dir": INSTALL, "pool": POOL,
                                        "log_dir": path})
        return dict(result["directories"][1])

    assert log_dir(LOGS)["pool_can_write"] is False
    # a missing directory is created by NLog: its nearest existing parent decides
    missing = log_dir(LOGS + "\\gw\\today")
    assert (missing["exists"], missing["checked"], missing["pool_can_write"]) == (
        False, LOGS, False)
    os.chmod(logs, 0o755)
    assert log_dir(LOGS + "\\gw")["pool_can_write"] is True
    os.chmod(logs, 0o700)
    apphost.write_text(APPHOST.replace("LocalService", "LocalSystem"), "utf-8")
    assert log_dir(LOGS)["pool_can_write"] is True  # SYSTEM is in every protected ACL


# -- the simulator honours the host --------------------------------------------------------


def _gateway_status(site: SimSite) -> dict[str, Any]:
    return next(g for g in site.status()["gateways"] if g["name"] == GW)


def _preflight(site: SimSite) -> httpx.Response:
    return httpx.options(f"{site.gateway_url(GW)}/rest/v1/sites",
                         headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"})


def test_a_staging_gateway_ignores_the_production_override(sim_site: SimSite) -> None:
    sim_site.production_path(GW).write_text(CORS_OVERRIDE, "utf-8")
    sim_site.recycle(GW)
    assert _preflight(sim_site).headers.get("access-control-allow-origin") == ORIGIN
    assert sim_site.stage_host(GW, Staging(environment="Staging", layer="app-pool")) == [
        "ASPNETCORE_ENVIRONMENT=Staging set in app-pool"]
    assert "access-control-allow-origin" not in _preflight(sim_site).headers
    status = _gateway_status(sim_site)
    assert status["environment"]["name"] == "Staging"
    assert "appsettings.Staging.json" in status["config"]["files"]
    # the Staging file is what it reads now, found as NTFS finds names
    (sim_site.install_dir(GW) / "APPSETTINGS.staging.JSON").write_text(CORS_OVERRIDE)
    sim_site.recycle(GW)
    assert _preflight(sim_site).headers.get("access-control-allow-origin") == ORIGIN
    (sim_site.install_dir(GW) / "APPSETTINGS.staging.JSON").unlink()
    # web.config wins over the pool: Production again
    sim_site.stage_host(GW, Staging(environment="Production", layer="web.config"))
    assert _preflight(sim_site).headers.get("access-control-allow-origin") == ORIGIN


def test_app_offline_answers_503_with_its_content(sim_site: SimSite) -> None:
    url = sim_site.gateway_url(GW) + "/.well-known/uris"
    assert httpx.get(url).status_code == 200
    sim_site.stage_host(GW, Staging(app_offline="<h1>Upgrade in progress</h1>"))
    r = httpx.get(url)
    assert (r.status_code, r.text) == (503, "<h1>Upgrade in progress</h1>")
    assert r.headers["content-type"] == "text/html"
    assert _gateway_status(sim_site)["serving"] == "503 (app_offline.htm present)"
    sim_site.stage_host(GW, Staging(app_offline=False))
    assert httpx.get(url).status_code == 200


def test_the_hosting_model_decides_what_a_broken_configuration_answers(
        sim_site: SimSite) -> None:
    url = sim_site.gateway_url(GW) + "/.well-known/uris"
    sim_site.production_path(GW).write_text("{ not json", "utf-8")
    sim_site.recycle(GW)
    assert httpx.get(url).status_code == 503  # no web.config: the simulator's default
    sim_site.stage_host(GW, Staging(hosting_model="inprocess", rapid_fail_max_crashes=3))
    r = httpx.get(url)
    assert r.status_code == 500 and "500.30" in r.text
    assert _gateway_status(sim_site)["serving"].startswith("500.30 (")
    sim_site.stage_host(GW, Staging(hosting_model="outofprocess"))
    r = httpx.get(url)
    assert r.status_code == 502 and "502.5" in r.text
    # the third failed start within the interval: rapid-fail protection stops the pool
    assert sim_site.recycle(GW)["state"] == "Stopped"
    assert httpx.get(url).status_code == 503
    assert _gateway_status(sim_site)["serving"] == "503 (app pool stopped)"
    sim_site.production_path(GW).write_text("{}", "utf-8")
    assert sim_site.recycle(GW)["state"] == "Started"  # a recycle starts a stopped pool
    assert httpx.get(url).status_code == 200


def test_nlog_writes_nothing_where_the_pool_identity_may_not(sim_site: SimSite) -> None:
    logs = Path(_gateway_status(sim_site)["nlog"]["log_directory"])
    url = sim_site.gateway_url(GW) + "/.well-known/uris"
    httpx.get(url)
    assert {"gateway.log", "gateway-access.log"} <= {p.name for p in logs.iterdir()}
    sim_site.stage_host(GW, Staging(log_dir=LOGS, log_dir_writable=False))
    # the old worker logged the recycle; the new one, running as the pool identity, cannot
    last = (logs / "gateway.log").read_text("utf-8").splitlines()[-1]
    assert "recycled (host configuration changed)" in last
    sizes = {p.name: p.stat().st_size for p in logs.iterdir() if p.is_file()}
    assert httpx.get(url).status_code == 200
    assert {p.name: p.stat().st_size for p in logs.iterdir() if p.is_file()} == sizes
    internal = (sim_site.install_dir(GW) / "internal-nlog.txt").read_text("utf-8")
    assert "Access to the path is denied" in internal
    sim_site.stage_host(GW, Staging(log_dir=LOGS, log_dir_writable=True))
    httpx.get(url)
    assert (logs / "gateway-access.log").stat().st_size > sizes["gateway-access.log"]


# -- rules, diff, apply, doctor -------------------------------------------------------------


def _fleet(site: SimSite, path: Path, rules: dict[str, Any] | None = None) -> Path:
    doc = yaml.safe_load(site.fleet_path.read_text())
    (site_doc,) = doc["sites"].values()
    site_doc["management_server"]["version"] = "2025 R2"
    site_doc["settings"] = {"cors": {"enabled": True, "allow_origins": [ORIGIN],
                                     "allow_headers": ["Authorization"],
                                     "allow_methods": ["GET"]}}
    if rules:
        doc["rules"] = rules
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _loaded(path: Path) -> Fleet:
    result = api.load(path)
    assert result.fleet is not None, result.problems
    return result.fleet


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _stage_staging(site: SimSite) -> None:
    site.stage_host(GW, Staging(environment="Staging", layer="web.config",
                                web_variable=("ConnectionStrings__Db",
                                              f"Server=db;Password={DB_PASSWORD}")))


def test_diff_reports_an_unloaded_override_as_drift_apply_cannot_fix(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _stage_staging(sim_site)
    fleet, inv = str(_fleet(sim_site, tmp_path / "fleet.yaml")), str(sim_site.inventory_path)
    code, out, err = _run(capsys, "diff", "-f", fleet, "-i", inv)
    assert code == 1, out + err
    assert "! demo/demo-gw1 (demo-gw1): blocked: drift that apply cannot fix" in out
    assert ("  cannot take effect: appsettings.Production.json is not loaded: "
            "ASPNETCORE_ENVIRONMENT=Staging (from web.config's <environmentVariables>); the "
            "gateway reads appsettings.Staging.json instead") in out
    assert ("remedy: set ASPNETCORE_ENVIRONMENT to Production or remove it from the "
            "<environmentVariables> of C:\\Program Files\\Milestone\\XProtect API "
            "Gateway\\web.config; then recycle the app pool [host-override-not-loaded]") in out
    assert "~ demo/demo-ms (demo-ms): recycle needed" in out  # the other gateway is drift
    assert "1 blocked (apply cannot fix)" in out
    code, out, err = _run(capsys, "diff", "-f", fleet, "-i", inv, "--output", "json")
    assert code == 1 and DB_PASSWORD not in out + err
    doc = json.loads(out)
    assert doc["summary"]["blocked"] == 1 and doc["summary"]["drift"] == 1
    gw = next(g for g in doc["gateways"] if g["gateway"] == "demo/demo-gw1")
    assert gw["status"] == "blocked"
    (cond,) = gw["conditions"]
    assert cond["rule"] == "host-override-not-loaded" and cond["blocks_apply"] is True
    facts = gw["host_facts"]
    assert facts["environment"] == {
        "name": "Staging", "variable": "ASPNETCORE_ENVIRONMENT", "layer": "web.config",
        "detail": "ASPNETCORE_ENVIRONMENT=Staging (from web.config's <environmentVariables>)"}
    assert facts["web_config"]["environment_variables"]["ConnectionStrings__Db"] == "(masked)"
    assert facts["failure"].startswith("in-process hosting: a configuration that does not "
                                       "load answers 500.30; after 5 failures within 5 "
                                       "minutes rapid-fail protection stops the app pool")
    assert facts["app_pool"]["identity"] == "NT AUTHORITY\\NETWORK SERVICE"


def test_apply_refuses_a_blocked_gateway_and_writes_nothing(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sim_site.stage_host(GW, Staging(app_offline=True))
    fleet, inv = str(_fleet(sim_site, tmp_path / "fleet.yaml")), str(sim_site.inventory_path)
    before = sim_site.production_path(GW).read_bytes() \
        if sim_site.production_path(GW).exists() else None
    code, out, err = _run(capsys, "apply", "-f", fleet, "-i", inv, "--yes",
                          "--gateway", GW)
    assert code == 1, out + err
    assert ("  demo/demo-gw1: failed (app_offline.htm is present in C:\\Program Files\\"
            "Milestone\\XProtect API Gateway: the ASP.NET Core Module stops the gateway and "
            "answers 503") in out
    after = sim_site.production_path(GW).read_bytes() \
        if sim_site.production_path(GW).exists() else None
    assert after == before
    # a fleet that knowingly disables the rule (with its reason) is not blocked by it
    quiet = str(_fleet(sim_site, tmp_path / "quiet.yaml", rules={
        "host-app-offline": {"enabled": False, "reason": "maintenance page stays up"}}))
    code, out, err = _run(capsys, "diff", "-f", quiet, "-i", inv, "--gateway", GW)
    assert code == 0 and "app_offline.htm" not in out and "~ demo/demo-gw1" in out, out + err
    # remedied: the same apply goes through
    sim_site.stage_host(GW, Staging(app_offline=False))
    code, out, err = _run(capsys, "apply", "-f", fleet, "-i", inv, "--yes", "--gateway", GW)
    assert code == 0, out + err
    assert ORIGIN.encode() in sim_site.production_path(GW).read_bytes()


def test_host_rules_judge_facts_and_stay_silent_offline(
        sim_site: SimSite, tmp_path: Path) -> None:
    _stage_staging(sim_site)
    sim_site.stage_host(GW, Staging(app_offline=True, stdout_log=True, log_dir=LOGS,
                                    log_dir_writable=False))
    fleet = _loaded(_fleet(sim_site, tmp_path / "fleet.yaml"))
    raw = DirectoryHost(sim_site.host_root(GW)).run(
        "read_host", {"install_dir": INSTALL, "pool": POOL, "log_dir": LOGS})
    hosts = {"demo/demo-gw1": HostInfo.from_result(raw)}
    problems = {p.rule: p for p in validate_hosts(fleet, hosts)}
    assert set(problems) == {"host-override-not-loaded", "host-app-offline",
                             "host-log-dir-not-writable", "host-stdout-log-enabled"}
    log = problems["host-log-dir-not-writable"]
    assert log.message.startswith("the pool identity NT AUTHORITY\\NETWORK SERVICE cannot "
                                  f"write {LOGS}: NLog stops logging")
    assert log.subject == "demo/demo-gw1" and log.path == "/sites/demo/gateways/demo-gw1"
    assert problems["host-stdout-log-enabled"].level.value == "warning"
    # validate cannot know a host: the host rules find nothing there
    assert not [p for p in validate_fleet(fleet) if p.rule.startswith("host-")]
    # the fleet's rules: settings apply to them as to any rule
    quiet = _loaded(_fleet(sim_site, tmp_path / "quiet.yaml", rules={
        "host-stdout-log-enabled": {"enabled": False, "reason": "troubleshooting"}}))
    (stdout,) = [p for p in validate_hosts(quiet, hosts)
                 if p.rule == "host-stdout-log-enabled"]
    assert stdout.suppressed == "disabled in rules: troubleshooting"


def test_rapid_fail_protection_disabled_is_reported_by_rule_and_doctor(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = _loaded(_fleet(sim_site, tmp_path / "fleet.yaml"))

    def problems() -> list[Any]:
        raw = DirectoryHost(sim_site.host_root(GW)).run(
            "read_host", {"install_dir": INSTALL, "pool": POOL})
        return [p for p in validate_hosts(fleet, {"demo/demo-gw1": HostInfo.from_result(raw)})
                if p.rule == "host-rapid-fail-disabled"]

    # negative: the simulator installs IIS's default (no <failure> element: protection on)
    assert problems() == []
    sim_site.stage_host(GW, Staging(rapid_fail=True, rapid_fail_max_crashes=3))
    assert problems() == []
    # positive: switched off in applicationHost.config
    sim_site.stage_host(GW, Staging(hosting_model="outofprocess", rapid_fail=False))
    (found,) = problems()
    assert found.level.value == "warning" and found.subject == "demo/demo-gw1"
    assert found.message.startswith(
        f"rapid-fail protection is disabled for the app pool '{POOL}': IIS never stops it "
        "when the gateway cannot start, so the pool stays Started while every request "
        "answers 502.5")
    _, out, _ = _run(capsys, "doctor", "-i", str(sim_site.inventory_path), "--gateway", GW,
                        "--output", "json")
    checks = {c["check"]: c for c in json.loads(out)["gateways"][0]["checks"]}
    assert checks["rapid-fail"]["status"] == "warn"
    assert "(rule host-rapid-fail-disabled)" in checks["rapid-fail"]["detail"]
    assert checks["rapid-fail"]["remedy"].startswith(
        "manual, Troubleshooting > API Gateway doesn't answer requests: set "
        'rapidFailProtection="true"')
    sim_site.stage_host(GW, Staging(rapid_fail=True))
    _, out, _ = _run(capsys, "doctor", "-i", str(sim_site.inventory_path), "--gateway", GW,
                        "--output", "json")
    checks = {c["check"]: c for c in json.loads(out)["gateways"][0]["checks"]}
    assert checks["rapid-fail"] == {**checks["rapid-fail"], "status": "pass",
                                    "detail": f"rapid-fail protection is on for '{POOL}'"}


def test_doctor_names_each_condition_with_cause_and_remedy(
        sim_site: SimSite, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "doctor", "-i", str(sim_site.inventory_path), "--gateway", GW,
                        "--output", "json")
    checks = {c["check"]: c for c in json.loads(out)["gateways"][0]["checks"]}
    assert code == 0
    for name in ("environment", "app-offline", "log-directory-access", "stdout-log",
                 "rapid-fail"):
        assert checks[name]["status"] == "pass", checks[name]
    assert checks["hosting"]["detail"].startswith("out-of-process hosting")  # no web.config
    _stage_staging(sim_site)
    sim_site.stage_host(GW, Staging(app_offline=True, stdout_log=True, log_dir=LOGS,
                                    log_dir_writable=False))
    code, out, _ = _run(capsys, "doctor", "-i", str(sim_site.inventory_path), "--gateway", GW,
                        "--output", "json")
    checks = {c["check"]: c for c in json.loads(out)["gateways"][0]["checks"]}
    assert code == 1
    assert checks["answering"]["status"] == "fail"
    env = checks["environment"]
    assert env["status"] == "fail"
    assert "appsettings.Production.json is not loaded: ASPNETCORE_ENVIRONMENT=Staging" in \
        env["detail"]
    offline = checks["app-offline"]
    assert offline["status"] == "fail"
    assert offline["remedy"].startswith("manual, Troubleshooting > API Gateway doesn't "
                                        "answer requests: delete C:\\Program Files")
    access = checks["log-directory-access"]
    assert access["status"] == "fail" and access["remedy"].startswith(
        "manual, Logging > Log layout, log targets, etc: grant NT AUTHORITY\\NETWORK "
        f"SERVICE Modify on {LOGS}")
    assert checks["stdout-log"]["status"] == "warn"
    assert "500.30" in checks["hosting"]["detail"]


def test_sim_host_env_command_stages_a_running_gateway(
        sim_site: SimSite, capsys: pytest.CaptureFixture[str]) -> None:
    state = str(sim_site.state_dir)
    code, out, _ = _run(capsys, "sim", "host-env", "--state", state, "--host", GW,
                        "--environment", "Staging")
    assert code == 0
    assert out.splitlines() == [
        "demo-gw1: ASPNETCORE_ENVIRONMENT=Staging set in machine",
        "demo-gw1: recycled to pick the change up (pool Started)"]
    assert _gateway_status(sim_site)["environment"]["name"] == "Staging"
    code, out, _ = _run(capsys, "sim", "host-env", "--state", state, "--host", GW,
                        "--app-offline", "--output", "json")
    assert code == 0 and json.loads(out) == {"host": GW, "changed": ["app_offline.htm written"],
                                             "recycled": None}
    assert httpx.get(sim_site.gateway_url(GW) + "/.well-known/uris").status_code == 503
    code, _, err = _run(capsys, "sim", "host-env", "--state", state, "--host", GW)
    assert code == 64 and "nothing to change" in err


# -- the README's section, run as written ---------------------------------------------------


def readme_host_commands() -> list[str]:
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    section = text.split("### Host conditions", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in section.splitlines()
            if line.startswith("gwctl ")]


def test_readme_host_conditions_commands_do_their_work(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import shlex

    monkeypatch.chdir(tmp_path)
    (tmp_path / ".sim").symlink_to(sim_site.state_dir)
    _fleet(sim_site, sim_site.fleet_path)
    url = sim_site.gateway_url(GW) + "/.well-known/uris"
    commands = readme_host_commands()
    assert len(commands) == 8
    for command in commands:
        code, out, err = _run(capsys, *shlex.split(command)[1:])
        status = _gateway_status(sim_site)
        if "--environment Staging" in command:
            assert code == 0 and status["environment"]["name"] == "Staging", out + err
        elif command.startswith("gwctl diff"):
            assert code == 1 and "! demo/demo-gw1 (demo-gw1): blocked" in out, out + err
        elif command.startswith("gwctl doctor"):
            assert code == 1 and "FAIL  environment" in out, out + err
        elif "--clear-environment" in command:
            assert code == 0 and status["environment"]["name"] == "Production"
        elif "--no-app-offline" in command:
            assert code == 0 and httpx.get(url).status_code == 200
        elif "--app-offline" in command:
            assert code == 0 and httpx.get(url).status_code == 503
        elif "--hosting-model outofprocess" in command:
            assert code == 0, out + err
            sim_site.production_path(GW).write_text("{ broken", "utf-8")
            sim_site.recycle(GW)
            assert httpx.get(url).status_code == 502
            sim_site.production_path(GW).write_text("{}", "utf-8")
            sim_site.recycle(GW)
        elif "--log-dir-writable no" in command:
            assert code == 0, out + err
            info = HostInfo.from_result(DirectoryHost(sim_site.host_root(GW)).run(
                "read_host", {"install_dir": INSTALL, "pool": POOL, "log_dir": LOGS}))
            log_dir = info.directory("log")
            assert log_dir is not None
            assert log_dir.pool_can_write is False
        else:
            raise AssertionError(f"a README command this test does not check: {command}")


def test_a_diffs_stat_with_host_facts_fits_one_winrm_send() -> None:
    # the facts ride on the files' stat so that a diff costs no extra round trip; a stdin
    # over one Send chunk would bring one back
    from gwctl.ops import wire
    from gwctl.transport.winrm import DEFAULT_CHUNK_SIZE

    paths = [INSTALL + "\\" + n for n in ("appsettings.json", "appsettings.Production.json",
                                         "nlog.config")] + [r"C:\ProgramData\gwctl\activation.json"]
    stdin = wire.encode_stdin("stat", {"paths": paths, "content": True,
                                       "host": {"install_dir": INSTALL, "pool": POOL,
                                                "log_dir": LOGS}})
    assert len(stdin) <= DEFAULT_CHUNK_SIZE - 512, len(stdin)


def test_the_ansible_role_fails_a_blocked_gateway_even_in_check_mode(
        sim_site: SimSite, tmp_path: Path) -> None:
    from gwctl.ansible.bridge import converge
    from gwctl.hosts.inventory import load_inventory
    from gwctl.hosts.targets import open_transport

    _stage_staging(sim_site)
    fleet = str(_fleet(sim_site, tmp_path / "fleet.yaml"))
    (host,) = [h for h in load_inventory(str(sim_site.inventory_path)) if h.name == GW]
    for check in (True, False):
        result = converge(fleet=fleet, host=GW, groups=host.groups, host_vars=host.vars,
                          transports=open_transport, check=check, want_diff=False)
        assert result["failed"] is True and result["changed"] is False
        assert result["status"] == "blocked"
        assert result["msg"].startswith("blocked, apply cannot fix: appsettings.Production."
                                        "json is not loaded: ASPNETCORE_ENVIRONMENT=Staging")
        assert [c["rule"] for c in result["conditions"]] == ["host-override-not-loaded"]
    assert not sim_site.production_path(GW).exists() or \
        ORIGIN.encode() not in sim_site.production_path(GW).read_bytes()

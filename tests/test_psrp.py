"""gwctl through a JEA endpoint: ``--configuration-name`` over PSRP (pypsrp on loopback)
against the simulator's session configurations (docs/jea.md).

The endpoint is the one `gwctl host-setup` writes, installed and registered on the
emulated hosts as its install script does; the simulator runs the module's functions'
Python twins under the host's allowlist and pins, and refuses everything else with the
error records PowerShell sends.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from pypsrp.powershell import PowerShell, RunspacePool
from remote_counter import RemoteCounter
from test_deploy import CORS, files, gwctl, write_fleet
from test_jea import bootstrap_message, cli, jea_site
from test_remote_commands import APPLY, DONE, PLAN

from gwctl.errors import OperationError, TransportError
from gwctl.hosts.inventory import InventoryHost, load_inventory
from gwctl.hosts.targets import open_transport
from gwctl.ops import read_script
from gwctl.ops.wire import encode_stdin, parse_result
from gwctl.transport.psrp import PsrpTransport
from gwctl.transport.winrm_settings import WinRMSettings

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

pytestmark = pytest.mark.timeout(300)

NOT_FOUND = ("The term '{}' is not recognized as the name of a cmdlet, function, script file, "
             "or operable program. Check the spelling of the name, or if a path was included, "
             "verify that the path is correct and try again.")
NO_LANGUAGE = ("The syntax is not supported by this runspace. This can occur if the runspace "
               "is in no-language mode.")


def jea_hosts(site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for host in ("demo-ms", "demo-gw1"):
        jea_site(site, tmp_path / host, capsys, host)


def inventory_host(site: SimSite, name: str) -> InventoryHost:
    (found,) = [h for h in load_inventory(str(site.inventory_path)) if h.name == name]
    return found


def pool(site: SimSite, host: str, configuration: str = "gwctl") -> RunspacePool:
    """An open runspace pool on `host`'s endpoint, logged on as the inventory says."""
    found = inventory_host(site, host)
    settings = WinRMSettings.from_ansible_vars(host, {**found.vars,
                                                      "ansible_psrp_configuration_name":
                                                      configuration})
    opened = RunspacePool(PsrpTransport(host, settings)._wsman("ntlm"),
                          configuration_name=configuration)
    opened.open()
    return opened


def invoke(opened: RunspacePool, function: str, **parameters: Any) -> PowerShell:
    ps = PowerShell(opened)
    ps.add_cmdlet(function)
    for key, value in parameters.items():
        ps.add_parameter(key, value)
    ps.invoke()
    return ps


def result(ps: PowerShell) -> dict[str, Any]:
    assert not ps.had_errors, [str(e) for e in ps.streams.error]
    (line,) = ps.output
    return parse_result(str(line).encode("utf-8"))


# -- diff, apply and rollback through the endpoint ---------------------------------------


def test_apply_diff_and_rollback_run_only_the_endpoints_functions(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jea_hosts(sim_site, tmp_path, capsys)
    counter = RemoteCounter(sim_site)
    inv = str(sim_site.inventory_path)
    jea = ("--configuration-name", "gwctl")
    first = write_fleet(sim_site, tmp_path / "a.yaml", site_settings={"cors": CORS})
    before = files(sim_site, "demo-gw1")

    code, out = gwctl(capsys, "diff", "-f", str(first), "-i", inv, "--detailed-exitcode", *jea)
    assert code == 2, out
    assert "portal.example.com" in out
    assert files(sim_site, "demo-gw1") == before
    counter.take_pipelines()

    code, out = gwctl(capsys, "apply", "-f", str(first), "-i", inv, "--yes", *jea)
    assert code == 0, out
    assert "demo/demo-gw1  demo-gw1  changed" in out, out
    good = files(sim_site, "demo-gw1")
    assert b"https://portal.example.com" in (good["appsettings.Production.json"] or b"")
    # the same commands as over WinRS, each one pipeline with one function call
    seen = counter.take_pipelines()
    assert seen["demo-gw1"] == [PLAN, *APPLY, DONE + "+write_event"], seen
    assert seen["demo-ms"] == ["lock_acquire", PLAN, *APPLY, DONE + "+write_event",
                               "lock_release"], seen
    assert counter.winrs_commands == 0
    assert sim_site.wsman.service.psrp.pool_count() == 0  # every runspace pool closed

    code, out = gwctl(capsys, "diff", "-f", str(first), "-i", inv, "--detailed-exitcode", *jea)
    assert code == 0, out

    second = write_fleet(sim_site, tmp_path / "b.yaml",
                         site_settings={"cors": {**CORS, "allow_origins": ["https://b.example"]}})
    assert gwctl(capsys, "apply", "-f", str(second), "-i", inv, "--yes", *jea)[0] == 0
    assert b"https://b.example" in (files(sim_site, "demo-gw1")["appsettings.Production.json"]
                                    or b"")
    code, out = gwctl(capsys, "rollback", "--gateway", "demo-gw1", "-f", str(second), "-i", inv,
                      *jea)
    assert code == 0, out
    assert files(sim_site, "demo-gw1") == good
    assert counter.winrs_commands == 0


def test_an_unknown_configuration_is_refused_as_winrm_refuses_it(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jea_hosts(sim_site, tmp_path, capsys)
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    before = files(sim_site, "demo-gw1")
    code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i", str(sim_site.inventory_path),
                      "--yes", "--configuration-name", "gwctl-typo")
    assert code == 1, out
    endpoint = sim_site.wsman.url_for("demo-ms")
    assert (f"error: demo-ms ({endpoint}, session configuration gwctl-typo): opening session "
            "configuration 'gwctl-typo': WS-Management fault 2150858752: The WS-Management "
            "service cannot process the request. Cannot find the gwctl-typo session "
            "configuration in the WSMan: drive on the demo-ms computer.") in out, out
    assert "Traceback" not in out
    assert files(sim_site, "demo-gw1") == before


def test_a_host_without_the_endpoint_is_not_reached_through_the_default_one(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # demo-gw1 has no JEA module: --configuration-name must not land anywhere else
    jea_site(sim_site, tmp_path, capsys, "demo-ms")
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    before = files(sim_site, "demo-gw1")
    code, out = gwctl(capsys, "diff", "-f", str(fleet), "-i", str(sim_site.inventory_path),
                      "--configuration-name", "gwctl")
    assert code == 1, out
    assert "Cannot find the gwctl session configuration in the WSMan: drive on the demo-gw1 " \
           "computer." in out, out
    assert files(sim_site, "demo-gw1") == before


# -- what the endpoint refuses ----------------------------------------------------------


def test_no_language_mode_refuses_scripts_and_invisible_commands(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jea_site(sim_site, tmp_path, capsys, "demo-gw1")
    opened = pool(sim_site, "demo-gw1")
    try:
        script = PowerShell(opened)
        script.add_script("Remove-Item -Recurse 'C:\\Program Files'")
        script.invoke()
        assert script.had_errors
        assert [str(e) for e in script.streams.error] == [NO_LANGUAGE]
        assert script.streams.error[0].fq_error == "ScriptsNotAllowed"

        for name in ("Get-Process", "Invoke-Expression", "Invoke-GwctlStep"):
            ps = invoke(opened, name, Command="x")
            assert ps.had_errors
            assert [str(e) for e in ps.streams.error] == [NOT_FOUND.format(name)]
            assert ps.streams.error[0].fq_error == "CommandNotFoundException"

        extra = invoke(opened, "Invoke-GwctlPing", Request="{}", Script="Get-Process")
        assert [str(e) for e in extra.streams.error] == [
            "A parameter cannot be found that matches parameter name 'Script'."]
        assert extra.streams.error[0].fq_error == "NamedParameterNotFound,Invoke-GwctlPing"

        # a visible function, but handed another operation's request
        wrong = invoke(opened, "Invoke-GwctlPing",
                       Request=encode_stdin("stat", {"paths": []}).decode())
        with pytest.raises(OperationError, match=r"^this function runs 'ping', not 'stat'$"):
            result(wrong)
        assert result(invoke(opened, "Invoke-GwctlPing",
                             Request=encode_stdin("ping", {}).decode()))["hostname"]
    finally:
        opened.close()


def test_the_functions_run_only_allowlisted_scripts_on_pinned_paths(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jea_site(sim_site, tmp_path, capsys, "demo-gw1")
    opened = pool(sim_site, "demo-gw1")
    try:
        header = json.loads(encode_stdin("ping", {}).split(b"\n", 1)[0])
        changed = read_script("ping") + "\nRemove-Item -Recurse 'C:\\Windows'\n"
        header["script"] = base64.b64encode(changed.encode("utf-8")).decode("ascii")
        digest = hashlib.sha256(changed.encode("utf-8")).hexdigest()
        with pytest.raises(OperationError) as refused:
            result(invoke(opened, "Invoke-GwctlPing", Request=json.dumps(header) + "\n"))
        assert refused.value.code == "unknown_script"
        assert refused.value.message == bootstrap_message("ping", digest)

        outside = encode_stdin("write_file", {"path": "C:\\Windows\\win.ini", "sha256": None},
                               b"owned")
        with pytest.raises(OperationError) as pinned:
            result(invoke(opened, "Invoke-GwctlWriteFile", Request=outside.decode()))
        assert pinned.value.code == "path_not_allowed"
        assert not (sim_site.host_root("demo-gw1") / "C" / "Windows" / "win.ini").exists()
    finally:
        opened.close()


def test_a_batch_stops_at_its_first_failing_step(sim_site: SimSite, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from gwctl.ops.batch import BatchError, Step

    jea_site(sim_site, tmp_path, capsys, "demo-gw1")
    transport = open_transport(InventoryHost(
        "demo-gw1", [], {**inventory_host(sim_site, "demo-gw1").vars,
                     "ansible_psrp_configuration_name": "gwctl"}))
    assert isinstance(transport, PsrpTransport)
    target = sim_site.install_dir("demo-gw1") / "gwctl-psrp.txt"
    with transport, pytest.raises(BatchError) as failed:
        transport.run_batch([
            Step("ping"),
            Step("write_file", {"path": "C:\\Windows\\x.txt", "sha256": None}, b"no"),
            Step("write_file", {"path": "C:\\Program Files\\Milestone\\XProtect API Gateway"
                                        "\\gwctl-psrp.txt", "sha256": None}, b"never"),
        ])
    assert failed.value.code == "path_not_allowed"
    assert (failed.value.index, failed.value.op, failed.value.not_run) == (1, "write_file",
                                                                            ["write_file"])
    assert str(failed.value).startswith("demo-gw1: write_file: parameter 'path' is outside")
    assert len(failed.value.results) == 1 and not target.exists()


# -- how a host is reached ---------------------------------------------------------------


def test_the_inventory_variable_selects_psrp_and_psrp_alone_is_refused() -> None:
    base = {"ansible_host": "127.0.0.1", "ansible_user": "CONTOSO\\gwctl",
            "ansible_password": "x", "ansible_winrm_transport": "ntlm"}
    named = open_transport(InventoryHost("gw9", [], {**base,
                                                 "ansible_psrp_configuration_name": "gwctl"}))
    assert isinstance(named, PsrpTransport) and named.configuration_name == "gwctl"
    with pytest.raises(TransportError, match=r"^gw9: ansible_connection=psrp without "
                                             r"ansible_psrp_configuration_name"):
        open_transport(InventoryHost("gw9", [], {**base, "ansible_connection": "psrp"}))


def test_the_guides_commands_then_apply_and_rollback_over_psrp(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/jea.md's commands as written (from any directory: here a fresh one), and between
    them apply and rollback through the endpoint of `gwctl sim up --jea`."""
    import shlex

    guide = (Path(__file__).resolve().parent.parent / "docs" / "jea.md").read_text("utf-8")
    section = guide.split("## Connecting through the endpoint", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    up, diff, down = [shlex.split(line) for line in block.splitlines() if line.strip()]
    assert up[0] == diff[0] == down[0] == "gwctl"
    monkeypatch.chdir(tmp_path)
    state = tmp_path / ".sim"
    try:
        started = cli(*up[1:])
        assert started.returncode == 0, started.stderr
        same = cli(*diff[1:], "--detailed-exitcode")
        assert same.returncode == 0, same.stdout + same.stderr
        # the endpoint is registered under the name the guide uses
        assert (state / "hosts" / "demo-ms" / "C" / "Windows" / "System32"
                / "WindowsPowerShell" / "v1.0" / "SessionConfig" / "gwctl.pssc").is_file()

        doc = yaml.safe_load((state / "fleet.yaml").read_text())
        (site_doc,) = doc["sites"].values()
        site_doc["settings"] = {"cors": CORS}
        fleet = tmp_path / "fleet.yaml"
        fleet.write_text(yaml.safe_dump(doc, sort_keys=False))
        inv = str(state / "inventory.yml")
        production = (state / "hosts" / "demo-ms" / "C" / "Program Files" / "Milestone"
                      / "XProtect API Gateway" / "appsettings.Production.json")
        before = production.read_bytes() if production.exists() else None
        jea = ("--configuration-name", "gwctl")

        drift = cli("diff", "-f", str(fleet), "-i", inv, "--detailed-exitcode", *jea)
        assert drift.returncode == 2, drift.stdout + drift.stderr
        apply = cli("apply", "-f", str(fleet), "-i", inv, "--yes", *jea)
        assert apply.returncode == 0, apply.stdout + apply.stderr
        assert b"https://portal.example.com" in production.read_bytes()
        rollback = cli("rollback", "--gateway", "demo-ms", "-f", str(fleet), "-i", inv, *jea)
        assert rollback.returncode == 0, rollback.stdout + rollback.stderr
        assert (production.read_bytes() if production.exists() else None) == before
    finally:
        stopped = cli(*down[1:])
    assert stopped.returncode == 0, stopped.stderr


# -- the role over Ansible's psrp connection ------------------------------------------------


def psrp_inventory(site: SimSite, path: Path, configuration: str | None = "gwctl") -> Path:
    """The site's inventory with every host reached by Ansible's psrp plugin instead."""
    doc = yaml.safe_load(site.inventory_path.read_text())
    for group in doc["all"]["children"].values():
        for host in group["hosts"].values():
            for key in ("ansible_winrm_scheme", "ansible_winrm_path", "ansible_winrm_transport"):
                value = host.pop(key)
                if key == "ansible_winrm_path":
                    host["ansible_psrp_path"] = value.lstrip("/")
            host.update(ansible_connection="psrp", ansible_psrp_protocol="http",
                        ansible_psrp_auth="ntlm")
            if configuration is not None:
                host["ansible_psrp_configuration_name"] = configuration
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_the_role_runs_over_ansibles_psrp_connection_through_the_jea_endpoint(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from test_ansible_role import PROD, host_files, playbook, recap, set_settings

    jea_hosts(sim_site, tmp_path, capsys)
    counter = RemoteCounter(sim_site)
    inventory = psrp_inventory(sim_site, tmp_path / "psrp.yml")
    set_settings(sim_site.fleet_path, {"cors": CORS})
    home = tmp_path / "home"
    home.mkdir()

    check = playbook(sim_site, "site.yml", home, "--check", inventory=inventory)
    assert check.returncode == 0, check.stdout + check.stderr
    assert recap(check.stdout)["demo-gw1"]["changed"] == 1
    assert b"portal.example.com" not in (host_files(sim_site, "demo-gw1")[PROD] or b"")

    apply = playbook(sim_site, "site.yml", home, inventory=inventory)
    assert apply.returncode == 0, apply.stdout + apply.stderr
    counts = recap(apply.stdout)
    assert counts["demo-ms"]["changed"] == 1 and counts["demo-gw1"]["changed"] == 1
    assert b"https://portal.example.com" in (host_files(sim_site, "demo-gw1")[PROD] or b"")
    seen = counter.take_pipelines()
    # everything went through the endpoint's functions, batches as one pipeline each
    assert counter.winrs_commands == 0
    assert seen["demo-gw1"][-2:] == [*APPLY, DONE + "+write_event"], seen

    again = playbook(sim_site, "site.yml", home, inventory=inventory)
    assert again.returncode == 0, again.stdout + again.stderr
    assert {h: c["changed"] for h, c in recap(again.stdout).items()} == {"demo-ms": 0,
                                                                           "demo-gw1": 0}


def test_the_role_refuses_psrp_without_a_configuration_name(
        sim_site: SimSite, tmp_path: Path) -> None:
    from test_ansible_role import host_files, playbook, recap, set_settings

    inventory = psrp_inventory(sim_site, tmp_path / "psrp.yml", configuration=None)
    set_settings(sim_site.fleet_path, {"cors": CORS})
    before = host_files(sim_site, "demo-ms")
    home = tmp_path / "home"
    home.mkdir()
    r = playbook(sim_site, "site.yml", home, inventory=inventory)
    assert r.returncode == 2, r.stdout + r.stderr
    assert ("demo-ms: ansible_connection=psrp without ansible_psrp_configuration_name "
            "cannot carry gwctl's operations") in r.stdout, r.stdout
    assert recap(r.stdout)["demo-ms"]["failed"] == 1
    assert host_files(sim_site, "demo-ms") == before


def test_the_cli_reads_an_inventory_written_for_the_psrp_plugin(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jea_hosts(sim_site, tmp_path, capsys)
    inventory = psrp_inventory(sim_site, tmp_path / "psrp.yml")
    (host,) = [h for h in load_inventory(str(inventory)) if h.name == "demo-gw1"]
    settings = WinRMSettings.from_ansible_vars(host.name, host.vars)
    assert (settings.scheme, settings.path, settings.transports, settings.configuration_name) \
        == ("http", "/wsman/demo-gw1", ["ntlm"], "gwctl")
    assert settings.port == sim_site.wsman.port
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"cors": CORS})
    code, out = gwctl(capsys, "apply", "-f", str(fleet), "-i", str(inventory), "--yes")
    assert code == 0, out
    assert b"https://portal.example.com" in (files(sim_site, "demo-gw1")
                                             ["appsettings.Production.json"] or b"")
    # Ansible's psrp defaults: negotiate is NTLM for a plain user name, Kerberos for a
    # user@REALM; https on 5986 unless told otherwise
    plain = WinRMSettings.from_ansible_vars("gw9", {"ansible_connection": "psrp",
                                                    "ansible_user": "CONTOSO\\gwctl",
                                                    "ansible_password": "x"})
    assert (plain.scheme, plain.port, plain.path, plain.transports) == ("https", 5986,
                                                                         "/wsman", ["ntlm"])
    realm = WinRMSettings.from_ansible_vars("gw9", {"ansible_connection": "psrp",
                                                    "ansible_user": "gwctl@CONTOSO.COM",
                                                    "ansible_psrp_port": 5985})
    assert (realm.scheme, realm.transports) == ("http", ["kerberos"])


def test_debug_logs_keep_the_requests_secrets_out(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """pypsrp logs every message whole at DEBUG; with --debug the TURN credential travels
    inside them (as base64 in base64) and must not reach the log in any form."""
    import logging

    from test_secret_leaks import leak_forms

    jea_hosts(sim_site, tmp_path, capsys)
    secret = "Psrp-Turn-Secret-7Qx2"
    monkeypatch.setenv("PSRP_LEAK_TURN", secret)
    turn = {"ice_servers": [{"url": "turn:turn.example.com:3478", "username": "gw",
                             "credential": "env:PSRP_LEAK_TURN"}]}
    fleet = write_fleet(sim_site, tmp_path / "fleet.yaml", site_settings={"webrtc": turn})
    caplog.set_level(logging.DEBUG)
    code, out = gwctl(capsys, "--debug", "apply", "-f", str(fleet), "-i",
                      str(sim_site.inventory_path), "--yes", "--configuration-name", "gwctl")
    assert code == 0, out
    assert secret in (files(sim_site, "demo-gw1")["appsettings.Production.json"] or b"").decode()
    assert "Sending message" in caplog.text  # pypsrp's records were there to scrub
    assert not nested_leak(caplog.text + out, leak_forms(secret))


def nested_leak(text: str, forms: set[str], depth: int = 3) -> bool:
    """Whether any of `forms` is in `text`, or in base64 inside it, nested `depth` deep
    (a PSRP fragment in a WS-Management message carries the request, whose payload is
    base64 again)."""
    import re

    if any(form in text for form in forms):
        return True
    for run in re.findall(r"[A-Za-z0-9+/]{16,}={0,2}", text) if depth else []:
        try:
            data = base64.b64decode(run + "=" * (-len(run) % 4))
        except ValueError:
            continue
        if nested_leak(data.decode("latin-1"), forms, depth - 1):
            return True
    return False


def test_an_endpoint_from_another_gwctl_version_is_a_transport_error_naming_the_function(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gwctl.ops.batch import Step
    from gwctl.ops.jea_policy import MODULE_DIR
    from gwctl.ops.pyimpl import DirectoryHost

    jea_site(sim_site, tmp_path, capsys, "demo-gw1")
    # a role capability written before the module had its batch function
    psrc = DirectoryHost(sim_site.host_root("demo-gw1")).map_path(
        MODULE_DIR + "\\RoleCapabilities\\GwctlOperator.psrc")
    text = psrc.read_text("ascii")
    assert ", 'Invoke-GwctlBatch')" in text
    psrc.write_text(text.replace(", 'Invoke-GwctlBatch')", ")"), "ascii")
    transport = open_transport(InventoryHost(
        "demo-gw1", [], {**inventory_host(sim_site, "demo-gw1").vars,
                         "ansible_psrp_configuration_name": "gwctl"}))
    with transport:
        assert transport.run("ping", {})["hostname"]
        with pytest.raises(TransportError) as refused:
            transport.run_batch([Step("ping"), Step("ping")])
    endpoint = sim_site.wsman.url_for("demo-gw1")
    assert refused.value.message == (
        f"demo-gw1 ({endpoint}, session configuration gwctl): ping+ping: the endpoint "
        f"refused Invoke-GwctlBatch: {NOT_FOUND.format('Invoke-GwctlBatch')} "
        "(CommandNotFoundException)")


def test_basic_logon_reaches_the_endpoint_too(sim_site: SimSite, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    jea_site(sim_site, tmp_path, capsys, "demo-gw1")
    user, password = sim_site.windows_admin
    settings = WinRMSettings(host="127.0.0.1", port=sim_site.wsman.port, scheme="http",
                             path="/wsman/demo-gw1", user=user, password=password,
                             transport="plaintext", configuration_name="gwctl")
    with PsrpTransport("demo-gw1", settings) as transport:
        assert transport.run("ping", {})["implementation"] == "gwctl-pyimpl"
    wrong = WinRMSettings(**{**settings.__dict__, "password": password + "x"})
    with PsrpTransport("demo-gw1", wrong) as transport, \
            pytest.raises(TransportError) as refused:
        transport.run("ping", {})
    assert refused.value.message == (
        f"demo-gw1 ({settings.endpoint}, session configuration gwctl): opening session "
        f"configuration 'gwctl': the host rejected the credentials (Failed to authenticate "
        f"the user {user} with basic)")
    assert password + "x" not in refused.value.message


@pytest.mark.parametrize("transport", ["ntlm", "basic"])
def test_psrp_over_https_checks_the_servers_certificate(
        sim_site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        transport: str) -> None:
    from gwctl.sim.wsman.server import WsmanServer

    jea_site(sim_site, tmp_path, capsys, "demo-gw1")
    user, password = sim_site.windows_admin
    assert sim_site.wsman is not None
    with WsmanServer(sim_site.wsman.resolver, {user: password}, https_dir=tmp_path / "tls",
                     allow_unencrypted=False) as tls:
        settings = WinRMSettings(host="127.0.0.1", port=tls.port, scheme="https",
                                 path="/wsman/demo-gw1", user=user, password=password,
                                 transport=transport, configuration_name="gwctl",
                                 ca_trust_path=str(tls.ca_file))
        with PsrpTransport("demo-gw1", settings) as psrp:
            assert psrp.run("ping", {})["implementation"] == "gwctl-pyimpl"
        # another CA: the TLS handshake fails before any credential is sent
        other = WinRMSettings(**{**settings.__dict__,
                                 "ca_trust_path": str(tmp_path / "tls" / "cert.pem")})
        with PsrpTransport("demo-gw1", other) as psrp, \
                pytest.raises(TransportError) as refused:
            psrp.run("ping", {})
    assert refused.value.message.startswith(
        f"demo-gw1 ({other.endpoint}, session configuration gwctl): opening session "
        "configuration 'gwctl': TLS failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate "
        "verify failed"), refused.value.message
    assert password not in refused.value.message

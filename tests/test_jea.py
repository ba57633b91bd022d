"""gwctl host-setup: the JEA files parse, embed values only through the quoting function,
list every packaged operation, and the simulator enforces their allowlist and pins."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import tree_sitter
import tree_sitter_powershell
from hypothesis import given
from hypothesis import strategies as st
from test_deploy import CORS, files, gwctl, write_fleet
from test_ops_scripts import syntax_problems

from gwctl.errors import OperationError
from gwctl.ops import BOOTSTRAP, OPERATIONS, read_script
from gwctl.ops import jea_policy as policy_mod
from gwctl.ops.jea import (
    INSTALL_SCRIPT,
    JeaOptions,
    check_options,
    exported_functions,
    function_name,
    render,
)
from gwctl.ops.psquote import ps_hashtable, ps_string
from gwctl.ops.wire import encode_stdin

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

QUOTES = "'\u2018\u2019\u201a\u201b"
OPTIONS = JeaOptions(
    operators="CONTOSO\\gwctl-operators",
    install_dir=r"C:\Program Files\Milestone\XProtect API Gateway",
    log_dir=r"C:\ProgramData\Milestone\ApiGateway\Logs",
    backup_dir=r"C:\ProgramData\gwctl\backups",
    management_server_dir=r"C:\ProgramData\Milestone\XProtect Management Server")
DATA_FILES = (".psd1", ".psrc", ".pssc")


def parse(source: str) -> tree_sitter.Node:
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    return parser.parse(source.encode("utf-8")).root_node


def nodes(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    out = [node]
    for child in node.children:
        out += nodes(child)
    return out


def node_text(node: tree_sitter.Node) -> str:
    # a node loses its text only when its tree is edited after parsing; these never are
    assert node.text is not None, node
    return node.text.decode("utf-8")


def unquote(literal: str) -> str:
    # what PowerShell makes of a verbatim string: each doubled quote character is one
    assert literal[0] == "'" and literal[-1] == "'"
    return re.sub(f"([{QUOTES}])\\1", r"\1", literal[1:-1])


# -- the quoting function --------------------------------------------------------------


@pytest.mark.parametrize("value", [
    "", "plain", "it's", "'; Remove-Item C:\\ -Recurse; '", "\u2019; calc; \u2018",
    "$(Stop-Computer)", "`$env:PATH`n", 'say "hi" $x', "C:\\Program Files\\X",
])
def test_a_literal_is_one_verbatim_string_whatever_the_value(value: str) -> None:
    literal = ps_string(value)
    tree = parse(f"$x = {literal}\n")
    assert syntax_problems(f"$x = {literal}\n".encode()) == []
    strings = [n for n in nodes(tree) if n.type == "verbatim_string_characters"]
    assert [node_text(s) for s in strings] == [literal]
    assert not [n for n in nodes(tree) if n.type in ("command", "sub_expression")]
    assert unquote(literal) == value


@given(st.text(alphabet=st.characters(exclude_characters="\x00",
                                      exclude_categories=["Cs"])))
def test_any_text_round_trips(value: str) -> None:
    literal = ps_string(value)
    assert unquote(literal) == value
    # no quote character stands alone inside: nothing can end the literal early
    assert re.fullmatch(f"'(?:[^{QUOTES}]|([{QUOTES}])\\1)*'", literal, re.DOTALL)


def test_nul_and_non_text_are_refused() -> None:
    with pytest.raises(ValueError, match="NUL"):
        ps_string("a\x00b")
    with pytest.raises(TypeError):
        ps_string(1)  # type: ignore[arg-type]  # an untyped caller's mistake, on purpose


def test_a_hashtable_quotes_keys_that_are_not_identifiers() -> None:
    text = ps_hashtable({"Plain": "a", "CONTOSO\\o'brien": {"RoleCapabilities": ["R"]}})
    assert "    Plain = 'a'" in text
    assert "    'CONTOSO\\o''brien' = @{" in text
    assert syntax_problems(text.encode()) == []


# -- the generated files ----------------------------------------------------------------


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return render(OPTIONS)


def test_every_generated_file_parses(generated: dict[str, str]) -> None:
    assert set(generated) == {
        "GwctlOperations\\GwctlOperations.psd1", "GwctlOperations\\GwctlOperations.psm1",
        "GwctlOperations\\GwctlOperations.policy.json",
        "GwctlOperations\\RoleCapabilities\\GwctlOperator.psrc", "gwctl.pssc", INSTALL_SCRIPT}
    for name, text in generated.items():
        if name.endswith(".json"):
            json.loads(text)
        else:
            assert syntax_problems(text.encode("utf-8")) == [], name


def data_file(text: str) -> tree_sitter.Node:
    """The one hashtable of a .psd1-style file, which may hold only data."""
    tree = parse(text)
    statements = [n for n in tree.children if n.type != "comment"]
    assert len(statements) == 1
    tables = [n for n in nodes(statements[0]) if n.type == "hash_literal_expression"]
    assert tables and tables[0].start_byte == statements[0].start_byte
    kinds = {n.type for n in nodes(tree)}
    # data language: no command, no expandable string, no variable but $true/$false
    assert not kinds & {"command", "command_name", "expandable_string_literal",
                        "sub_expression", "script_block"}, kinds
    variables = {n.text for n in nodes(tree) if n.type == "variable"}
    assert variables <= {b"$true", b"$false"}
    return tables[0]


def test_data_files_hold_only_data(generated: dict[str, str]) -> None:
    for name, text in generated.items():
        if name.endswith(DATA_FILES):
            data_file(text)


def test_session_configuration_is_restricted(generated: dict[str, str]) -> None:
    pssc = generated["gwctl.pssc"]
    assert "    SessionType = 'RestrictedRemoteServer'\n" in pssc
    assert "    RunAsVirtualAccount = $true\n" in pssc
    assert "    TranscriptDirectory = 'C:\\ProgramData\\gwctl\\transcripts'\n" in pssc
    assert "'CONTOSO\\gwctl-operators' = @{\n            RoleCapabilities = @('GwctlOperator')" \
        in pssc
    gmsa = render(JeaOptions(**{**OPTIONS.__dict__, "run_as": "gmsa:CONTOSO\\gwctl-jea$"}))
    assert "    GroupManagedServiceAccount = 'CONTOSO\\gwctl-jea$'\n" in gmsa["gwctl.pssc"]
    assert "RunAsVirtualAccount" not in gmsa["gwctl.pssc"]


def test_only_the_operations_are_visible(generated: dict[str, str]) -> None:
    names = exported_functions()
    assert names == [function_name(op) for op in OPERATIONS] + ["Invoke-GwctlBatch"]
    assert function_name("read_file") == "Invoke-GwctlReadFile"
    listed = "@(" + ", ".join(ps_string(n) for n in names) + ")"
    psrc = generated["GwctlOperations\\RoleCapabilities\\GwctlOperator.psrc"]
    assert f"    VisibleFunctions = {listed}\n" in psrc
    assert "VisibleCmdlets" not in psrc and "VisibleExternalCommands" not in psrc
    manifest = generated["GwctlOperations\\GwctlOperations.psd1"]
    assert f"    FunctionsToExport = {listed}\n" in manifest
    psm1 = generated["GwctlOperations\\GwctlOperations.psm1"]
    assert f"Export-ModuleMember -Function {listed}" in psm1
    for op in OPERATIONS:
        assert f"    Invoke-GwctlStep {ps_string(op)} $Request\n" in psm1
    assert "    Invoke-GwctlBatchRequest $Request\n" in psm1
    # the runner checks with the bootstrap's own function, copied, not rewritten
    bootstrap = read_script(BOOTSTRAP)
    start = bootstrap.index("function Assert-Allowed")
    assert bootstrap[start:bootstrap.index("\n}\n", start) + 3] in psm1


def test_the_allowlist_is_every_packaged_script_as_sent(generated: dict[str, str]) -> None:
    policy = json.loads(generated["GwctlOperations\\GwctlOperations.policy.json"])
    assert policy["scripts"] == {
        op: hashlib.sha256(read_script(op).encode("utf-8")).hexdigest() for op in OPERATIONS}
    assert policy["pinned"] == [OPTIONS.install_dir, OPTIONS.log_dir, OPTIONS.backup_dir,
                                r"C:\ProgramData\gwctl", OPTIONS.management_server_dir,
                                r"C:\inetpub\logs\LogFiles"]


def test_values_reach_the_files_only_as_literals() -> None:
    hostile = JeaOptions(**{**OPTIONS.__dict__,
                            "operators": "CONTOSO\\o'brien\u2019; Stop-Computer; '",
                            "install_dir": "C:\\Gate'way $(calc)"})
    assert check_options(hostile) == []
    for name, text in render(hostile).items():
        if name.endswith(DATA_FILES) or name.endswith(".ps1"):
            tree = parse(text)
            assert syntax_problems(text.encode("utf-8")) == [], name
            assert "Stop-Computer" not in {node_text(n) for n in nodes(tree)
                                           if n.type == "command_name"}
    pssc = render(hostile)["gwctl.pssc"]
    assert ps_string("CONTOSO\\o'brien\u2019; Stop-Computer; '") + " = @{" in pssc


def test_written_files_match_the_install_scripts_digests(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    out = tmp_path / "endpoint"
    code, text = gwctl(capsys, "host-setup", "--output", str(out), "--operators",
                       "CONTOSO\\gwctl-operators", "--run-as", "gmsa:CONTOSO\\gwctl-jea$")
    assert code == 0, text
    assert f"{out / INSTALL_SCRIPT}" in text
    install = (out / INSTALL_SCRIPT).read_bytes()
    assert install.isascii() and b"\r\n" in install and b"\n" not in install.replace(b"\r\n", b"")
    expected = dict(re.findall(rb"    '([^']+)' = '([0-9a-f]{64})'", install))
    assert len(expected) == 5
    for relative, digest in expected.items():
        path = out.joinpath(*relative.decode().split("\\"))
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest.decode()
    assert b"Register-PSSessionConfiguration -Name $name -Path $pssc -Force" in install


@pytest.mark.parametrize(("args", "message"), [
    (["--run-as", "domain-admin"], "--run-as must be 'virtual' or 'gmsa:DOMAIN\\name$'"),
    (["--gateway-install-dir", "C:\\Gateway\\..\\Windows"], "--gateway-install-dir:"),
    (["--log-dir", "D:\\"], "--log-dir: a whole drive cannot be pinned"),
])
def test_bad_options_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      args: list[str], message: str) -> None:
    code, text = gwctl(capsys, "host-setup", "--output", str(tmp_path / "o"),
                       "--operators", "CONTOSO\\ops", *args)
    assert code == 64 and message in text
    assert not (tmp_path / "o").exists()


def test_a_non_empty_output_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "keep").write_text("x")
    code, text = gwctl(capsys, "host-setup", "--output", str(tmp_path / "o"),
                       "--operators", "CONTOSO\\ops")
    assert code == 64 and "exists and is not an empty directory" in text
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["keep"]


# -- the simulator enforces the same policy ---------------------------------------------


def bootstrap_message(op: str, digest: str) -> str:
    """The bootstrap's refusal, with its PowerShell variables filled in."""
    template = re.search(r"message = \"(the script sent for [^\"]+)\"",
                         read_script(BOOTSTRAP))
    assert template is not None
    return template.group(1).replace("$Op", op).replace("$x", digest)


def jea_site(site: SimSite, tmp_path: Path, capsys: pytest.CaptureFixture[str],
             name: str) -> Path:
    out = tmp_path / "endpoint"
    code, text = gwctl(capsys, "host-setup", "--output", str(out),
                       "--operators", "CONTOSO\\gwctl-operators")
    assert code == 0, text
    return site.install_jea_module(name, out / "GwctlOperations")


def raw_run(site: SimSite, host: str, stdin: bytes) -> tuple[int, bytes]:
    """What the host answers to `stdin` after the packaged bootstrap command line: the
    transport's own exchange, with a request it would never build itself."""
    from gwctl.hosts.inventory import load_inventory
    from gwctl.transport.winrm import WinRMTransport
    from gwctl.transport.winrm_settings import WinRMSettings

    (found,) = [h for h in load_inventory(str(site.inventory_path)) if h.name == host]
    transport = WinRMTransport(host, WinRMSettings.from_ansible_vars(host, found.vars))
    try:
        stdout, _, code = transport._execute("ping", stdin)
        return code, stdout
    finally:
        transport.close()


def test_all_real_operations_pass_on_a_jea_host(sim_site: SimSite, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    for host in ("demo-ms", "demo-gw1"):
        jea_site(sim_site, tmp_path / host, capsys, host)
    inv = str(sim_site.inventory_path)
    first = write_fleet(sim_site, tmp_path / "a.yaml", site_settings={"cors": CORS})
    code, out = gwctl(capsys, "apply", "-f", str(first), "-i", inv, "--yes")
    assert code == 0, out
    good = files(sim_site, "demo-gw1")
    assert b"portal.example.com" in (good["appsettings.Production.json"] or b"")
    second = write_fleet(sim_site, tmp_path / "b.yaml",
                         site_settings={"cors": {**CORS, "allow_origins": ["https://b.example"]}})
    assert gwctl(capsys, "apply", "-f", str(second), "-i", inv, "--yes")[0] == 0
    code, out = gwctl(capsys, "rollback", "--gateway", "demo-gw1", "-f", str(second), "-i", inv)
    assert code == 0, out
    assert files(sim_site, "demo-gw1") == good
    code, out = gwctl(capsys, "versions", "-f", str(second), "-i", inv)
    assert code == 0, out
    # doctor's reads too: the IIS request log lies below the pinned IIS log folder
    from gwctl.cli.main import main

    main(["doctor", "-i", inv, "--gateway", "demo-gw1", "--output", "json"])
    checks = {c["check"]: c for c in
              json.loads(capsys.readouterr().out)["gateways"][0]["checks"]}
    assert checks["iis-errors"]["status"] == "pass", checks["iis-errors"]
    assert "W3SVC1" in checks["iis-errors"]["detail"]


def test_a_script_not_in_the_allowlist_is_refused(sim_site: SimSite, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    jea_site(sim_site, tmp_path, capsys, "demo-gw1")
    stdin = encode_stdin("ping", {})
    header = json.loads(stdin.split(b"\n", 1)[0])
    changed = read_script("ping") + "\nRemove-Item -Recurse 'C:\\Windows'\n"
    header["script"] = base64.b64encode(changed.encode("utf-8")).decode("ascii")
    code, stdout = raw_run(sim_site, "demo-gw1", json.dumps(header).encode() + b"\n")
    digest = hashlib.sha256(changed.encode("utf-8")).hexdigest()
    body = json.loads(stdout.split(b"GWCTL-RESULT ", 1)[1])
    assert code == 1
    assert body["code"] == "unknown_script"
    assert body["message"] == bootstrap_message("ping", digest)
    # the packaged script of another operation is not this one's
    header["op"] = "stat"
    header["script"] = base64.b64encode(read_script("ping").encode()).decode("ascii")
    code, stdout = raw_run(sim_site, "demo-gw1", json.dumps(header).encode() + b"\n")
    body = json.loads(stdout.split(b"GWCTL-RESULT ", 1)[1])
    assert body["code"] == "unknown_script"
    # every real one passes, the host still answers
    code, stdout = raw_run(sim_site, "demo-gw1", encode_stdin("ping", {}))
    assert code == 0, stdout


def test_paths_outside_the_pinned_directories_are_refused(sim_site: SimSite, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    jea_site(sim_site, tmp_path, capsys, "demo-gw1")
    secret = sim_site.host_root("demo-gw1") / "C" / "Windows" / "win.ini"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text("[fonts]\n")
    escape = "c:/program files/milestone/xprotect api gateway/../../../Windows/win.ini"
    for params in ({"path": "C:\\Windows\\win.ini"}, {"path": escape}):
        code, stdout = raw_run(sim_site, "demo-gw1", encode_stdin("read_file", params))
        body = json.loads(stdout.split(b"GWCTL-RESULT ", 1)[1])
        assert (code, body["code"]) == (1, "path_not_allowed"), body
        assert body["message"].startswith("parameter 'path' is outside the directories")
    inside = "c:/program files/milestone/XPROTECT API GATEWAY/appsettings.json"
    code, stdout = raw_run(sim_site, "demo-gw1", encode_stdin("stat", {"paths": [inside]}))
    assert code == 0, stdout


def test_pins_compare_as_windows_does() -> None:
    roots = (r"C:\ProgramData\gwctl",)
    assert policy_mod.is_pinned(r"c:\programdata\GWCTL\backups\x.bak", roots)
    assert policy_mod.is_pinned("C:/ProgramData/gwctl", roots)
    assert not policy_mod.is_pinned(r"C:\ProgramData\gwctl-evil\x", roots)
    assert not policy_mod.is_pinned(r"C:\ProgramData\gwctl\..\x", roots)
    assert not policy_mod.is_pinned(r"D:\ProgramData\gwctl\x", roots)


def test_a_damaged_policy_allows_nothing() -> None:
    with pytest.raises(OperationError, match="is damaged: no operation may run"):
        policy_mod.load_policy(b'{"format": 1, "scripts": {"ping": "nothex"}, "pinned": []}')


# -- docs/jea.md's commands, run as written -----------------------------------------------


def test_the_guides_commands_write_what_it_describes(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import shlex

    from gwctl.cli.main import main

    guide = (Path(__file__).resolve().parent.parent / "docs" / "jea.md").read_text("utf-8")
    block = guide.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.startswith("gwctl ")]
    assert len(commands) == 2
    monkeypatch.chdir(tmp_path)
    for command in commands:
        args = shlex.split(command)
        assert main(args[1:]) == 0, capsys.readouterr()
        out = Path(args[args.index("--output") + 1])
        names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
        assert names == ["GwctlOperations/GwctlOperations.policy.json",
                         "GwctlOperations/GwctlOperations.psd1",
                         "GwctlOperations/GwctlOperations.psm1",
                         "GwctlOperations/RoleCapabilities/GwctlOperator.psrc",
                         "Install-GwctlEndpoint.ps1", "gwctl.pssc"]
    gmsa = (tmp_path / "jea-gmsa" / "gwctl.pssc").read_text()
    assert "GroupManagedServiceAccount = 'CONTOSO\\gwctl-jea$'" in gmsa
    policy = json.loads((tmp_path / "jea-gmsa" / "GwctlOperations"
                         / "GwctlOperations.policy.json").read_text())
    assert "D:\\Logs\\ApiGateway" in policy["pinned"]
    # every function the guide names is one the module exports, and the other way round
    named = set(re.findall(r"`(Invoke-Gwctl[A-Za-z]+)`", guide))
    assert named == set(exported_functions())


# -- gwctl sim up --jea ------------------------------------------------------------------


@pytest.mark.timeout(90)
def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """gwctl as a process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "gwctl.cli.main", *args],
                          capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_sim_up_jea_installs_the_module_on_every_host(tmp_path: Path) -> None:
    state = tmp_path / ".sim"
    try:
        up = cli("sim", "up", "--state", str(state), "--gateways", "2", "--jea")
        assert up.returncode == 0, up.stderr
        expected = render(JeaOptions(**{**OPTIONS.__dict__,
                                        "operators": "SIM\\gwctl-operators"}))
        policy = expected["GwctlOperations\\GwctlOperations.policy.json"]
        for host in ("demo-ms", "demo-gw1"):
            installed = (state / "hosts" / host / "C" / "Program Files" / "WindowsPowerShell"
                         / "Modules" / "GwctlOperations" / "GwctlOperations.policy.json")
            assert installed.read_bytes() == policy.replace("\n", "\r\n").encode("ascii")
        # every operation a read needs passes the allowlist and the pins
        versions = cli("versions", "-f", str(state / "fleet.yaml"),
                       "-i", str(state / "inventory.yml"))
        assert versions.returncode == 0, versions.stdout + versions.stderr
        assert "demo-gw1" in versions.stdout
    finally:
        cli("sim", "down", "--state", str(state))


def test_every_operation_parameter_is_classified_for_the_pins() -> None:
    from gwctl.ops.params import PARAM_KEYS

    every = set().union(*PARAM_KEYS.values())
    kinds = (policy_mod.PATH_PARAMS, policy_mod.NESTED_PARAMS, policy_mod.OTHER_PARAMS)
    assert every == set().union(*kinds)
    assert sum(len(k) for k in kinds) == len(every)  # each in exactly one list
    # the PowerShell side checks the same names
    listed = re.search(r"foreach \(\$name in @\(([^)]*)\)\) \{\n *\$p = \$scope",
                       read_script("stat"))
    assert listed is not None
    assert re.findall(r"'([a-z_]+)'", listed.group(1)) == list(policy_mod.PATH_PARAMS)


def test_paths_nested_in_stats_host_parameter_are_pinned_too() -> None:
    policy = policy_mod.Policy({}, (r"C:\Program Files\Milestone\XProtect API Gateway",))
    inside = r"C:\Program Files\Milestone\XProtect API Gateway"
    policy_mod.check_paths(policy, {"paths": [inside + r"\a.json"],
                                    "host": {"install_dir": inside, "pool": "p"}})
    with pytest.raises(OperationError) as caught:
        policy_mod.check_paths(policy, {"paths": [inside + r"\a.json"],
                                        "host": {"install_dir": inside, "log_dir": r"C:\Windows"}})
    assert caught.value.code == "path_not_allowed" and "'log_dir'" in caught.value.message


def test_a_batch_is_checked_step_by_step(sim_site: SimSite, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from gwctl.ops.batch import Step, encode_batch

    jea_site(sim_site, tmp_path, capsys, "demo-gw1")
    stdin = encode_batch([Step("ping"), Step("read_file", {"path": "C:\\Windows\\win.ini"}),
                          Step("ping")])
    code, stdout = raw_run(sim_site, "demo-gw1", stdin)
    body = json.loads(stdout.split(b"GWCTL-RESULT ", 1)[1])
    assert code == 1 and body["steps"][0]["ok"] is True
    assert body["steps"][1]["code"] == "path_not_allowed"
    assert body["not_run"] == ["ping"]
    # a step whose script is not the allowlisted one is refused when its turn comes
    header = json.loads(encode_batch([Step("ping"), Step("stat", {"paths": []})])
                        .split(b"\n", 1)[0])
    changed = read_script("stat") + "\n# one more line\n"
    header["scripts"]["stat"] = base64.b64encode(changed.encode("utf-8")).decode("ascii")
    code, stdout = raw_run(sim_site, "demo-gw1", json.dumps(header).encode() + b"\n")
    body = json.loads(stdout.split(b"GWCTL-RESULT ", 1)[1])
    digest = hashlib.sha256(changed.encode("utf-8")).hexdigest()
    assert body["steps"][0]["ok"] is True
    assert body["steps"][1]["code"] == "unknown_script"
    assert body["steps"][1]["message"] == bootstrap_message("stat", digest)

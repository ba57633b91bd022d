"""The CLI as a user drives it: commands, output formats, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gwctl.cli.main import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "fleet.yaml"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_published_schema_is_the_packaged_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0
    assert out == (ROOT / "schemas" / "fleet.schema.json").read_text()
    assert json.loads(out)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_example_fleet_validates(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", "-f", str(EXAMPLE))
    assert code == 0
    assert out.strip().endswith("ok (3 gateways)")


def bad_fleet(tmp_path: Path) -> Path:
    p = tmp_path / "fleet.yaml"
    p.write_text("""sites:
  s:
    management_server: {host: ms, version: "2025 R2"}
    settings:
      environment: production
      cors:
        enabled: true
        allow_origins: ["*"]
    gateways:
      g1: {host: ms}
""")
    return p


def test_validate_output_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = bad_fleet(tmp_path)
    code, out, _ = run(capsys, "validate", "-f", str(p))
    assert code == 1
    assert f"{p}:8:25: [error]" in out and "(cors-wildcard-origin)" in out
    code, out, _ = run(capsys, "validate", "-f", str(p), "--output", "json")
    doc = json.loads(out)
    assert code == 1 and doc["version"] == 1 and doc["summary"]["errors"] >= 1
    problem = next(x for x in doc["problems"] if x["rule"] == "cors-wildcard-origin")
    assert {k: problem[k] for k in ("file", "line", "column", "path", "level")} == {
        "file": str(p), "line": 8, "column": 25,
        "path": "/sites/s/settings/cors/allow_origins/0", "level": "error"}
    code, out, _ = run(capsys, "validate", "-f", str(p), "--output", "github")
    assert code == 1
    assert f"::error file={p},title=cors-wildcard-origin,line=8,col=25::" in out


def test_directory_of_files_merges_in_name_order(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "fleet"
    d.mkdir()
    (d / "00-defaults.yaml").write_text(
        "defaults:\n  settings:\n    logging:\n"
        "      levels: {Yarp: Warning, Default: Information}\n")
    (d / "10-hq.yaml").write_text(
        "sites:\n  hq:\n    management_server: {host: ms, version: '2025 R2'}\n"
        "    gateways:\n      g1: {host: ms}\n")
    (d / "20-override.yaml").write_text(
        "defaults:\n  settings:\n    logging:\n      levels: {Yarp: Debug}\n")
    (d / "notes.txt").write_text("not read")
    code, out, _ = run(capsys, "effective", "-f", str(d), "--gateway", "g1", "--section",
                       "Logging:LogLevel")
    assert code == 0, out
    levels = json.loads(out)
    assert levels["Yarp"] == "Debug" and levels["Default"] == "Information"
    code, out, _ = run(capsys, "validate", "-f", str(d))
    # the production Debug warning points into the file that wrote it
    assert "20-override.yaml:4:" in out


def test_render_writes_per_gateway_files(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HQ_TURN_CREDENTIAL", "t0p-s3cret")
    code, out, err = run(capsys, "render", "-f", str(EXAMPLE), "-o", str(tmp_path))
    assert code == 0, err
    assert "rendered 6 files for 3 gateways" in err
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == [f"{s}/{g}/{f}" for s, g in (("branch", "branch-gw1"), ("hq", "hq-gw1"),
                                                     ("hq", "hq-gw2"))
                       for f in ("appsettings.Production.json", "nlog.config")]
    assert b"t0p-s3cret" in (tmp_path / "hq" / "hq-gw1" / "appsettings.Production.json"
                             ).read_bytes()
    assert "t0p-s3cret" not in out + err


def test_render_refuses_unresolvable_secret_before_writing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HQ_TURN_CREDENTIAL", raising=False)
    code, _, err = run(capsys, "render", "-f", str(EXAMPLE), "-o", str(tmp_path / "out"))
    assert code == 1
    assert "HQ_TURN_CREDENTIAL is not set" in err and "fleet.yaml:43:13:" in err
    assert not (tmp_path / "out").exists()


def test_effective_with_the_hosts_base(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "appsettings.json"
    base.write_text('{"WebRTC": {"iceServers": [{"url": "stun:a:1"}, {"url": "stun:b:2"},'
                    ' {"url": "stun:c:3"}]}, // installer\n}')
    code, out, _ = run(capsys, "effective", "-f", str(EXAMPLE), "--gateway", "hq/hq-gw1",
                       "--base", str(base), "--section", "WebRTC:iceServers")
    assert code == 0
    servers = json.loads(out)
    # two declared servers override indices 0 and 1; the base's third stays active
    assert [s["url"] for s in servers] == ["stun:stun.example.com:3478",
                                           "turns:turn.example.com:5349", "stun:c:3"]
    assert servers[1]["credential"] == "(secret env:HQ_TURN_CREDENTIAL)"


def test_unknown_gateway_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "effective", "-f", str(EXAMPLE), "--gateway", "nope")
    # a name the fleet lacks is a usage error (64), said once, without a "(usage)" tag
    assert code == 64 and "no gateway named 'nope'" in err and "hq/hq-gw1" in err
    assert "(usage)" not in err


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    for name in COMMANDS:
        with pytest.raises(SystemExit) as info:
            parser.parse_args([name, "--help"])
        assert info.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: gwctl {name}")


def test_rules_lists_and_documents(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules")
    assert code == 0 and "cors-wildcard-origin" in out
    code, out, _ = run(capsys, "rules", "cors-wildcard-origin")
    assert code == 0 and "PASS" in out and "FAIL" in out
    code, _, err = run(capsys, "rules", "cors-wildcard")
    assert code == 64 and "cors-wildcard-origin" in err


@pytest.mark.parametrize("command", ["validate", "check-versions"])
@pytest.mark.parametrize("output", ["json", "github"])
def test_unreadable_fleet_is_a_problem_in_machine_output(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str, output: str) -> None:
    missing = tmp_path / "missing.yaml"
    code, out, _ = run(capsys, command, "-f", str(missing), "--output", output)
    assert code == 1
    if output == "json":
        (problem,) = json.loads(out)["problems"]
        assert (problem["file"], problem["message"]) == (str(missing), "no such file")
    else:
        assert out.startswith(f"::error file={missing},title=input::no such file")


def test_lint_file_follows_the_gateways_dotnet_runtime(
        capsys: pytest.CaptureFixture[str]) -> None:
    # the same file: a null Mode stops a .NET 8 gateway, and is the default on .NET 10
    live = ROOT / "tests" / "examples" / "negative" / "dotnet8-null-values" / \
        "appsettings.Production.json"
    code, out, _ = run(capsys, "lint-file", str(live), "--output", "json")
    assert code == 1
    rules = {p["rule"] for p in json.loads(out)["problems"]}
    assert rules == {"route-query-parameter", "proxy-setting-value"}
    code, out, _ = run(capsys, "lint-file", str(live), "--dotnet-version", "10")
    assert code == 0, out

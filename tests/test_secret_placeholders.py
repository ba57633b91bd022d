"""Placeholder values behind secret references are refused where they are declared, and
``render -o`` warns when its output directory is shared."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from test_render import SITE, fleet_from

from gwctl.cli.main import main
from gwctl.errors import SecretError
from gwctl.fleet.secrets import SecretResolver, placeholder_reason
from gwctl.render.files import render_gateway

ICE = """      webrtc:
        ice_servers:
          - {url: "turns:t.example:5349", username: u, credential: "env:TURN"}
          - {url: "turns:t2.example:5349", username: u, credential: "file:turn.txt"}"""


@pytest.mark.parametrize("value", ["", " ", "\t\n", "...", "…", "changeme", "Change-Me",
                                   "CHANGE_ME", "<secret>", "<your TURN credential>",
                                   "TODO", "todo", "{{ turn_secret }}", "****", "xxx",
                                   "placeholder"])
def test_placeholders_are_recognised(value: str) -> None:
    assert placeholder_reason(value) is not None


@pytest.mark.parametrize("value", ["s3cret", "hand-secret-xyz", "a", "0", "todo-list-42",
                                   "x.y.z", "<", "changemeplease1"])
def test_real_values_pass(value: str) -> None:
    assert placeholder_reason(value) is None


@pytest.mark.parametrize(("env", "file", "ref", "line", "why"), [
    ({"TURN": "..."}, "ok\n", "env:TURN", 8, "'...' is a placeholder"),
    ({"TURN": ""}, "ok\n", "env:TURN", 8, "it is empty"),
    ({"TURN": "  "}, "ok\n", "env:TURN", 8, "it is only whitespace"),
    ({"TURN": "ok"}, "changeme\n", "file:turn.txt", 9, "'changeme' is a placeholder"),
    ({"TURN": "ok"}, "<secret>\n", "file:turn.txt", 9, "'<secret>' is a placeholder"),
    ({"TURN": "ok"}, "\n", "file:turn.txt", 9, "it is empty"),
])
def test_render_refuses_a_placeholder_naming_reference_file_and_line(
        tmp_path: Path, env: dict[str, str], file: str, ref: str, line: int,
        why: str) -> None:
    (tmp_path / "turn.txt").write_text(file)
    fleet = fleet_from(SITE.format(version="2025 R2", settings=ICE), tmp_path)
    with pytest.raises(SecretError) as info:
        render_gateway(fleet.gateway("g1"), SecretResolver(tmp_path, env))
    err = info.value
    assert (err.file, err.line, err.rule) == ("fleet.yaml", line, "secret-placeholder")
    assert f"secret reference {ref!r}" in err.message and why in err.message
    assert str(err).startswith(f"fleet.yaml:{line}:")


def test_render_cli_refuses_placeholder_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    fleet = tmp_path / "fleet.yaml"
    (tmp_path / "turn.txt").write_text("real-file-secret\n")
    fleet.write_text(SITE.format(version="2025 R2", settings=ICE).lstrip("\n"))
    monkeypatch.setenv("TURN", "changeme")
    out = tmp_path / "out"
    assert main(["render", "-f", str(fleet), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {fleet}:7:")
    assert "secret reference 'env:TURN': environment variable TURN holds no secret " \
           "('changeme' is a placeholder)" in err and "(secret-placeholder)" in err
    assert not out.exists()


def test_render_warns_about_a_shared_output_directory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    if os.name != "posix":
        pytest.skip("POSIX modes")
    fleet = tmp_path / "fleet.yaml"
    (tmp_path / "turn.txt").write_text("real-file-secret\n")
    fleet.write_text(SITE.format(version="2025 R2", settings=ICE).lstrip("\n"))
    monkeypatch.setenv("TURN", "real-env-secret")
    private = tmp_path / "private"
    assert main(["render", "-f", str(fleet), "-o", str(private)]) == 0
    err = capsys.readouterr().err
    assert "warning" not in err and "rendered 1 files for 1 gateways" in err
    for d in (private, private / "s", private / "s" / "g1"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    assert main(["render", "-f", str(fleet), "-o", str(shared)]) == 0
    err = capsys.readouterr().err
    assert (f"warning: {shared} is accessible to group and others (mode 0755): the rendered "
            "files hold secrets") in err
    assert str(shared / "s") not in err
    # masked output holds no secret: no warning
    assert main(["render", "-f", str(fleet), "-o", str(shared), "--mask-secrets"]) == 0
    assert "warning" not in capsys.readouterr().err

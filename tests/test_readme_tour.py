"""The README tour's commands for selections, saved plans and the PR/code-scanning
outputs, run as written (the simulator's `.sim/` stands for the test's own site) and
checked for the work they do."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import yaml
from test_deploy import CORS, ORIGIN, files, write_fleet

from gwctl.cli.main import main

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

ROOT = Path(__file__).resolve().parent.parent
MARKERS = ("--limit", "gwctl plan", "apply plan.json", "--output markdown", "--output sarif",
           "gwctl render", "gwctl import")


def tour_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    tour = text.split("## A five-minute tour", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    out = []
    for line in tour.splitlines():
        command = line.split("  #", 1)[0].strip()
        if command.startswith("export ") or (command.startswith("gwctl ")
                                             and any(m in command for m in MARKERS)):
            out.append(command)
    return out


def run_line(command: str, cwd: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """One README line: ``gwctl ARGS [> FILE]``, relative paths from `cwd`; ``export
    NAME=VALUE`` sets the variable for the lines after it (the test undoes it)."""
    args = shlex.split(command)
    if args[0] == "export":
        name, _, value = args[1].partition("=")
        os.environ[name] = value
        return 0, ""
    target = None
    if ">" in args:
        at = args.index(">")
        args, target = args[:at], args[at + 1]
    code = main(args[1:])
    out, err = capsys.readouterr()
    if target is not None:
        (cwd / target).write_text(out)
    return code, out + err


def test_the_tour_names_the_new_commands() -> None:
    commands = tour_commands()
    assert "export HQ_TURN_CREDENTIAL=tour-only-turn-secret" in commands
    assert any(c.startswith("gwctl plan ") for c in commands)
    assert "gwctl apply plan.json --yes" in commands
    assert any("--limit" in c and "--output markdown" in c for c in commands)
    assert any("--output sarif" in c for c in commands)


def test_tour_commands_do_their_work(sim_site: SimSite, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # the tour's working directory: examples/ from the repository, .sim/ is this site
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    sim = tmp_path / ".sim"
    sim.mkdir()
    write_fleet(sim_site, sim / "fleet.yaml", site_settings={"cors": CORS})
    (sim / "inventory.yml").write_bytes(sim_site.inventory_path.read_bytes())
    # empty (a placeholder render refuses) until the README's export line sets it; the
    # monkeypatch restores the variable after the test
    monkeypatch.setenv("HQ_TURN_CREDENTIAL", "")
    before = {n: files(sim_site, n) for n in ("demo-ms", "demo-gw1")}
    for command in tour_commands():
        code, out = run_line(command, tmp_path, capsys)
        if command.startswith("gwctl validate"):
            doc = json.loads((tmp_path / "gwctl.sarif").read_text())
            assert doc["version"] == "2.1.0" and code in (0, 1)
        elif command.startswith("gwctl diff"):
            assert code == 0, out
            md = (tmp_path / "comment.md").read_text()
            assert "<code>demo/demo-gw1</code>" in md and "demo/demo-ms" not in md
            assert {n: files(sim_site, n) for n in before} == before  # diff only reads
        elif command.startswith("gwctl plan"):
            assert code == 0, out
            plan = json.loads((tmp_path / "plan.json").read_text())
            assert [g["gateway"] for g in plan["gateways"]] == ["demo/demo-ms",
                                                                "demo/demo-gw1"]
        elif command == "gwctl apply plan.json --yes":
            assert code == 0, out
            for name in ("demo-ms", "demo-gw1"):
                assert ORIGIN.encode() in (files(sim_site, name)[
                    "appsettings.Production.json"] or b"")
        elif command.startswith("export "):
            assert code == 0
        elif command.startswith("gwctl render"):
            # the exported value reaches the rendered TURN credential, privately
            assert code == 0, out
            rendered = tmp_path / "out" / "hq" / "hq-gw1" / "appsettings.Production.json"
            assert os.environ["HQ_TURN_CREDENTIAL"].encode() in rendered.read_bytes()
            assert rendered.stat().st_mode & 0o077 == 0 and "warning" not in out
        elif command.startswith("gwctl import"):
            assert code == 0, out
            doc = yaml.safe_load((tmp_path / "imported.yaml").read_text())
            gws = doc["sites"]["demo"]["gateways"]
            assert {n: g["host"] for n, g in gws.items()} == {"demo-ms": "demo-ms",
                                                               "demo-gw1": "demo-gw1"}
            assert gws["demo-ms"]["colocated"] is True
        elif command.startswith("gwctl upgrade-plan"):
            assert code == 0, out
            assert out.startswith("#") and "demo" in out
        else:
            raise AssertionError(f"a README command this test does not check: {command}")

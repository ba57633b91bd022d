"""The CI templates under examples/ci/ (GitHub Actions, GitLab CI, Azure Pipelines): each
parses as YAML, and every gwctl command it runs is run here as written, in document
order, in a fleet repository laid out as the templates assume (fleet/, inventory.yml,
live/) whose inventory is a simulated site -- and did its work: annotations and SARIF,
lint findings, a plan file and its Markdown comment, the saved plan applied to the
hosts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from readme_lines import run_gwctl_line
from test_deploy import CORS, ORIGIN, files, write_fleet

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ("github-actions.yml", "gitlab-ci.yml", "azure-pipelines.yml")
#: where a template names a CI system's own directory, the repository's root stands in
CI_PATHS = {"$(Pipeline.Workspace)/plan/plan.json": "plan.json"}
#: the keys whose values are shell scripts, per CI system
SCRIPT_KEYS = {"run", "script", "after_script", "before_script"}

pytestmark = pytest.mark.timeout(120)


def _scripts(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in SCRIPT_KEYS:
                out += [value] if isinstance(value, str) else [v for v in value
                                                              if isinstance(v, str)]
            else:
                out += _scripts(value)
    elif isinstance(node, list):
        for item in node:
            out += _scripts(item)
    return out


def gwctl_commands(name: str) -> list[str]:
    doc = yaml.safe_load((ROOT / "examples" / "ci" / name).read_text())
    lines = [line.strip() for script in _scripts(doc) for line in script.splitlines()]
    return [line for line in lines if line.startswith("gwctl ")]


def run_line(command: str, cwd: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """A template's line, its CI system's own paths standing for the repository's root."""
    for ci_path, here in CI_PATHS.items():
        command = command.replace(ci_path, here)
    return run_gwctl_line(command, cwd, capsys)


def test_templates_parse_and_run_the_whole_flow() -> None:
    for name in TEMPLATES:
        commands = gwctl_commands(name)
        kinds = {c.split()[1] for c in commands}
        assert kinds == {"validate", "lint-file", "plan", "apply"}, name
        assert any("--output sarif" in c for c in commands), name
        assert any("-o plan.json --output markdown > plan.md" in c for c in commands), name
        assert any(c.startswith("gwctl apply") and "plan.json --yes" in c
                   for c in commands), name


@pytest.mark.parametrize("name", TEMPLATES)
def test_template_commands_do_their_work(name: str, sim_site: SimSite, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "fleet").mkdir()
    write_fleet(sim_site, tmp_path / "fleet" / "site.yaml", site_settings={"cors": CORS})
    (tmp_path / "inventory.yml").write_bytes(sim_site.inventory_path.read_bytes())
    (tmp_path / "live").mkdir()
    for live in ("logging.appsettings.Production.json", "nlog.config"):
        (tmp_path / "live" / live).write_bytes((ROOT / "examples" / "manual" / live)
                                               .read_bytes())
    before = files(sim_site, "demo-gw1")
    ran = []
    for command in gwctl_commands(name):
        code, out = run_line(command, tmp_path, capsys)
        ran.append(command.split()[1])
        if command.startswith("gwctl validate") and "sarif" in command:
            sarif = next(tmp_path.glob("**/gwctl.sarif"))
            doc = json.loads(sarif.read_text())
            assert doc["version"] == "2.1.0" and doc["runs"][0]["tool"]["driver"]["name"] \
                == "gwctl"
        elif command.startswith("gwctl validate"):
            assert code == 0, out
            assert "error" not in out.replace("0 error(s)", "")
        elif command.startswith("gwctl lint-file"):
            # the stock nlog.config's layout typo is found; a warning does not fail the job
            assert code == 0, out
            assert "live/nlog.config:15:57: [warning]" in out
        elif command.startswith("gwctl plan"):
            assert code == 0, out
            plan = json.loads((tmp_path / "plan.json").read_text())
            assert "demo/demo-gw1" in [g["gateway"] for g in plan["gateways"]]
            assert files(sim_site, "demo-gw1") == before  # planning only reads
            if "--output markdown" in command:
                assert "demo-gw1" in (tmp_path / "plan.md").read_text()
        elif command.startswith("gwctl apply"):
            assert code == 0, out
            assert ORIGIN.encode() in (files(sim_site, "demo-gw1")
                                       ["appsettings.Production.json"] or b"")
        else:
            raise AssertionError(f"a template command this test does not check: {command}")
    assert ran[-1] == "apply" and {"validate", "lint-file", "plan"} <= set(ran)

"""The outputs of `examples/` are pinned byte for byte.

A restructuring must not change what gwctl writes or reports. The golden files under
``tests/golden/examples/`` were produced by the CLI; regenerate them deliberately with
``GWCTL_REGOLD=1 pytest tests/test_examples_golden.py`` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gwctl.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden" / "examples"
FLEET = ROOT / "examples" / "fleet.yaml"
MANUAL = sorted(str(p) for p in (ROOT / "examples" / "manual").iterdir() if p.suffix != ".md")
GATEWAYS = ("hq-gw1", "hq-gw2", "branch-gw1")
# a fleet mid-upgrade: every version rule and the upgrade planner have something to say
UPGRADING = ROOT / "tests" / "golden" / "versions-fleet.yaml"

# command name -> CLI arguments whose stdout is pinned
COMMANDS: dict[str, list[str]] = {
    "validate.json": ["validate", "-f", str(FLEET), "--output", "json"],
    "lint-file.txt": ["lint-file", *MANUAL],
    "lint-file.json": ["lint-file", *MANUAL, "--output", "json"],
    "versions-validate.txt": ["validate", "-f", str(UPGRADING)],
    "versions-check.txt": ["check-versions", "-f", str(UPGRADING)],
    "versions-check.json": ["check-versions", "-f", str(UPGRADING), "--output", "json"],
    **{
        f"versions-upgrade-plan.{fmt}": [
            "upgrade-plan", "-f", str(UPGRADING), "--to", "2025 R2", "--output", fmt
        ]
        for fmt in ("text", "markdown", "json")
    },
    **{
        f"effective-{gw}.txt": ["effective", "-f", str(FLEET), "--gateway", gw]
        for gw in GATEWAYS
    },
}


def _check(name: str, actual: bytes) -> None:
    path = GOLDEN / name
    if os.environ.get("GWCTL_REGOLD"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual)
    assert path.exists(), f"no golden file {path}; run with GWCTL_REGOLD=1"
    assert actual == path.read_bytes(), f"{name} differs from its golden file"


@pytest.fixture(autouse=True)
def _turn_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HQ_TURN_CREDENTIAL", "golden-turn-secret")
    monkeypatch.chdir(ROOT)


def test_rendered_files_are_byte_identical(tmp_path: Path) -> None:
    assert main(["render", "-f", str(FLEET), "-o", str(tmp_path)]) == 0
    rendered = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert len(rendered) == 2 * len(GATEWAYS)
    for path in rendered:
        _check("render/" + path.relative_to(tmp_path).as_posix(), path.read_bytes())


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_reports_are_byte_identical(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(COMMANDS[name])
    out = capsys.readouterr().out.replace(str(ROOT), "<ROOT>")
    _check(name, out.encode())

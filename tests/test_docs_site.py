"""The documentation site builds with ``mkdocs build --strict`` (the README's command, run
as written in a copy of mkdocs.yml and docs/), with a page per rule generated from the
rule's own documentation and examples."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from readme_lines import pipeline_command

from gwctl.rules import all_rules

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(180)


def test_the_site_builds_strictly_with_a_page_per_rule(tmp_path: Path) -> None:
    pytest.importorskip("material", reason="mkdocs-material is in the test extra")
    command = pipeline_command("mkdocs ")
    assert command == "mkdocs build --strict"
    # docs/index.md ("Building this site") shows the same line, from the same directory
    index = (ROOT / "docs" / "index.md").read_text("utf-8").split("## Building this site", 1)[1]
    assert index.split("```sh\n", 1)[1].split("```", 1)[0].strip() == command
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    built = subprocess.run(shlex.split(command), cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=170)
    assert built.returncode == 0, built.stderr
    site = tmp_path / "site"
    index = (site / "rules" / "index.html").read_text()
    for rule in all_rules():
        page = site / "rules" / rule.ID / "index.html"
        assert page.is_file(), rule.ID
        assert f'href="{rule.ID}/"' in index
    # a rule's page carries its documentation and its examples, rendered
    html = (site / "rules" / "cors-wildcard-origin" / "index.html").read_text()
    assert "PASS (a development gateway):" in html and "FAIL (production is the default):" \
        in html
    assert "<code>" in html and "environment: development" in html
    assert "material" in (site / "index.html").read_text().lower()

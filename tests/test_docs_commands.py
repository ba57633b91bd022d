"""Every command block of the documentation has a test that runs it, from the directory the
documentation says, and checks what it did.

``RUNNERS`` names, per (document, section) holding a ``sh`` block, the tests that run its
lines; a new block, or a block moved to another section, fails here until its runner is
named. The make targets that cannot run inside the suite -- ``make test`` is the suite
and rebuilds the virtualenv, ``make lock`` and ``make audit`` ask PyPI -- are checked with
``make -n``: the commands make would run are the ones the README says.
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: (document, its section holding a ``sh`` block) -> the tests running the block's lines
RUNNERS: dict[tuple[str, str], tuple[str, ...]] = {
    ("README.md", "Two commands"): (
        "tests/test_demo.py",  # make demo's recipe, `python -m gwctl.demo`
        "tests/test_docs_commands.py"),  # make test, with make -n (it is the suite)
    ("README.md", "A five-minute tour"): ("tests/test_readme_tour_verbatim.py",),
    ("README.md", "Change control: windows, change references, audit, upgrades"): (
        "tests/test_readme_change_control.py",),
    ("README.md", "After apply: verify, probe, doctor"): ("tests/test_readme_after_apply.py",),
    ("README.md", "Host conditions: what decides whether the files take effect"): (
        "tests/test_host_facts.py",),
    ("README.md", "Ansible"): ("tests/test_ansible_role.py",),
    ("README.md", "Supply chain"): (
        "tests/test_supply_chain.py",  # make sbom run; the audit script, offline
        "tests/test_docs_commands.py"),  # make lock and make audit, with make -n
    ("README.md", "In pipelines: pre-commit, CI templates, completion, documentation site"): (
        "tests/test_pre_commit.py", "tests/test_completion.py", "tests/test_docs_site.py"),
    ("docs/index.md", "Building this site"): ("tests/test_docs_site.py",),
    ("docs/jea.md", "A least-privilege endpoint for gwctl (JEA)"): ("tests/test_jea.py",),
    ("docs/jea.md", "Connecting through the endpoint"): ("tests/test_psrp.py",),
    ("README.md", "The simulator (`gwctl sim`)"): ("tests/test_sim_kerberos.py",),
}


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
            *sorted(ROOT.glob("roles/*/README.md"))]


def sections_with_sh_blocks(path: Path) -> set[str]:
    found = set()
    heading = ""
    in_block = False
    for line in path.read_text("utf-8").splitlines():
        if line.startswith("```"):
            if not in_block and line.strip() == "```sh":
                found.add(heading)
            in_block = not in_block
        elif not in_block and (m := re.match(r"#+ (.*)", line)):
            heading = m[1].strip()
    return found


def test_every_command_block_names_the_tests_that_run_it() -> None:
    blocks = {(str(doc.relative_to(ROOT)), section)
              for doc in documents() for section in sections_with_sh_blocks(doc)}
    unnamed, gone = sorted(blocks - set(RUNNERS)), sorted(set(RUNNERS) - blocks)
    assert not unnamed and not gone, (
        f"command blocks without a runner in RUNNERS: {unnamed}; RUNNERS naming sections "
        f"with no command block (moved or renamed?): {gone}")
    for (doc, section), tests in RUNNERS.items():
        texts = [(ROOT / test).read_text("utf-8") for test in tests]
        # a runner reads the lines from the document (never a copy of them), directly or
        # through tests/readme_lines.py
        assert any(Path(doc).name in t or "readme_lines" in t for t in texts), (doc, section)


def dry_run(target: str, tmp_path: Path) -> list[str]:
    """The commands ``make TARGET`` would run from a checkout with no virtualenv yet."""
    # under `make test` the suite runs inside make: without its variables the dry run is
    # a top-level make, which prints no "Entering directory" lines
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    done = subprocess.run(["make", "-n", "--no-print-directory", "-C", str(ROOT), target,
                           f"VENV={tmp_path / '.venv'}"],
                          capture_output=True, text=True, timeout=60, check=True, env=env)
    bin_dir = f"{tmp_path / '.venv'}/bin/"
    return [line.replace(bin_dir, "").strip() for line in done.stdout.splitlines()
            if line.strip() and not line.lstrip().startswith(("#", "make:"))]


def readme_block(section: str) -> list[str]:
    text = (ROOT / "README.md").read_text("utf-8")
    block = text.split(f"## {section}\n", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_make_test_does_what_the_readme_says(tmp_path: Path) -> None:
    (demo, test) = readme_block("Two commands")
    assert demo.startswith("make demo ") and test.startswith("make test ")
    # "creates .venv, installs gwctl with its test extras, runs ruff, mypy, the
    # supply-chain checks and pytest"
    assert "ruff, mypy, the supply-chain checks (sbom, audit) and pytest" in test
    commands = dry_run("test", tmp_path)
    expected = [f"python3 -m venv {tmp_path / '.venv'}", "pip install --quiet -e '.[test]'",
                "ruff check .", "mypy", "python -W ignore::UserWarning -m cyclonedx_py "
                "requirements --pyproject pyproject.toml \\", "python .ci/audit.py", "pytest"]
    at = [commands.index(e) for e in expected]
    assert at == sorted(at), commands  # in this order
    assert not (tmp_path / ".venv").exists()  # make -n ran nothing
    # the bare `mypy` takes its paths from pyproject.toml: the package and, as the README
    # says below the block, the tests, both strict
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["mypy"]
    assert mypy["strict"] is True and mypy["files"] == ["gwctl", "tests"]
    # make demo: the recipe test_demo.py runs
    assert dry_run("demo", tmp_path)[-1] == "python -m gwctl.demo"
    assert '"-m", "gwctl.demo"' in (ROOT / "tests" / "test_demo.py").read_text("utf-8")


@pytest.mark.parametrize(("target", "does"), [
    ("lock", "pip-compile --quiet --generate-hashes"),
    ("audit", "python .ci/audit.py"),
    ("sbom", "-m cyclonedx_py requirements --pyproject pyproject.toml")])
def test_supply_chain_targets_do_what_the_readme_says(target: str, does: str,
                                                      tmp_path: Path) -> None:
    lines = {line.split()[1]: line for line in readme_block("Supply chain")}
    assert lines[target].startswith(f"make {target} ")
    if target in ("lock", "audit"):
        # they ask PyPI, which this suite cannot: the README says so beside them
        assert "needs PyPI" in lines[target], lines[target]
    assert any(does in c for c in dry_run(target, tmp_path))

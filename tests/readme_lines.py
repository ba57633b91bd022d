"""The commands of one README section's ``sh`` block, as written (comments removed), for
the tests that run them verbatim."""

from __future__ import annotations

import glob
import shlex
from pathlib import Path

import pytest

from gwctl.cli.main import main

ROOT = Path(__file__).resolve().parent.parent


def section_commands(heading: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    body = text.split(f"## {heading}", 1)[1].split("\n## ", 1)[0]
    block = body.split("```sh", 1)[1].split("```", 1)[0]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


PIPELINES = "In pipelines: pre-commit, CI templates, completion, documentation site"


def pipeline_command(starts: str) -> str:
    (command,) = [c for c in section_commands(PIPELINES) if c.startswith(starts)]
    return command


def run_gwctl_line(command: str, cwd: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``gwctl ARGS [> FILE]`` in-process, as a shell would run it from `cwd`: globs
    expanded, stdout written to FILE (its directory made, as ``mkdir -p`` would)."""
    args = shlex.split(command)
    target = None
    if ">" in args:
        at = args.index(">")
        args, target = args[:at], args[at + 1]
    expanded: list[str] = []
    for arg in args[1:]:
        matches = sorted(glob.glob(arg, root_dir=cwd)) if any(c in arg for c in "*?[") else []
        expanded += matches or [arg]
    code = main(expanded)
    out, err = capsys.readouterr()
    if target is not None:
        (cwd / target).parent.mkdir(parents=True, exist_ok=True)
        (cwd / target).write_text(out)
    return code, out + err

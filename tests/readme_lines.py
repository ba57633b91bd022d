"""The commands of one README section's ``sh`` block, as written (comments removed), for
the tests that run them verbatim."""

from __future__ import annotations

import glob
import os
import re
import shlex
import subprocess
import sys
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


def as_shell(line: str) -> str:
    """The README's ``[--opt value ...]`` notation is optional arguments: pass them."""
    return re.sub(r"\[(--[^\]]*)\]", r"\1", line)


class ShellSession:
    """README lines run as a user runs them: each through bash from `cwd`, in order, with
    this checkout's gwctl (whatever is installed) and the virtualenv's tools on PATH; an
    ``export NAME=VALUE`` line sets the session's environment for the lines after it."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.env = dict(os.environ)
        self.env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{self.env['PATH']}"
        self.env["PYTHONPATH"] = str(ROOT)
        self.env.pop("NO_COLOR", None)

    def run(self, line: str) -> tuple[int, str]:
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            self.env[name] = value
            return 0, ""
        done = subprocess.run(["bash", "-c", as_shell(line)], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=180,
                              stdin=subprocess.DEVNULL)
        return done.returncode, done.stdout + done.stderr


#: the files gwctl owns in a simulated gateway's install directory
HOST_FILES = ("appsettings.Production.json", "nlog.config")


def sim_host_files(state: Path, host: str) -> dict[str, bytes | None]:
    """The files gwctl owns on one host of the simulator whose state directory is `state`
    (None: absent)."""
    d = state / "hosts" / host / "C" / "Program Files" / "Milestone" / "XProtect API Gateway"
    return {n: (d / n).read_bytes() if (d / n).exists() else None for n in HOST_FILES}

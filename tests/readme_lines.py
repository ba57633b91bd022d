"""The commands of one README section's ``sh`` block, as written (comments removed), for
the tests that run them verbatim."""

from __future__ import annotations

from pathlib import Path

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

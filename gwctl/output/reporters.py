"""Problem reporters: text (yamllint's parsable form), JSON (stable, documented), GitHub
annotations, SARIF 2.1.0 (code scanning, `gwctl.output.sarif`) and Markdown (a
pull-request comment). Plans have their own reporters (`gwctl.output.plans`).

JSON output (``--output json``) is a contract other tools rely on::

    {"version": 1,
     "problems": [{"rule", "level", "file", "line", "column", "path", "message",
                   ["subject"], ["suppressed", "reason"]}],
     "summary": {"errors": N, "warnings": N, "suppressed": N}}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from gwctl.errors import shown_file
from gwctl.output.redact import scrub
from gwctl.problems import Level, Problem


def summary(problems: Sequence[Problem]) -> dict[str, int]:
    live = [p for p in problems if p.suppressed is None]
    return {
        "errors": sum(p.level is Level.ERROR for p in live),
        "warnings": sum(p.level is Level.WARNING for p in live),
        "suppressed": len(problems) - len(live),
    }


def _where(p: Problem) -> str:
    parts = [shown_file(p.file) if p.file else "<fleet>"]
    if p.line is not None:
        parts.append(str(p.line))
        if p.column is not None:
            parts.append(str(p.column))
    return ":".join(parts)


def report_text(problems: Sequence[Problem], out: TextIO, *, ok_message: str = "") -> None:
    for p in problems:
        if p.suppressed is not None:
            continue
        subject = f" [{p.subject}]" if p.subject else ""
        out.write(f"{_where(p)}: [{p.level}] {scrub(p.message)}{subject} ({p.rule})\n")
    s = summary(problems)
    if s["errors"] or s["warnings"]:
        out.write(f"{s['errors']} error(s), {s['warnings']} warning(s)"
                  + (f", {s['suppressed']} suppressed" if s["suppressed"] else "") + "\n")
    elif ok_message:
        out.write(ok_message + (f" ({s['suppressed']} suppressed)" if s["suppressed"] else "")
                  + "\n")


def json_document(problems: Sequence[Problem], **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"version": 1, "problems": [_problem_json(p) for p in problems],
                           "summary": summary(problems)}
    doc.update(extra)
    return doc


def _problem_json(p: Problem) -> dict[str, Any]:
    # messages quote the files they judge, and a live file holds secrets
    return {**p.to_json(), "message": scrub(p.message)}


def report_json(problems: Sequence[Problem], out: TextIO, **extra: Any) -> None:
    out.write(json.dumps(json_document(problems, **extra), indent=2) + "\n")


def _gh_escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def report_github(problems: Sequence[Problem], out: TextIO) -> None:
    """GitHub Actions workflow commands: annotations on the pull request's files."""
    for p in problems:
        if p.suppressed is not None:
            continue
        kind = "error" if p.level is Level.ERROR else "warning"
        props = [f"title={_gh_escape(p.rule, prop=True)}"]
        if p.file:
            props.insert(0, f"file={_gh_escape(p.file, prop=True)}")
        if p.line is not None:
            props.append(f"line={p.line}")
        if p.column is not None:
            props.append(f"col={p.column}")
        out.write(f"::{kind} {','.join(props)}::{_gh_escape(scrub(p.message))}\n")


def md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def report_markdown(problems: Sequence[Problem], out: TextIO, *, ok_message: str = "") -> None:
    """A table for a pull-request comment; suppressed findings are listed apart."""
    s = summary(problems)
    live = [p for p in problems if p.suppressed is None]
    if not live:
        out.write(f"### gwctl: {ok_message or 'no problems'}"
                  + (f" ({s['suppressed']} suppressed)" if s["suppressed"] else "") + "\n")
        return
    out.write(f"### gwctl: {s['errors']} error(s), {s['warnings']} warning(s)"
              + (f", {s['suppressed']} suppressed" if s["suppressed"] else "") + "\n\n")
    out.write("| | where | rule | message |\n|---|---|---|---|\n")
    for p in live:
        icon = "❌" if p.level is Level.ERROR else "⚠️"
        subject = f" [{p.subject}]" if p.subject else ""
        out.write(f"| {icon} | `{md_cell(_where(p))}` | `{p.rule}` | "
                  f"{md_cell(p.message + subject)} |\n")


def _report_sarif(problems: Sequence[Problem], out: TextIO) -> None:
    from gwctl.output.sarif import report_sarif

    report_sarif(problems, out)


#: writes problems to a stream; the third argument is what text prints when nothing is wrong
Reporter = Callable[[Sequence[Problem], TextIO, str], None]

#: ``--output`` format -> its reporter, in the order the choices are listed
REPORTERS: dict[str, Reporter] = {
    "text": lambda problems, out, ok_message: report_text(problems, out, ok_message=ok_message),
    "json": lambda problems, out, _ok_message: report_json(problems, out),
    "github": lambda problems, out, _ok_message: report_github(problems, out),
    "sarif": lambda problems, out, _ok_message: _report_sarif(problems, out),
    "markdown": lambda problems, out, ok_message: report_markdown(problems, out,
                                                                  ok_message=ok_message),
}
FORMATS = tuple(REPORTERS)

"""Options and presentation shared by several commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from gwctl.errors import EXIT_FAILED, EXIT_OK, InputError
from gwctl.output.reporters import FORMATS, REPORTERS
from gwctl.problems import Level, Problem, has_errors

if TYPE_CHECKING:
    from gwctl.output.sarif import RuleMeta


def add_fleet_option(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument("-f", "--fleet", required=required, metavar="PATH",
                        help="fleet YAML file, or a directory of *.yaml files merged in "
                             "file-name order")


def add_output_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", choices=FORMATS, default="text",
                        help="report format: text, json (stable), github (annotations), "
                             "sarif (code scanning) or markdown (a pull-request comment)")


def report(problems: Sequence[Problem], output: str, *, ok_message: str) -> int:
    ordered = sorted(problems, key=Problem.sort_key)
    if output == "sarif":
        # SARIF describes each rule: its documentation comes from the rules themselves
        from gwctl.output.sarif import report_sarif

        report_sarif(ordered, sys.stdout, rule_meta())
    else:
        REPORTERS[output](ordered, sys.stdout, ok_message)
    return EXIT_FAILED if has_errors(list(ordered)) else EXIT_OK


def report_unreadable(exc: InputError, output: str) -> int:
    """An input that could not be read at all (syntax, encoding, size): in text output the
    one-line error as for any command, in json and github output one problem, so that the
    tools reading those formats see it (an annotation on the file and line)."""
    if output == "text":
        raise exc
    problem = Problem(exc.rule or "input", Level.ERROR, exc.message, file=exc.file,
                      line=exc.line, column=exc.column)
    return report([problem], output, ok_message="")


def rule_meta() -> dict[str, RuleMeta]:
    """Every rule's id, level, summary and documentation, for SARIF."""
    import textwrap

    from gwctl.output.sarif import RuleMeta
    from gwctl.rules import all_rules, rule_doc

    out = {}
    for r in all_rules():
        summary = textwrap.dedent(r.__doc__ or "").strip().partition("\n")[0]
        out[r.ID] = RuleMeta(r.ID, str(r.LEVEL), summary, rule_doc(r.ID))
    return out

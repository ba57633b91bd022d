"""Options and presentation shared by several commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from gwctl.errors import EXIT_FAILED, EXIT_OK
from gwctl.output.reporters import FORMATS, REPORTERS
from gwctl.problems import Problem, has_errors


def add_fleet_option(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument("-f", "--fleet", required=required, metavar="PATH",
                        help="fleet YAML file, or a directory of *.yaml files merged in "
                             "file-name order")


def add_output_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", choices=FORMATS, default="text",
                        help="report format (json is stable; github prints annotations)")


def report(problems: Sequence[Problem], output: str, *, ok_message: str) -> int:
    ordered = sorted(problems, key=Problem.sort_key)
    REPORTERS[output](ordered, sys.stdout, ok_message)
    return EXIT_FAILED if has_errors(list(ordered)) else EXIT_OK

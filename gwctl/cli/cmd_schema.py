"""Print the fleet file's JSON Schema (draft 2020-12), for editors and CI.

Editors that use yaml-language-server pick it up from a first-line comment:
``# yaml-language-server: $schema=fleet.schema.json``."""

from __future__ import annotations

import argparse
import sys


def register(p: argparse.ArgumentParser) -> None:
    del p


def execute(ns: argparse.Namespace) -> int:
    from gwctl.fleet.schema import schema_text

    sys.stdout.write(schema_text())
    return 0

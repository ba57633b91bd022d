"""List the semantic rules (id, level, summary), or print one rule's documentation with
its PASS and FAIL examples. Configure rules per fleet under `rules:` (``rule-id: false``
disables one, ``rule-id: {level: warning}`` changes its level) or suppress one finding
with a YAML comment on its line: ``# gwctl: disable=rule-id -- reason``."""

from __future__ import annotations

import argparse
import sys


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("rule", nargs="?", metavar="ID", help="show this rule's documentation")


def execute(ns: argparse.Namespace) -> int:
    from gwctl.rules import all_rules, get_rule, rule_doc

    if ns.rule:
        get_rule(ns.rule)
        sys.stdout.write(rule_doc(ns.rule).rstrip() + "\n")
        return 0
    rules = list(all_rules())
    width = max(len(r.ID) for r in rules)
    for r in rules:
        summary = (r.__doc__ or "").strip().splitlines()[0] if r.__doc__ else ""
        sys.stdout.write(f"{r.ID:<{width}}  {r.LEVEL!s:<7}  {summary}\n")
    return 0

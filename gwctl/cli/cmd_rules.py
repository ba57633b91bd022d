"""List the semantic rules (id, level, summary), or print one rule's documentation with
its PASS and FAIL examples (plain text; literals bold on a colour terminal, NO_COLOR
respected). Configure rules per fleet under `rules:` (``rule-id: false``
disables one, ``rule-id: {level: warning}`` changes its level) or suppress one finding
with a YAML comment on its line: ``# gwctl: disable=rule-id -- reason``."""

from __future__ import annotations

import argparse
import sys


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("rule", nargs="?", metavar="ID", help="show this rule's documentation")


def execute(ns: argparse.Namespace) -> int:
    from gwctl.output.plans import use_colour
    from gwctl.output.ruledoc import for_terminal
    from gwctl.rules import all_rules, get_rule, rule_doc

    colour = use_colour(sys.stdout)
    if ns.rule:
        get_rule(ns.rule)
        sys.stdout.write(for_terminal(rule_doc(ns.rule), colour=colour))
        return 0
    rules = list(all_rules())
    width = max(len(r.ID) for r in rules)
    for r in rules:
        summary = (r.__doc__ or "").strip().splitlines()[0] if r.__doc__ else ""
        sys.stdout.write(f"{r.ID:<{width}}  {r.LEVEL!s:<7}  "
                         f"{for_terminal(summary, colour=colour)}")
    return 0

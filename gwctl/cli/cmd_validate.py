"""Check a fleet: its structure against the JSON Schema, then every semantic rule.

Problems are printed as ``file:line:col: [level] message (rule)``. Exit 1 when any
error remains (warnings alone exit 0)."""

from __future__ import annotations

import argparse

from gwctl.cli.common import add_fleet_option, add_output_option, report, report_unreadable
from gwctl.errors import InputError


def register(p: argparse.ArgumentParser) -> None:
    add_fleet_option(p)
    add_output_option(p)


def execute(ns: argparse.Namespace) -> int:
    from gwctl import api
    try:
        result = api.validate(ns.fleet)
    except InputError as exc:
        return report_unreadable(exc, ns.output)
    count = sum(1 for _ in result.fleet.gateways()) if result.fleet else 0
    return report(result.problems, ns.output, ok_message=f"{ns.fleet}: ok ({count} gateways)")

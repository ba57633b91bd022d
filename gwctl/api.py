"""The library API: what the CLI, the Ansible action plugin and pipelines call.

Front ends parse their inputs and present results; everything else happens here or in
the modules this wires together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gwctl.fleet.model import Fleet, Gateway, build_fleet
from gwctl.fleet.schema import validate_source
from gwctl.fleet.source import FleetSource, load_fleet_source
from gwctl.netjson.config import Effective, flatten_value
from gwctl.problems import Problem, has_errors
from gwctl.render.appsettings import render_appsettings
from gwctl.render.bases import base_config as base_config  # library users call api.base_config


@dataclass
class LoadResult:
    fleet: Fleet | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.fleet is not None and not has_errors(self.problems)


def load(path: str | Path) -> LoadResult:
    """Read, schema-check and build a fleet. Unreadable input raises `InputError`."""
    return _build(load_fleet_source(path))


def _build(source: FleetSource) -> LoadResult:
    problems = validate_source(source)
    if problems:
        return LoadResult(None, problems)
    fleet, build_problems = build_fleet(source)
    return LoadResult(fleet, build_problems)


def validate(path: str | Path) -> LoadResult:
    """`load` plus every semantic rule. A schema-invalid fleet still gets the rules'
    judgement on the parts the schema accepted (`gwctl.fleet.salvage`); its `fleet`
    stays None, so nothing renders or deploys from it."""
    return validate_document(load_fleet_source(path))


def validate_document(source: FleetSource) -> LoadResult:
    """`validate` of a fleet already read (e.g. files about to be written)."""
    from gwctl.rules.runner import validate_fleet

    result = _build(source)
    if result.fleet is not None:
        result.problems.extend(validate_fleet(result.fleet))
    else:
        result.problems.extend(_judge_what_loaded(source, result.problems))
    result.problems.sort(key=Problem.sort_key)
    return result


def _judge_what_loaded(source: FleetSource, schema_problems: list[Problem]) -> list[Problem]:
    from gwctl.fleet.salvage import related, salvage
    from gwctl.rules.runner import validate_fleet

    salvaged = salvage(source, schema_problems)
    if salvaged is None:
        return []
    fleet, problems = build_fleet(salvaged.source)
    if fleet is not None:
        problems += validate_fleet(fleet)
    return [p for p in problems if not related(p, salvaged.removed)]


def effective(fleet: Fleet, gw: Gateway, base_text: str | None = None,
              base_name: str | None = None) -> Effective:
    """What the gateway runs with: base ``appsettings.json`` + the rendered override."""
    override = flatten_value(render_appsettings(gw), name="appsettings.Production.json")
    return Effective([base_config(fleet, gw, base_text, base_name), override])

"""Reading a fleet: one YAML file, or a directory of them merged in a documented order.

A directory is read as every ``*.yaml`` / ``*.yml`` file directly inside it, in
lexical order of file name; each file is deep-merged over the ones before it with the
fleet merge strategy (mappings merge key by key, lists and scalars are replaced). Each
value remembers the file and line that supplied it, so problems point there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepmerge import Merger

from gwctl.errors import InputError
from gwctl.fleet.yaml_reader import Suppression, YamlSource, load_yaml
from gwctl.problems import Location


def _merge_dicts(config: Merger, path: list[str], base: dict[str, Any],
                 nxt: dict[str, Any]) -> dict[str, Any]:
    # a new mapping instead of deepmerge's in-place update: layers share their unchanged
    # subtrees (1,000 gateways do not each get a deep copy of their site's routes), and
    # no layer is ever modified by merging another over it
    out = dict(base)
    for key, value in nxt.items():
        out[key] = config.value_strategy([*path, key], base[key], value) if key in base \
            else value
    return out


#: the one merge strategy of the fleet model, used for files and for settings layers:
#: mappings merge key by key, lists and scalars are replaced
FLEET_MERGER = Merger([(dict, [_merge_dicts]), (list, ["override"])], ["override"],
                      ["override"])


def merge(base: Any, override: Any) -> Any:
    """Deep merge; neither argument is modified. Results share unchanged subtrees, so
    treat merged data as read-only."""
    return FLEET_MERGER.merge(base, override)


@dataclass
class FleetSource:
    """The merged fleet document and where each of its values was written."""

    data: dict[str, Any]
    files: list[YamlSource]
    base_dir: Path

    def position(self, pointer: str) -> Location | None:
        """Where `pointer` was written; the last file that wrote it wins, as in the merge."""
        for src in reversed(self.files):
            pos = src.positions.get(pointer)
            if pos is not None:
                return Location(src.file, pos[0], pos[1])
        return None

    def locate(self, pointer: str) -> Location:
        """`position` of `pointer` or of its nearest written ancestor."""
        p = pointer
        while True:
            loc = self.position(p)
            if loc is not None:
                return loc
            if not p:
                first = self.files[0].file if self.files else None
                return Location(first, 1, 1)
            p = p.rsplit("/", 1)[0]

    def suppression_at(self, loc: Location) -> Suppression | None:
        """The inline directive that applies to the line of `loc`, if any."""
        for src in self.files:
            if src.file == loc.file and loc.line is not None:
                return src.suppressions.get(loc.line)
        return None


def load_fleet_source(path: str | Path) -> FleetSource:
    p = Path(path)
    if p.is_dir():
        files = sorted(
            [f for f in p.iterdir() if f.suffix in (".yaml", ".yml") and f.is_file()],
            key=lambda f: f.name,
        )
        if not files:
            raise InputError("directory holds no *.yaml or *.yml files", file=str(p))
        base_dir = p
    else:
        files = [p]
        base_dir = p.parent
    source = combine([load_yaml(str(f)) for f in files], base_dir)
    if not source.data:
        raise InputError("the fleet is empty: no sites", file=str(p), rule="schema")
    return source


def combine(sources: list[YamlSource], base_dir: Path) -> FleetSource:
    """Merge loaded files in the given order into one fleet document."""
    data: dict[str, Any] = {}
    for src in sources:
        if src.data is None:
            continue
        if not isinstance(src.data, dict):
            raise InputError(
                "a fleet file must be a mapping (sites:, defaults:, ...)",
                file=src.file, line=1, column=1, rule="schema",
            )
        data = merge(data, src.data)
    return FleetSource(data, sources, base_dir)

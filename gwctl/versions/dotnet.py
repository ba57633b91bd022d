"""Which .NET runtime an API Gateway release runs on (data in ``gwctl/data/dotnet.yaml``).

The runtime decides what a JSON ``null`` and ``[]`` become in the configuration
(`gwctl.netjson.runtime`), so rules and the simulator ask here for a release's runtime
unless the fleet (``dotnet_version``) or ``gwctl lint-file --dotnet-version`` says
otherwise. Milestone does not publish the runtime of a release: the table's rows are
assumptions, each with its reasoning, and `runtime_for` is only a default.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, Final

import yaml

from gwctl.errors import InputError
from gwctl.netjson import runtime as dotnet
from gwctl.versions.release import Version

__all__ = ["DATA_FILE", "RuntimeRow", "load_runtimes", "runtime_for", "runtimes"]

DATA_FILE: Final = "gwctl/data/dotnet.yaml"

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class RuntimeRow:
    """From release `since` on (until the next row), the gateway runs .NET `dotnet`."""

    since: Version
    dotnet: int
    source: str


def _error(index: int, message: str) -> InputError:
    return InputError(f"runtime table row {index + 1}: {message}", file=DATA_FILE)


def _row(index: int, row: object) -> RuntimeRow:
    if not isinstance(row, dict) or set(row) != {"since", "dotnet", "source"}:
        raise _error(index, "expected exactly the keys since, dotnet, source")
    since, major, source = row["since"], row["dotnet"], row["source"]
    if not isinstance(since, str):
        raise _error(index, f"since must be a quoted 'YYYY Rn' string, got {since!r}")
    version = Version.parse(since)
    if str(version) != since or version.build is not None:
        raise _error(index, f"since must be written '{version}', not {since!r}")
    if type(major) is not int or major not in dotnet.SUPPORTED:
        raise _error(index, f"dotnet must be one of {list(dotnet.SUPPORTED)}, got {major!r}")
    if not isinstance(source, str) or not source.strip():
        raise _error(index, "source must be a non-empty string")
    return RuntimeRow(version, major, " ".join(source.split()))


def load_runtimes(text: str) -> tuple[RuntimeRow, ...]:
    """Parse and validate a runtime table; rows must be in strictly increasing release order."""
    try:
        doc = yaml.load(text, Loader=_Loader)  # _Loader is a safe loader
    except yaml.YAMLError as exc:
        raise InputError(f"runtime table is not valid YAML: {exc}", file=DATA_FILE) from None
    if not isinstance(doc, dict) or set(doc) != {"runtimes"} or not isinstance(
            doc["runtimes"], list) or not doc["runtimes"]:
        raise InputError("runtime table must be a mapping with one key, 'runtimes' (a "
                         "non-empty list)", file=DATA_FILE)
    rows = tuple(_row(i, r) for i, r in enumerate(doc["runtimes"]))
    for i in range(1, len(rows)):
        if rows[i].since <= rows[i - 1].since:
            raise _error(i, f"since {rows[i].since} is not after the previous row's "
                            f"{rows[i - 1].since}")
    return rows


@lru_cache(maxsize=1)
def runtimes() -> tuple[RuntimeRow, ...]:
    """The packaged table, in release order."""
    text = (resources.files("gwctl") / "data" / "dotnet.yaml").read_text("utf-8")
    return load_runtimes(text)


@lru_cache(maxsize=64)
def runtime_for(version: Version) -> int:
    """The .NET major version a gateway of release `version` runs (by default).

    A release before the first row (no API Gateway GA yet) gets the first row's runtime:
    there is nothing better to say, and version rules report such releases anyway.
    """
    rows = runtimes()
    key = version.release_key
    found = rows[0].dotnet
    for row in rows:
        if row.since.release_key <= key:
            found = row.dotnet
    return found

"""IIS application pools of a directory host.

A host says where its pools live through `AppPoolHook`: `FileAppPools` keeps them in
``<root>/.host/apppools.json`` (tests, the local transport), the simulator recycles its
emulated gateway in-process, and a host without either answers ``unsupported``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from gwctl.errors import OperationError
from gwctl.ops.hostfiles import atomic_write, utc_text
from gwctl.ops.params import Params, bad

__all__ = ["AppPoolHook", "FileAppPools", "NoAppPools", "pool_name"]

_POOL_NAME_BAD = re.compile(r'["\x00-\x1f]')


class AppPoolHook(Protocol):
    """Where a directory-backed host keeps its IIS application pools."""

    def recycle(self, name: str) -> dict[str, Any]:
        """Recycle (or start, when stopped) pool `name`: ``{name, state, recycled_at}``."""

    def state(self, name: str) -> dict[str, Any]:
        """State of pool `name`: ``{name, state, last_recycle}``."""


class FileAppPools:
    """App pools kept in ``<root>/.host/apppools.json``.

    Format: ``{"<pool name>": {"state": "Started", "last_recycle": "<utc>" | null}}``.
    A pool not listed does not exist (code ``not_found``), as on IIS.
    """

    def __init__(self, root: Path, clock: Callable[[], datetime] | None = None) -> None:
        self.file = root / ".host" / "apppools.json"
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            pools = json.loads(self.file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise OperationError(f"{self.file} is unreadable: {exc}", code="io_error") from exc
        if not isinstance(pools, dict):
            raise OperationError(f"{self.file} is not a JSON object", code="io_error")
        return pools

    def _save(self, pools: Mapping[str, Any]) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.file, json.dumps(pools, indent=2, sort_keys=True).encode("utf-8"))

    @staticmethod
    def _find(pools: Mapping[str, Any], name: str) -> str:
        for known in pools:
            if known.casefold() == name.casefold():
                return known
        raise OperationError(f"application pool {name!r} does not exist", code="not_found")

    def ensure(self, name: str, state: str = "Started") -> None:
        """Declare a pool (host set-up for tests and the simulator)."""
        with self._lock:
            pools = self._load()
            pools.setdefault(name, {"state": state, "last_recycle": None})
            self._save(pools)

    def recycle(self, name: str) -> dict[str, Any]:
        with self._lock:
            pools = self._load()
            known = self._find(pools, name)
            now = utc_text(self._clock())
            pools[known] = {"state": "Started", "last_recycle": now}
            self._save(pools)
        return {"name": known, "state": "Started", "recycled_at": now}

    def state(self, name: str) -> dict[str, Any]:
        with self._lock:
            pools = self._load()
        known = self._find(pools, name)
        entry = pools[known]
        return {
            "name": known,
            "state": entry.get("state", "Unknown"),
            "last_recycle": entry.get("last_recycle"),
        }


class NoAppPools:
    """The pools of a host that has no app pool manager: every call is ``unsupported``."""

    def recycle(self, name: str) -> dict[str, Any]:
        raise OperationError("this host has no app pool manager", code="unsupported")

    def state(self, name: str) -> dict[str, Any]:
        raise OperationError("this host has no app pool manager", code="unsupported")


def pool_name(p: Params) -> str:
    """The ``name`` parameter of the app pool operations, checked."""
    name = p.text("name")
    # IIS refuses these in pool names, and appcmd's /apppool.name: argument cannot carry them
    if _POOL_NAME_BAD.search(name):
        raise bad(f"{p.op}: invalid application pool name {name!r}")
    return name

"""Parameter checking of the directory-host operations (error code ``bad_params``).

Each operation accepts a fixed set of JSON parameters (docs/remote-operations.md), the
same set its PowerShell script declares; `Params` gives typed access and refuses
anything else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gwctl.errors import OperationError

__all__ = ["PARAM_KEYS", "Params", "bad"]

#: parameters each operation accepts; anything else is refused, because a misspelt
#: optional guard (say ``expected_sha`` for ``expected_sha256``) would silently disable it
PARAM_KEYS: dict[str, frozenset[str]] = {
    "ping": frozenset(),
    "read_file": frozenset({"path"}),
    "stat": frozenset({"paths", "content", "host"}),
    "write_file": frozenset({"path", "sha256", "expected_sha256"}),
    "backup": frozenset({"path", "backup_dir", "keep", "backup_id", "expected_sha256"}),
    "list_backups": frozenset({"path", "backup_dir"}),
    "restore": frozenset({"path", "backup_dir", "backup_id"}),
    "recycle_app_pool": frozenset({"name"}),
    "app_pool_state": frozenset({"name"}),
    "read_versions": frozenset({"install_dir", "server_config"}),
    "read_host": frozenset({"install_dir", "pool", "log_dir"}),
    "read_iis_log": frozenset({"log_dir", "max_bytes"}),
    "lock_acquire": frozenset({"path", "owner", "ttl_seconds", "token", "take_over"}),
    "lock_release": frozenset({"path", "token"}),
    "write_event": frozenset({"event_id", "entry_type", "message"}),
    "read_events": frozenset({"sources", "since_minutes", "max_events"}),
}

_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")


def bad(message: str) -> OperationError:
    """The contract's error for parameters an operation cannot use."""
    return OperationError(message, code="bad_params")


class Params:
    """Typed access to one operation's JSON parameters (code ``bad_params``)."""

    def __init__(self, op: str, raw: Mapping[str, Any]) -> None:
        unknown = sorted(set(raw) - PARAM_KEYS[op])
        if unknown:
            raise bad(f"{op}: unknown parameter(s) {', '.join(unknown)}")
        self.op = op
        self.raw = raw

    def _get(self, key: str, required: bool) -> Any:
        if required and key not in self.raw:
            raise bad(f"{self.op}: parameter {key!r} is required")
        return self.raw.get(key)

    def text(self, key: str) -> str:
        value = self._get(key, True)
        if not isinstance(value, str) or not value:
            raise bad(f"{self.op}: parameter {key!r} must be a non-empty string")
        return value

    def optional_text(self, key: str, *, required: bool = False) -> str | None:
        value = self._get(key, required)
        return None if value is None else self.text(key)

    def flag(self, key: str) -> bool:
        value = self._get(key, False)
        if value is not None and not isinstance(value, bool):
            raise bad(f"{self.op}: parameter {key!r} must be true or false")
        return bool(value)

    def integer(self, key: str, low: int, high: int) -> int:
        value = self._get(key, True)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise bad(f"{self.op}: parameter {key!r} must be an integer in {low}..{high}")
        return value

    def number(self, key: str, high: float) -> float:
        value = self._get(key, True)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= high:
            raise bad(f"{self.op}: parameter {key!r} must be a number in (0, {high}]")
        return float(value)

    def text_list(self, key: str) -> list[str]:
        value = self._get(key, True)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise bad(f"{self.op}: parameter {key!r} must be a list of non-empty strings")
        return value

    def digest(self, key: str) -> str:
        value = self.text(key)
        if not _DIGEST.match(value):
            raise bad(f"{self.op}: parameter {key!r} must be a SHA-256 hex digest")
        return value.lower()

    def holder(self, key: str) -> tuple[str, str] | None:
        """An optional ``{owner, acquired_at}`` naming a lock holder, as ``locked`` reports it."""
        value = self._get(key, False)
        if value is None:
            return None
        if not isinstance(value, dict) or set(value) != {"owner", "acquired_at"} or not all(
                isinstance(v, str) and v for v in value.values()):
            raise bad(f"{self.op}: parameter {key!r} must be {{owner, acquired_at}} of a holder")
        return value["owner"], value["acquired_at"]

    def expected_digest(self, key: str, *, required: bool = True) -> str | None:
        value = self._get(key, required)
        if value is None or value == "absent":
            return None if value is None else "absent"
        return self.digest(key)

"""The host lock of a directory host: a JSON lock file created exclusively.

The record is ``{token, owner, acquired_at, expires_at}``; an expired lock may be taken
over, an unreadable one (being written, or damaged) counts as live for a grace period
after its mtime. Whatever the file says, a lock lives at most `MAX_TTL_SECONDS` from the
earlier of its ``acquired_at`` and its mtime, so a damaged or planted far-future
``expires_at`` cannot block a host for ever. A caller that has proven the holder dead
(gwctl: same controller, process gone) names it in ``take_over`` and gets the lock.
Only the holder of the token releases it.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gwctl.errors import OperationError
from gwctl.ops.hostfiles import create_new, parse_utc, utc_text
from gwctl.ops.hostkey import host_key, mac, protect
from gwctl.ops.params import Params, bad

__all__ = ["lock_acquire", "lock_release", "read_lock"]

#: an unreadable lock file is young when its writer may still be filling it in
UNREADABLE_LOCK_GRACE = timedelta(seconds=30)
#: the expiry of a lock file gwctl did not write: long past
FOREIGN = datetime(1970, 1, 1, tzinfo=UTC)
#: the longest a lock may be asked for, and the longest any lock lives
MAX_TTL_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Lock:
    raw: bytes
    token: str | None
    owner: str | None
    acquired_at: str | None
    expires: datetime

    def holder(self) -> dict[str, Any]:
        # never the token: whoever sees it could release someone else's lock
        return {
            "owner": self.owner,
            "acquired_at": self.acquired_at,
            "expires_at": utc_text(self.expires),
        }


def _signature(key: bytes, record: Mapping[str, Any]) -> str:
    """What proves gwctl wrote a lock record: HMAC over its fields, timestamps normalised
    (PowerShell 7 reads them back as dates)."""
    return mac(key, "lock", str(record["token"]), str(record["owner"]),
               utc_text(parse_utc(str(record["acquired_at"]))),
               utc_text(parse_utc(str(record["expires_at"]))))


def _parse_lock(raw: bytes, mtime: datetime, key: bytes) -> Lock:
    try:
        record = json.loads(raw.decode("utf-8"))
        acquired = parse_utc(str(record["acquired_at"]))
        cap = timedelta(seconds=MAX_TTL_SECONDS)
        if not hmac.compare_digest(str(record.get("mac", "")), _signature(key, record)):
            # complete, but not written by gwctl on this host: no lock at all
            return Lock(raw, None, str(record.get("owner", "?")), None, FOREIGN)
        return Lock(
            raw,
            str(record["token"]),
            str(record["owner"]),
            utc_text(acquired),
            min(parse_utc(str(record["expires_at"])), acquired + cap, mtime + cap),
        )
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        # being written right now, or damaged: live for a grace period after its mtime
        return Lock(raw, None, None, None, mtime + UNREADABLE_LOCK_GRACE)


def read_lock(path: Path, key: bytes) -> Lock | None:
    """The lock recorded at `path`; None when there is no lock file."""
    try:
        with path.open("rb") as handle:
            raw = handle.read()
            mtime = datetime.fromtimestamp(os.fstat(handle.fileno()).st_mtime, UTC)
    except FileNotFoundError:
        return None
    return _parse_lock(raw, mtime, key)


def _detach(path: Path, expected_raw: bytes) -> bool:
    """Remove the lock file at `path` only if it still holds `expected_raw`.

    Renaming first makes this race-safe: of several processes only one rename
    succeeds, and a lock that changed since it was read (someone took it over in
    between) goes back under its name instead of being deleted.
    """
    aside = path.with_name(f".{path.name}.gwctl-{secrets.token_hex(6)}.stale")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    if aside.read_bytes() == expected_raw:
        aside.unlink()
        return True
    with contextlib.suppress(FileExistsError):
        os.link(aside, path)
    aside.unlink()
    return False


def lock_acquire(
    p: Params, map_path: Callable[[str], Path], now: Callable[[], datetime]
) -> dict[str, Any]:
    """The ``lock_acquire`` operation; `map_path` maps Windows paths onto the host."""
    path, owner = p.text("path"), p.text("owner")
    ttl = p.number("ttl_seconds", MAX_TTL_SECONDS)
    token = p.optional_text("token")
    if token is not None and not re.fullmatch(r"[0-9a-f]{32}", token):
        raise bad("lock_acquire: token must be 32 lowercase hex digits")
    take_over = p.holder("take_over")
    lock_file = map_path(path)
    protect(lock_file.parent)
    key = host_key(map_path)
    holder: Lock | None = None
    for _ in range(5):
        record = _new_lock_record(owner, ttl, token, now())
        if create_new(lock_file, _lock_bytes({**record, "mac": _signature(key, record)})):
            return record
        holder = read_lock(lock_file, key)
        if holder is not None and holder.expires > now():
            if token is not None and holder.token is not None and \
                    hmac.compare_digest(holder.token, token):
                # the caller's own lock: its first answer was lost on the way back
                return {"token": token, "owner": holder.owner,
                        "acquired_at": holder.acquired_at,
                        "expires_at": utc_text(holder.expires)}
            if take_over != (holder.owner, holder.acquired_at):
                raise _locked(path, holder)
        if holder is not None:
            _detach(lock_file, holder.raw)
    # five rounds of losing races against other acquirers: someone has it now
    raise _locked(path, holder or read_lock(lock_file, key))


def _new_lock_record(owner: str, ttl: float, token: str | None, now: datetime) -> dict[str, Any]:
    return {
        "token": token or secrets.token_hex(16),
        "owner": owner,
        "acquired_at": utc_text(now),
        "expires_at": utc_text(now + timedelta(seconds=ttl)),
    }


def lock_release(p: Params, map_path: Callable[[str], Path]) -> dict[str, Any]:
    """The ``lock_release`` operation; `map_path` maps Windows paths onto the host."""
    path, token = p.text("path"), p.text("token")
    lock_file = map_path(path)
    key = host_key(map_path)
    holder = read_lock(lock_file, key)
    if holder is None:
        return {"released": False}
    if holder.token is None or not hmac.compare_digest(holder.token, token):
        raise _not_owner(path, holder)
    if not _detach(lock_file, holder.raw):
        # it changed under us: expired and taken over, or released elsewhere
        current = read_lock(lock_file, key)
        if current is None:
            return {"released": False}
        raise _not_owner(path, current)
    return {"released": True}


def _lock_bytes(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _locked(path: str, holder: Lock | None) -> OperationError:
    detail = holder.holder() if holder else {}
    who = detail.get("owner") or "an unknown holder"
    return OperationError(f"{path} is locked by {who}", code="locked", detail=detail)


def _not_owner(path: str, holder: Lock) -> OperationError:
    return OperationError(
        f"{path} is held by another lock (token mismatch)",
        code="not_owner",
        detail=holder.holder(),
    )

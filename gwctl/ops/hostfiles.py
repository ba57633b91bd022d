"""Files of a directory host: reading with metadata, atomic and exclusive writes.

Readers of a target file see its old or its new bytes only (`atomic_write`); backups
and locks are created under a name only when that name is free (`create_new`,
`publish_new`). Timestamps use the contract's format (`utc_text`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = [
    "Content",
    "atomic_write",
    "create_new",
    "file_info",
    "fsync_dir",
    "parse_utc",
    "publish_new",
    "read_content",
    "remove_quietly",
    "sha256_hex",
    "temp_name",
    "utc_text",
    "write_temp",
]

UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_text(moment: datetime) -> str:
    """The contract's timestamp format: UTC, microseconds, ``Z``."""
    return moment.astimezone(UTC).strftime(UTC_FORMAT)


def parse_utc(text: str) -> datetime:
    """Inverse of `utc_text`; also accepts other ISO 8601 forms (7 fraction digits)."""
    try:
        return datetime.strptime(text, UTC_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        moment = datetime.fromisoformat(text)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _mtime(st: os.stat_result) -> str:
    # integer nanoseconds: a float timestamp would round microseconds differently
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=st.st_mtime_ns // 1000)
    return utc_text(moment)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Content:
    data: bytes
    mtime: str


def read_content(path: Path) -> Content | None:
    """Bytes and mtime of a regular file; None when there is none (as File.Exists)."""
    if not path.is_file():
        return None
    try:
        with path.open("rb") as handle:
            return Content(handle.read(), _mtime(os.fstat(handle.fileno())))
    except FileNotFoundError:
        return None


def file_info(content: Content | None) -> dict[str, Any]:
    """The contract's description of a file: exists, size, sha256, mtime."""
    if content is None:
        return {"exists": False, "size": None, "sha256": None, "mtime": None}
    return {
        "exists": True,
        "size": len(content.data),
        "sha256": sha256_hex(content.data),
        "mtime": content.mtime,
    }


def temp_name(target_name: str) -> str:
    """Recognisable temp file name beside a target: ``.<name>.gwctl-<random>.tmp``."""
    return f".{target_name}.gwctl-{secrets.token_hex(6)}.tmp"


def fsync_dir(directory: Path) -> None:
    # a rename is durable only once the directory entry is; Windows has no such call
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_temp(directory: Path, target_name: str, data: bytes, mode: int) -> Path:
    """A new temp file beside `target_name` in `directory`, holding `data` on disk."""
    tmp = directory / temp_name(target_name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        remove_quietly(tmp)
        raise
    return tmp


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def atomic_write(target: Path, data: bytes) -> None:
    """Replace `target` with `data` so that readers see the old or the new bytes only.

    The temp file keeps the target's permission bits (Windows' ReplaceFile keeps ACLs
    the same way) and is removed on any failure.
    """
    try:
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = 0o644
    tmp = write_temp(target.parent, target.name, data, mode)
    try:
        os.replace(tmp, target)
    except BaseException:
        remove_quietly(tmp)
        raise
    fsync_dir(target.parent)


def publish_new(tmp: Path, final: Path) -> bool:
    """Give `tmp` the name `final` unless that exists; False when it did."""
    try:
        os.link(tmp, final)
    except FileExistsError:
        return False
    except OSError:
        # no hard links on this file system: claim the name, then move onto the claim
        try:
            os.close(os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            return False
        os.replace(tmp, final)
        return True
    remove_quietly(tmp)
    return True


def create_new(path: Path, data: bytes, mode: int = 0o644) -> bool:
    """Create `path` holding `data`, or answer False when it exists already."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     mode)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return True

"""Backups of a directory host's files: naming, listing, storing, choosing.

A backup of ``<name>`` is ``<name>.<id>.bak`` (its bytes) or ``<name>.<id>.absent`` (the
file did not exist) in the backup directory; ids are UTC timestamps
(``YYYYMMDDTHHMMSSffffffZ``), so newest first is a reverse sort by id. The engine names
the backups of one apply with one id of its own choosing (`backup_id_at`), so that the
files of an apply form one set that rollback finds by that id.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from gwctl.errors import OperationError
from gwctl.ops.hostfiles import (
    Content,
    create_new,
    fsync_dir,
    publish_new,
    remove_quietly,
    sha256_hex,
    utc_text,
    write_temp,
)
from gwctl.ops.winpaths import fold_name, join_windows

__all__ = [
    "MAX_KEEP",
    "Backup",
    "backup_id_at",
    "describe_backup",
    "find_backups",
    "is_backup_id",
    "newest_backup_id",
    "pick_backup",
    "set_id",
    "store_backup",
]

BACKUP_ID_FORMAT = "%Y%m%dT%H%M%S%fZ"
MAX_KEEP = 1000

_BACKUP_NAME = re.compile(r"^(?P<name>.+)\.(?P<id>\d{8}T\d{12}Z)\.(?P<kind>bak|absent)$")
_BACKUP_ID = re.compile(r"^\d{8}T\d{12}Z$")
#: a backup id a client may choose: ASCII digits only, nothing after the Z
_SET_ID = re.compile(r"[0-9]{8}T[0-9]{12}Z")


@dataclass(frozen=True)
class Backup:
    backup_id: str
    file: Path
    absent: bool


def is_backup_id(text: str) -> bool:
    return bool(_BACKUP_ID.match(text))


def backup_id_at(moment: datetime) -> str:
    """The backup id a client gives the backups it takes at `moment` (UTC)."""
    return moment.astimezone(UTC).strftime(BACKUP_ID_FORMAT)


def set_id(text: str) -> str | None:
    """`text` as a client-chosen backup id (upper-cased), or None when it is not one: the
    id format, and a moment that exists."""
    wanted = text.upper()
    if not _SET_ID.fullmatch(wanted):
        return None
    try:
        _backup_moment(wanted)
    except ValueError:
        return None
    return wanted


def newest_backup_id(directory: Path, names: set[str]) -> str | None:
    """The newest id among the backups of every file in `directory` whose file name is in
    `names` (ignoring case, as a PowerShell hashtable looks names up; None: no such
    backup)."""
    if not directory.is_dir():
        return None
    folded = {fold_name(n) for n in names}
    ids = [match["id"] for entry in directory.iterdir()
           if fold_name(entry.name) in folded and (match := _BACKUP_NAME.match(entry.name))
           and entry.is_file()]
    return max(ids, default=None)


def find_backups(directory: Path, leaf: str) -> list[Backup]:
    """Backups of the file named `leaf` in `directory`, newest first."""
    if not directory.is_dir():
        return []
    key = fold_name(leaf)
    found = []
    for entry in directory.iterdir():
        match = _BACKUP_NAME.match(entry.name)
        if match and fold_name(match["name"]) == key and entry.is_file():
            found.append(Backup(match["id"], entry, match["kind"] == "absent"))
    return sorted(found, key=lambda backup: backup.backup_id, reverse=True)


def _backup_moment(backup_id: str) -> datetime:
    return datetime.strptime(backup_id, BACKUP_ID_FORMAT).replace(tzinfo=UTC)


def _backup_ids(directory: Path, leaf: str, now: Callable[[], datetime]) -> Iterator[str]:
    """Candidate ids: now, but always after the newest existing backup.

    A clock stepping back (NTP) must not give the new backup an older id than an
    existing one, or retention would delete the backup just taken.
    """
    existing = find_backups(directory, leaf)
    moment = now()
    if existing:
        moment = max(moment, _backup_moment(existing[0].backup_id) + timedelta(microseconds=1))
    for _ in range(1000):
        yield moment.strftime(BACKUP_ID_FORMAT)
        moment += timedelta(microseconds=1)


def store_backup(
    directory: Path, leaf: str, content: Content | None, now: Callable[[], datetime],
    wanted: str | None = None,
) -> Backup:
    """Keep `content` (None: the file is absent) as a new backup of `leaf`, under the id
    `wanted` (already checked to come after every existing one) or one chosen here."""
    tmp = None if content is None else write_temp(directory, leaf, content.data, 0o644)
    ids = _backup_ids(directory, leaf, now) if wanted is None else iter([wanted])
    try:
        for backup_id in ids:
            kind = "absent" if content is None else "bak"
            final = directory / f"{leaf}.{backup_id}.{kind}"
            stored = create_new(final, b"") if tmp is None else publish_new(tmp, final)
            if stored:
                fsync_dir(directory)
                return Backup(backup_id, final, content is None)
    finally:
        if tmp is not None:
            remove_quietly(tmp)
    raise OperationError(f"no free backup name for {leaf} in {directory}", code="io_error")


def describe_backup(backup_dir: str, backup: Backup) -> dict[str, Any]:
    """The contract's description of one backup (list_backups)."""
    return {
        "backup_id": backup.backup_id,
        "backup_path": join_windows(backup_dir, backup.file.name),
        "sha256": None if backup.absent else sha256_hex(backup.file.read_bytes()),
        "absent": backup.absent,
        "created": utc_text(_backup_moment(backup.backup_id)),
    }


def pick_backup(backups: list[Backup], wanted: str | None) -> Backup:
    """The backup with id `wanted`, or the newest when None (code ``not_found``)."""
    for backup in backups:
        if wanted is None or backup.backup_id == wanted.upper():
            return backup
    which = "no backup" if wanted is None else f"no backup {wanted!r}"
    raise OperationError(f"{which} of this file", code="not_found")

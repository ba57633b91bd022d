"""What only gwctl can write on a host: private directories, the host key, signed backups.

gwctl's folder (``C:\\ProgramData\\gwctl``: the lock, the activation record, the host key)
and every backup directory hold TURN credentials and decide what ``rollback`` puts into
Program Files. ProgramData's default ACL lets local users read and create files in new
subfolders, so these directories are created (and re-protected on every use) with an
explicit ACL: Administrators and SYSTEM only, inheritance off. A directory host models
that ACL with POSIX mode bits: a protected directory is mode 0700; `local_user_may_create`
answers what a local, non-admin account could do, which the simulator uses to show that
a planted file is refused.

Every backup is signed: ``gwctl-manifest.json`` in the backup directory maps each backup
file name to HMAC-SHA256(host key, ``name`` LF ``sha256 or "absent"``). The host key is 32
random bytes in ``C:\\ProgramData\\gwctl\\host.key``, created once per host, readable by
administrators only. ``list_backups`` marks each backup ``verified``; ``restore`` refuses
(code ``tampered``) a backup whose signature is missing or wrong: planted by someone
else, altered after the fact, or taken before gwctl signed its backups. The lock file
carries a signature too (`gwctl.ops.locks`): a lock file gwctl did not write is not a
lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

from gwctl.errors import OperationError
from gwctl.ops.hostfiles import atomic_write, create_new

__all__ = ["HOME", "KEY_PATH", "MANIFEST", "host_key", "listed", "local_user_may_create", "mac",
           "protect", "sign", "signature", "signed", "unsign"]

HOME = r"C:\ProgramData\gwctl"
KEY_PATH = HOME + r"\host.key"
MANIFEST = "gwctl-manifest.json"
KEY_BYTES = 32


def protect(directory: Path) -> None:
    """Create `directory` (and missing parents) and make it administrators-only."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)


def local_user_may_create(directory: Path) -> bool:
    """Whether a local, non-admin account could create a file in `directory` (modelled:
    an unprotected directory inherits ProgramData's ACL, which lets Users create files)."""
    return not directory.is_dir() or bool(stat.S_IMODE(directory.stat().st_mode) & 0o077)


def host_key(map_path: Callable[[str], Path]) -> bytes:
    """The host's key, created on first use (the first of two racing creators wins).

    A key file that administrators do not own alone (modelled: readable by others) was
    planted before gwctl protected its folder: whoever planted it knows it, so it is
    replaced, which leaves every signature made with it unverified.
    """
    path = map_path(KEY_PATH)
    protect(path.parent)
    if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.unlink()
    if not path.exists():
        create_new(path, secrets.token_bytes(KEY_BYTES), 0o600)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise OperationError(f"{KEY_PATH} is damaged ({len(key)} bytes, not {KEY_BYTES})",
                             code="io_error")
    return key


def mac(key: bytes, *parts: str) -> str:
    """HMAC-SHA256 of the parts joined by LF, as lower-case hex."""
    return hmac.new(key, "\n".join(parts).encode("utf-8"), hashlib.sha256).hexdigest()


def signature(key: bytes, name: str, digest: str | None) -> str:
    return mac(key, name, digest or "absent")


def _read(directory: Path) -> dict[str, str]:
    try:
        data = json.loads((directory / MANIFEST).read_bytes().decode("utf-8"))
        entries = data.get("backups") if isinstance(data, dict) else None
        return {str(k): str(v) for k, v in entries.items()} if isinstance(entries, dict) else {}
    except (FileNotFoundError, UnicodeDecodeError, ValueError):
        # a missing or damaged manifest signs nothing: every backup is unverified
        return {}


def _write(directory: Path, entries: dict[str, str]) -> None:
    body = {"format": 1, "backups": dict(sorted(entries.items()))}
    atomic_write(directory / MANIFEST, (json.dumps(body, indent=1) + "\n").encode("ascii"))


def sign(directory: Path, key: bytes, name: str, digest: str | None) -> None:
    entries = _read(directory)
    entries[name] = signature(key, name, digest)
    _write(directory, entries)


def unsign(directory: Path, names: list[str]) -> None:
    """Drop the entries of pruned backups."""
    entries = _read(directory)
    if any(n in entries for n in names):
        for name in names:
            entries.pop(name, None)
        _write(directory, entries)


def listed(directory: Path) -> set[str]:
    """The backup file names the directory's manifest has an entry for."""
    return set(_read(directory))


def signed(directory: Path, key: bytes, name: str, digest: str | None) -> bool:
    expected = _read(directory).get(name)
    with contextlib.suppress(TypeError):
        return expected is not None and hmac.compare_digest(
            expected, signature(key, name, digest))
    return False

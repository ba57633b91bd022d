"""Python implementation of the remote operations for directory-backed hosts.

Same contract as the PowerShell scripts (docs/remote-operations.md): the local transport
runs it on a directory (or, on Windows without a root, on the real file system) and the
simulator's WS-Management endpoint runs it for the packaged scripts it recognises
(`DirectoryHost.dispatch_wire`, `is_bootstrap_command`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import socket
import stat
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from gwctl.errors import OperationError
from gwctl.ops import OPERATIONS, assemble, read_script
from gwctl.ops.wire import (
    decode_stdin,
    format_result,
    is_bootstrap_command,
    normalize_script,
)

__all__ = [
    "GATEWAY_PRODUCT",
    "AppPoolHook",
    "DirectoryHost",
    "FileAppPools",
    "is_bootstrap_command",
]

GATEWAY_PRODUCT = "Milestone XProtect API Gateway"

#: parameters each operation accepts; anything else is refused, because a misspelt
#: optional guard (say ``expected_sha`` for ``expected_sha256``) would silently disable it
PARAM_KEYS: dict[str, frozenset[str]] = {
    "ping": frozenset(),
    "read_file": frozenset({"path"}),
    "stat": frozenset({"paths", "content"}),
    "write_file": frozenset({"path", "sha256", "expected_sha256"}),
    "backup": frozenset({"path", "backup_dir", "keep"}),
    "list_backups": frozenset({"path", "backup_dir"}),
    "restore": frozenset({"path", "backup_dir", "backup_id"}),
    "recycle_app_pool": frozenset({"name"}),
    "app_pool_state": frozenset({"name"}),
    "read_versions": frozenset({"install_dir", "server_config"}),
    "lock_acquire": frozenset({"path", "owner", "ttl_seconds", "token"}),
    "lock_release": frozenset({"path", "token"}),
}

UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
BACKUP_ID_FORMAT = "%Y%m%dT%H%M%S%fZ"
#: an unreadable lock file is young when its writer may still be filling it in
UNREADABLE_LOCK_GRACE = timedelta(seconds=30)
MAX_TTL_SECONDS = 7 * 24 * 3600
MAX_KEEP = 1000

_DRIVE_PATH = re.compile(r"^([A-Za-z]):[\\/]")
_BAD_NAME_CHARS = re.compile(r'[<>:"|?*\x00-\x1f]')
_DIGEST = re.compile(r"^[0-9a-fA-F]{64}$")
_BACKUP_NAME = re.compile(r"^(?P<name>.+)\.(?P<id>\d{8}T\d{12}Z)\.(?P<kind>bak|absent)$")
_BACKUP_ID = re.compile(r"^\d{8}T\d{12}Z$")
_POOL_NAME_BAD = re.compile(r'["\x00-\x1f]')


# -- time ----------------------------------------------------------------------------


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


# -- parameters ----------------------------------------------------------------------


def _bad(message: str) -> OperationError:
    return OperationError(message, code="bad_params")


class _Params:
    """Typed access to one operation's JSON parameters (code ``bad_params``)."""

    def __init__(self, op: str, raw: Mapping[str, Any]) -> None:
        unknown = sorted(set(raw) - PARAM_KEYS[op])
        if unknown:
            raise _bad(f"{op}: unknown parameter(s) {', '.join(unknown)}")
        self.op = op
        self.raw = raw

    def _get(self, key: str, required: bool) -> Any:
        if required and key not in self.raw:
            raise _bad(f"{self.op}: parameter {key!r} is required")
        return self.raw.get(key)

    def text(self, key: str) -> str:
        value = self._get(key, True)
        if not isinstance(value, str) or not value:
            raise _bad(f"{self.op}: parameter {key!r} must be a non-empty string")
        return value

    def optional_text(self, key: str, *, required: bool = False) -> str | None:
        value = self._get(key, required)
        return None if value is None else self.text(key)

    def flag(self, key: str) -> bool:
        value = self._get(key, False)
        if value is not None and not isinstance(value, bool):
            raise _bad(f"{self.op}: parameter {key!r} must be true or false")
        return bool(value)

    def integer(self, key: str, low: int, high: int) -> int:
        value = self._get(key, True)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _bad(f"{self.op}: parameter {key!r} must be an integer in {low}..{high}")
        return value

    def number(self, key: str, high: float) -> float:
        value = self._get(key, True)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= high:
            raise _bad(f"{self.op}: parameter {key!r} must be a number in (0, {high}]")
        return float(value)

    def text_list(self, key: str) -> list[str]:
        value = self._get(key, True)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise _bad(f"{self.op}: parameter {key!r} must be a list of non-empty strings")
        return value

    def digest(self, key: str) -> str:
        value = self.text(key)
        if not _DIGEST.match(value):
            raise _bad(f"{self.op}: parameter {key!r} must be a SHA-256 hex digest")
        return value.lower()

    def expected_digest(self, key: str) -> str | None:
        value = self._get(key, True)
        if value is None or value == "absent":
            return None if value is None else "absent"
        return self.digest(key)


# -- Windows paths -------------------------------------------------------------------


def split_windows_path(path: str) -> tuple[str, list[str]]:
    """Drive letter (upper case) and components of an absolute Windows path.

    Refuses what could leave the mapped tree (``..``), what Windows would silently alter
    (trailing dots and spaces) and characters no Windows file name can hold.
    """
    match = _DRIVE_PATH.match(path)
    if not match:
        raise _bad(f"not an absolute Windows path (like C:\\dir\\file): {path!r}")
    parts = [part for part in re.split(r"[\\/]+", path[3:]) if part]
    for part in parts:
        if not _plain_component(part):
            raise _bad(f"unsupported path component {part!r} in {path!r}")
    return match.group(1).upper(), parts


def _plain_component(part: str) -> bool:
    if part in (".", "..") or part != part.rstrip(". ") or _BAD_NAME_CHARS.search(part):
        return False
    try:
        part.encode("utf-8")  # lone surrogates can come through JSON, not onto a disk
    except UnicodeEncodeError:
        return False
    return True


def windows_leaf(path: str) -> str:
    parts = split_windows_path(path)[1]
    if not parts:
        raise _bad(f"path names a drive, not a file: {path!r}")
    return parts[-1]


def join_windows(directory: str, name: str) -> str:
    return directory.rstrip("\\/") + "\\" + name


def fold_name(name: str) -> str:
    """Case key of a file name as NTFS compares them: per character, upper case.

    ``str.casefold`` would also equate ``ß`` with ``ss``, which Windows does not.
    """
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in name)


def _child(parent: Path, name: str) -> Path:
    exact = parent / name
    if os.path.lexists(exact) or not parent.is_dir():
        return exact
    key = fold_name(name)
    with os.scandir(parent) as entries:
        matches = sorted(entry.name for entry in entries if fold_name(entry.name) == key)
    return parent / matches[0] if matches else exact


# -- files ---------------------------------------------------------------------------


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class _Content:
    data: bytes
    mtime: str


def _read(path: Path) -> _Content | None:
    """Bytes and mtime of a regular file; None when there is none (as File.Exists)."""
    if not path.is_file():
        return None
    try:
        with path.open("rb") as handle:
            return _Content(handle.read(), _mtime(os.fstat(handle.fileno())))
    except FileNotFoundError:
        return None


def _info(content: _Content | None) -> dict[str, Any]:
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


def _fsync_dir(directory: Path) -> None:
    # a rename is durable only once the directory entry is; Windows has no such call
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(directory: Path, target_name: str, data: bytes, mode: int) -> Path:
    tmp = directory / temp_name(target_name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        _remove_quietly(tmp)
        raise
    return tmp


def _remove_quietly(path: Path) -> None:
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
    tmp = _write_temp(target.parent, target.name, data, mode)
    try:
        os.replace(tmp, target)
    except BaseException:
        _remove_quietly(tmp)
        raise
    _fsync_dir(target.parent)


def _publish_new(tmp: Path, final: Path) -> bool:
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
    _remove_quietly(tmp)
    return True


def _create_new(path: Path, data: bytes) -> bool:
    """Create `path` holding `data`, or answer False when it exists already."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return True


# -- backups -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Backup:
    backup_id: str
    file: Path
    absent: bool


def _backups(directory: Path, leaf: str) -> list[_Backup]:
    """Backups of the file named `leaf` in `directory`, newest first."""
    if not directory.is_dir():
        return []
    key = fold_name(leaf)
    found = []
    for entry in directory.iterdir():
        match = _BACKUP_NAME.match(entry.name)
        if match and fold_name(match["name"]) == key and entry.is_file():
            found.append(_Backup(match["id"], entry, match["kind"] == "absent"))
    return sorted(found, key=lambda backup: backup.backup_id, reverse=True)


def _backup_moment(backup_id: str) -> datetime:
    return datetime.strptime(backup_id, BACKUP_ID_FORMAT).replace(tzinfo=UTC)


# -- locks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lock:
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


def _parse_lock(raw: bytes, mtime: datetime) -> _Lock:
    try:
        record = json.loads(raw.decode("utf-8"))
        return _Lock(
            raw,
            str(record["token"]),
            str(record["owner"]),
            str(record["acquired_at"]),
            parse_utc(str(record["expires_at"])),
        )
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        # being written right now, or damaged: live for a grace period after its mtime
        return _Lock(raw, None, None, None, mtime + UNREADABLE_LOCK_GRACE)


def _read_lock(path: Path) -> _Lock | None:
    try:
        with path.open("rb") as handle:
            raw = handle.read()
            mtime = datetime.fromtimestamp(os.fstat(handle.fileno()).st_mtime, UTC)
    except FileNotFoundError:
        return None
    return _parse_lock(raw, mtime)


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


# -- app pools -----------------------------------------------------------------------


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


class _NoAppPools:
    def recycle(self, name: str) -> dict[str, Any]:
        raise OperationError("this host has no app pool manager", code="unsupported")

    def state(self, name: str) -> dict[str, Any]:
        raise OperationError("this host has no app pool manager", code="unsupported")


# -- installed versions --------------------------------------------------------------


def _registry_display_versions() -> dict[str, str]:
    """DisplayName -> DisplayVersion of the Uninstall keys (the real registry)."""
    if sys.platform != "win32":
        return {}
    import winreg

    found: dict[str, str] = {}
    for view in ("SOFTWARE", r"SOFTWARE\WOW6432Node"):
        key_path = view + r"\Microsoft\Windows\CurrentVersion\Uninstall"
        try:
            root = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, key_path)
        except OSError:
            continue
        with root:
            for index in range(winreg.QueryInfoKey(root)[0]):
                with (
                    contextlib.suppress(OSError),
                    winreg.OpenKey(root, winreg.EnumKey(root, index)) as sub,
                ):
                    name = winreg.QueryValueEx(sub, "DisplayName")[0]
                    version = winreg.QueryValueEx(sub, "DisplayVersion")[0]
                    found.setdefault(str(name), str(version))
    return found


def _server_config_version(path: Path) -> str | None:
    """``/server/version`` of ServerConfig.xml; None without such an element."""
    root = ET.parse(path).getroot()
    if root.tag != "server":
        return None
    version = root.find("version")
    text = (version.text or "").strip() if version is not None else ""
    return text or None


# -- the host ------------------------------------------------------------------------

Handler = Callable[[_Params, bytes | None], dict[str, Any]]


class DirectoryHost:
    """A gateway host whose drives are directories under `root`.

    `root` None means the real file system (Windows only): paths are used as given.
    """

    def __init__(
        self,
        root: Path | None,
        app_pools: AppPoolHook | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if root is None and os.name != "nt":
            raise ValueError("a directory host needs a root directory outside Windows")
        self.root = root
        self._clock = clock or (lambda: datetime.now(UTC))
        if app_pools is None:
            app_pools = FileAppPools(root, self._clock) if root is not None else _NoAppPools()
        self.app_pools = app_pools
        self._handlers: dict[str, Handler] = {op: getattr(self, f"_op_{op}") for op in OPERATIONS}

    # -- entry points

    def run(
        self, op: str, params: Mapping[str, Any], payload: bytes | None = None
    ) -> dict[str, Any]:
        """Run one operation; its result, or `OperationError` with the contract's code."""
        handler = self._handlers.get(op)
        if handler is None:
            raise OperationError(f"unknown operation {op!r}", code="unknown_op")
        if not isinstance(params, Mapping):
            raise _bad(f"{op}: parameters must be a JSON object")
        try:
            return handler(_Params(op, params), payload)
        except OSError as exc:
            raise OperationError(f"{op}: {exc}", code="io_error") from exc

    def dispatch_wire(self, stdin: bytes, *, scripts_dir: Path | None = None) -> tuple[bytes, int]:
        """What the bootstrap would print and exit with, given the raw stdin.

        Only the packaged script of the named operation is accepted (code
        ``unknown_script`` otherwise): a host emulation runs gwctl's operations, never
        arbitrary PowerShell.
        """
        try:
            request = decode_stdin(stdin)
            self._check_script(request.op, request.script, scripts_dir)
            return format_result(self.run(request.op, request.params, request.payload))
        except OperationError as exc:
            return format_result(exc)
        except Exception as exc:  # the bootstrap reports every failure the same way
            return format_result(
                OperationError(str(exc), code="failed", detail={"type": type(exc).__name__})
            )

    @staticmethod
    def _check_script(op: str, script: bytes, scripts_dir: Path | None) -> None:
        if op not in OPERATIONS:
            raise OperationError(f"unknown operation {op!r}", code="unknown_op")
        if scripts_dir is None:
            packaged = read_script(op).encode("utf-8")
        else:
            packaged = assemble((scripts_dir / f"{op}.ps1").read_text("utf-8"),
                                lambda name: (scripts_dir / name).read_text("utf-8")
                                ).encode("utf-8")
        if normalize_script(script) != normalize_script(packaged):
            raise OperationError(
                f"the script sent for {op!r} is not gwctl's packaged {op}.ps1",
                code="unknown_script",
            )

    # -- helpers

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    def map_path(self, path: str) -> Path:
        """Local path of a Windows path: under the root, matched case-insensitively."""
        drive, parts = split_windows_path(path)
        if self.root is None:
            return Path(path)
        current = self.root / drive
        for part in parts:
            current = _child(current, part)
        return current

    def _existing_parent(self, target: Path, path: str) -> None:
        if not target.parent.is_dir():
            raise OperationError(f"directory of {path} does not exist", code="not_found")

    # -- operations

    def _op_ping(self, p: _Params, payload: bytes | None) -> dict[str, Any]:
        hostname = socket.gethostname()
        if self.root is not None:
            with contextlib.suppress(OSError):
                hostname = (self.root / ".host" / "hostname").read_text("utf-8").strip()
        return {"hostname": hostname, "powershell": None, "implementation": "gwctl-pyimpl"}

    def _op_read_file(self, p: _Params, payload: bytes | None) -> dict[str, Any]:
        content = _read(self.map_path(p.text("path")))
        result = _info(content)
        result["content_b64"] = (
            base64.b64encode(content.data).decode("ascii") if content is not None else None
        )
        return result

    def _op_stat(self, p: _Params, payload: bytes | None) -> dict[str, Any]:
        paths, with_content = p.text_list("paths"), p.flag("content")
        files = {}
        for path in paths:
            content = _read(self.map_path(path))
            info = _info(content)
            if with_content:
                info["content_b64"] = (base64.b64encode(content.data).decode("ascii")
                                       if content is not None else None)
            files[path] = info
        return {"files": files}

    def _op_write_file(self, p: _Params, payload: bytes | None) -> dict[str, Any]:
        path, digest = p.text("path"), p.digest("sha256")
        expected = p.expected_digest("expected_sha256")
        data = payload or b""
        actual = sha256_hex(data)
        if actual != digest:
            raise OperationError(
                f"payload for {path} does not match its sha256",
                code="hash_mismatch",
                detail={"expected": digest, "actual": actual},
            )
        target = self.map_path(path)
        current = _read(target)
        current_digest = sha256_hex(current.data) if current is not None else None
        if current_digest == digest:
            return {"changed": False, "sha256": digest}
        _check_expected(path, expected, current_digest)
        self._existing_parent(target, path)
        atomic_write(target, data)
        return {"changed": True, "sha256": digest}

    def _op_backup(self, p: _Params, payload: bytes | None) -> dict[str, Any]:
        path, backup_dir = p.text("path"), p.text("backup_dir")
        keep = p.integer("keep", 1, MAX_KEEP)
        leaf = windows_leaf(path)
        directory = self.map_path(backup_dir)
        directory.mkdir(parents=True, exist_ok=True)
        content = _read(self.map_path(path))
        backup = self._store_backup(directory, leaf, content)
        for old in _backups(directory, leaf)[keep:]:
            _remove_quietly(old.file)
        return {
            "backup_id": backup.backup_id,
            "backup_path": join_windows(backup_dir, backup.file.name),
            "sha256": sha256_hex(content.data) if content is not None else None,
            "absent": content is None,
        }

    def _backup_ids(self, directory: Path, leaf: str) -> Iterator[str]:
        """Candidate ids: now, but always after the newest existing backup.

        A clock stepping back (NTP) must not give the new backup an older id than an
        existing one, or retention would delete the backup just taken.
        """
        existing = _backups(directory, leaf)
        moment = self._now()
        if existing:
            moment = max(moment, _backup_moment(existing[0].backup_id) + timedelta(microseconds=1))
        for _ in range(1000):
            yield moment.strftime(BACKUP_ID_FORMAT)
            moment += timedelta(microseconds=1)

    def _store_backup(self, directory: Path, leaf: str, content: _Content | None) -> _Backup:
        tmp = None if content is None else _write_temp(directory, leaf, content.data, 0o644)
        try:
            for backup_id in self._backup_ids(directory, leaf):
                kind = "absent" if content is None else "bak"
                final = directory / f"{leaf}.{backup_id}.{kind}"
                stored = _create_new(final, b"") if tmp is None else _publish_new(tmp, final)
                if stored:
                    _fsync_dir(directory)
                    return _Backup(backup_id, final, content is None)
        finally:
            if tmp is not None:
                _remove_quietly(tmp)
        raise OperationError(f"no free backup name for {leaf} in {directory}", code="io_error")

    def _op_list_backups(self, p: _Params, payload: bytes | None) -> dict[str, Any]:
        path, backup_dir = p.text("path"), p.text("backup_dir")
        backups = _backups(self.map_path(backup_dir), windows_leaf(path))
        return {"backups": [_describe_backup(backup_dir, backup) for backup in backups]}

    def _op_restore(self, p: _Params, payload: bytes | None) -> dict[str, Any]:
        path, backup_dir = p.text("path"), p.text("backup_dir")
        wanted = p.optional_text("backup_id")
        if wanted is not None and not _BACKUP_ID.match(wanted.upper()):
            raise _bad(f"restore: malformed backup_id {wanted!r}")
        backup = _pick_backup(_backups(self.map_path(backup_dir), windows_leaf(path)), wanted)
        target = self.map_path(path)
        if backup.absent:
            changed = target.is_file()
            if changed:
                target.unlink()
            return {"backup_id": backup.backup_id, "sha256": None, "changed": changed}
        data = backup.file.read_bytes()
        current = _read(target)
        changed = current is None or current.data != data
        if changed:
            self._existing_parent(target, path)
            atomic_write(target, data)
        return {"backup_id": backup.backup_id, "sha256": sha256_hex(data), "changed": changed}

    def _op_recycle_app_pool(self, p: _Params, payload: bytes | None) -> dict[str, Any]:
        return self.app_pools.recycle(_pool_name(p))

    def _op_app_pool_state(self, p: _Params, payload: bytes | None) -> dict[str, Any]:
        return self.app_pools.state(_pool_name(p))

    def _op_read_versions(self, p: _Params, payload: bytes | None) -> dict[str, Any]:
        install_dir = p.text("install_dir")
        server_config = p.optional_text("server_config")
        warnings: list[str] = []
        gateway = self._gateway_version(warnings)
        management = None
        if server_config is not None:
            management = self._management_version(server_config, warnings)
        return {
            "gateway": gateway,
            "management_server": management,
            "install_dir_exists": self.map_path(install_dir).is_dir(),
            "warnings": warnings,
        }

    def _installed_products(self) -> dict[str, str]:
        if self.root is None:
            return _registry_display_versions()
        try:
            products = json.loads(
                (self.root / ".host" / "installed-products.json").read_text("utf-8")
            )
        except FileNotFoundError:
            return {}
        if not isinstance(products, dict):
            raise ValueError("installed-products.json is not a JSON object")
        return {str(name): str(version) for name, version in products.items()}

    def _gateway_version(self, warnings: list[str]) -> dict[str, Any] | None:
        try:
            products = self._installed_products()
        except ValueError as exc:
            warnings.append(f"installed products unreadable: {exc}")
            return None
        for name, version in products.items():
            if name.casefold() == GATEWAY_PRODUCT.casefold():
                return {"version": version, "source": "registry"}
        return None

    def _management_version(self, path: str, warnings: list[str]) -> dict[str, Any] | None:
        local = self.map_path(path)
        if not local.is_file():
            return None
        try:
            version = _server_config_version(local)
        except ET.ParseError as exc:
            warnings.append(f"{path}: not well-formed XML: {exc}")
            return None
        if version is None:
            warnings.append(f"{path}: no /server/version element")
            return None
        return {"version": version, "source": path}

    def _op_lock_acquire(self, p: _Params, payload: bytes | None) -> dict[str, Any]:
        path, owner = p.text("path"), p.text("owner")
        ttl = p.number("ttl_seconds", MAX_TTL_SECONDS)
        token = p.optional_text("token")
        if token is not None and not re.fullmatch(r"[0-9a-f]{32}", token):
            raise _bad("lock_acquire: token must be 32 lowercase hex digits")
        lock_file = self.map_path(path)
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        holder: _Lock | None = None
        for _ in range(5):
            record = self._new_lock_record(owner, ttl, token)
            if _create_new(lock_file, _lock_bytes(record)):
                return record
            holder = _read_lock(lock_file)
            if holder is not None and holder.expires > self._now():
                if token is not None and holder.token is not None and \
                        hmac.compare_digest(holder.token, token):
                    # the caller's own lock: its first answer was lost on the way back
                    return {"token": token, "owner": holder.owner,
                            "acquired_at": holder.acquired_at,
                            "expires_at": utc_text(holder.expires)}
                raise _locked(path, holder)
            if holder is not None:
                _detach(lock_file, holder.raw)
        # five rounds of losing races against other acquirers: someone has it now
        raise _locked(path, holder or _read_lock(lock_file))

    def _new_lock_record(self, owner: str, ttl: float, token: str | None) -> dict[str, Any]:
        now = self._now()
        return {
            "token": token or secrets.token_hex(16),
            "owner": owner,
            "acquired_at": utc_text(now),
            "expires_at": utc_text(now + timedelta(seconds=ttl)),
        }

    def _op_lock_release(self, p: _Params, payload: bytes | None) -> dict[str, Any]:
        path, token = p.text("path"), p.text("token")
        lock_file = self.map_path(path)
        holder = _read_lock(lock_file)
        if holder is None:
            return {"released": False}
        if holder.token is None or not hmac.compare_digest(holder.token, token):
            raise _not_owner(path, holder)
        if not _detach(lock_file, holder.raw):
            # it changed under us: expired and taken over, or released elsewhere
            current = _read_lock(lock_file)
            if current is None:
                return {"released": False}
            raise _not_owner(path, current)
        return {"released": True}


def _check_expected(path: str, expected: str | None, current: str | None) -> None:
    if expected is None or expected == (current or "absent"):
        return
    raise OperationError(
        f"{path} changed since it was read (lost-update guard)",
        code="conflict",
        detail={"expected": expected, "current": current or "absent"},
    )


def _describe_backup(backup_dir: str, backup: _Backup) -> dict[str, Any]:
    return {
        "backup_id": backup.backup_id,
        "backup_path": join_windows(backup_dir, backup.file.name),
        "sha256": None if backup.absent else sha256_hex(backup.file.read_bytes()),
        "absent": backup.absent,
        "created": utc_text(_backup_moment(backup.backup_id)),
    }


def _pick_backup(backups: list[_Backup], wanted: str | None) -> _Backup:
    for backup in backups:
        if wanted is None or backup.backup_id == wanted.upper():
            return backup
    which = "no backup" if wanted is None else f"no backup {wanted!r}"
    raise OperationError(f"{which} of this file", code="not_found")


def _pool_name(p: _Params) -> str:
    name = p.text("name")
    # IIS refuses these in pool names, and appcmd's /apppool.name: argument cannot carry them
    if _POOL_NAME_BAD.search(name):
        raise _bad(f"{p.op}: invalid application pool name {name!r}")
    return name


def _lock_bytes(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _locked(path: str, holder: _Lock | None) -> OperationError:
    detail = holder.holder() if holder else {}
    who = detail.get("owner") or "an unknown holder"
    return OperationError(f"{path} is locked by {who}", code="locked", detail=detail)


def _not_owner(path: str, holder: _Lock) -> OperationError:
    return OperationError(
        f"{path} is held by another lock (token mismatch)",
        code="not_owner",
        detail=holder.holder(),
    )

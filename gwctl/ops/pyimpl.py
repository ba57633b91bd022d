"""Python implementation of the remote operations for directory-backed hosts.

Same contract as the PowerShell scripts (docs/remote-operations.md): the local transport
runs it on a directory (or, on Windows without a root, on the real file system) and the
simulator's WS-Management endpoint runs it for the packaged scripts it recognises
(`DirectoryHost.dispatch_wire`, `is_bootstrap_command`).

`DirectoryHost` dispatches each operation; the parts live beside it: parameters
(`gwctl.ops.params`), Windows paths (`gwctl.ops.winpaths`), files and atomic writes
(`gwctl.ops.hostfiles`), backups (`gwctl.ops.backups`), the host lock
(`gwctl.ops.locks`), app pools (`gwctl.ops.app_pools`), installed versions
(`gwctl.ops.installed`) and the IIS facts of `read_host` (`gwctl.ops.hostread`).
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gwctl.errors import OperationError
from gwctl.ops import OPERATIONS, assemble, read_script
from gwctl.ops.app_pools import AppPoolHook, FileAppPools, NoAppPools, pool_name
from gwctl.ops.backups import (
    MAX_KEEP,
    describe_backup,
    find_backups,
    is_backup_id,
    newest_backup_id,
    pick_backup,
    set_id,
    store_backup,
)
from gwctl.ops.batch import decode_batch, format_batch_result
from gwctl.ops.eventlog import read_events, write_event
from gwctl.ops.hostfiles import (
    atomic_write,
    file_info,
    read_content,
    remove_quietly,
    sha256_hex,
)
from gwctl.ops.hostkey import MANIFEST, host_key, listed, protect, sign, signed, unsign
from gwctl.ops.hostread import read_host
from gwctl.ops.iislog import read_iis_log
from gwctl.ops.installed import GATEWAY_PRODUCT, gateway_version, management_version
from gwctl.ops.jea_policy import POLICY_PATH, Policy, check_paths, check_script, load_policy
from gwctl.ops.locks import lock_acquire, lock_release
from gwctl.ops.params import Params, bad
from gwctl.ops.winpaths import child, join_windows, split_windows_path, windows_leaf
from gwctl.ops.wire import (
    decode_single,
    format_result,
    is_batch,
    is_bootstrap_command,
    normalize_script,
    split_stdin,
)

__all__ = [
    "GATEWAY_PRODUCT",
    "AppPoolHook",
    "DirectoryHost",
    "FileAppPools",
    "ProcessDied",
    "is_bootstrap_command",
]

Handler = Callable[[Params, bytes | None], dict[str, Any]]
#: called with (index, op) before each step of a batch; it raises `ProcessDied` to end the
#: command as the death of the host's PowerShell would (the simulator's fault injection)
StepHook = Callable[[int, str], None]


class ProcessDied(Exception):
    """The host's PowerShell process died mid-command: it prints nothing more."""


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
            app_pools = FileAppPools(root, self._clock) if root is not None else NoAppPools()
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
            raise bad(f"{op}: parameters must be a JSON object")
        try:
            return handler(Params(op, params), payload)
        except OSError as exc:
            raise OperationError(f"{op}: {exc}", code="io_error") from exc

    def dispatch_wire(self, stdin: bytes, *, scripts_dir: Path | None = None,
                      step_hook: StepHook | None = None) -> tuple[bytes, int]:
        """What the bootstrap would print and exit with, given the raw stdin (one
        operation or a batch).

        Only the packaged script of the named operation is accepted (code
        ``unknown_script`` otherwise): a host emulation runs gwctl's operations, never
        arbitrary PowerShell. A host with gwctl's JEA policy installed also checks it
        first, as the bootstrap and ``common.ps1`` do (docs/remote-operations.md).
        """
        try:
            header, rest = split_stdin(stdin)
            if is_batch(header):
                return self._dispatch_batch(header, rest, scripts_dir, step_hook)
            request = decode_single(header, rest)
            return format_result(self._run_checked(request.op, request.script, scripts_dir,
                                                   request.params, request.payload))
        except OperationError as exc:
            return format_result(exc)
        except ProcessDied:
            raise
        except Exception as exc:  # the bootstrap reports every failure the same way
            return format_result(
                OperationError(str(exc), code="failed", detail={"type": type(exc).__name__})
            )

    def jea_policy(self) -> Policy | None:
        """The JEA policy installed on this host (`gwctl host-setup`), None without one."""
        if self.root is None:
            return None
        path = self.map_path(POLICY_PATH)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        return load_policy(data)

    def _dispatch_batch(self, header: dict[str, Any], rest: bytes, scripts_dir: Path | None,
                        step_hook: StepHook | None) -> tuple[bytes, int]:
        # as the bootstrap: in order, each step on its own, nothing after a failure
        steps = decode_batch(header, rest)
        answered: list[Mapping[str, Any] | OperationError] = []
        for index, (request, script) in enumerate(steps):
            if step_hook is not None:
                step_hook(index, request.op)
            try:
                if script is None:
                    raise OperationError(f"batch step {index + 1}: no script for "
                                         f"{request.op!r}", code="failed")
                answered.append(self._run_checked(
                    request.op, _script_bytes(script), scripts_dir, request.params,
                    request.payload))
            except OperationError as exc:
                answered.append(exc)
                break
            except Exception as exc:
                answered.append(OperationError(str(exc), code="failed",
                                               detail={"type": type(exc).__name__}))
                break
        return format_batch_result(answered, [r.op for r, _ in steps[len(answered):]])

    def _run_checked(self, op: str, script: bytes, scripts_dir: Path | None,
                     params: Mapping[str, Any], payload: bytes) -> dict[str, Any]:
        policy = self.jea_policy()
        if policy is not None:
            check_script(policy, op, script)
        self._check_script(op, script, scripts_dir)
        if policy is not None:
            check_paths(policy, params)
        return self.run(op, params, payload)

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
            current = child(current, part)
        return current

    def _existing_parent(self, target: Path, path: str) -> None:
        if not target.parent.is_dir():
            raise OperationError(f"directory of {path} does not exist", code="not_found")

    # -- operations

    def _op_ping(self, p: Params, payload: bytes | None) -> dict[str, Any]:
        hostname = socket.gethostname()
        if self.root is not None:
            with contextlib.suppress(OSError):
                hostname = (self.root / ".host" / "hostname").read_text("utf-8").strip()
        return {"hostname": hostname, "powershell": None, "implementation": "gwctl-pyimpl"}

    def _op_read_file(self, p: Params, payload: bytes | None) -> dict[str, Any]:
        content = read_content(self.map_path(p.text("path")))
        result = file_info(content)
        result["content_b64"] = (
            base64.b64encode(content.data).decode("ascii") if content is not None else None
        )
        return result

    def _op_stat(self, p: Params, payload: bytes | None) -> dict[str, Any]:
        paths, with_content = p.text_list("paths"), p.flag("content")
        files = {}
        for path in paths:
            content = read_content(self.map_path(path))
            info = file_info(content)
            if with_content:
                info["content_b64"] = (base64.b64encode(content.data).decode("ascii")
                                       if content is not None else None)
            files[path] = info
        result: dict[str, Any] = {"files": files}
        host = p.raw.get("host")
        if host is not None:
            if not isinstance(host, Mapping):
                raise bad("stat: parameter 'host' must be an object")
            result["host"] = read_host(Params("read_host", host), self.map_path, self.root)
        return result

    def _op_write_file(self, p: Params, payload: bytes | None) -> dict[str, Any]:
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
        current = read_content(target)
        current_digest = sha256_hex(current.data) if current is not None else None
        if current_digest == digest:
            return {"changed": False, "sha256": digest}
        _check_expected(path, expected, current_digest)
        self._existing_parent(target, path)
        atomic_write(target, data)
        return {"changed": True, "sha256": digest}

    def _op_backup(self, p: Params, payload: bytes | None) -> dict[str, Any]:
        path, backup_dir = p.text("path"), p.text("backup_dir")
        keep = p.integer("keep", 1, MAX_KEEP)
        wanted = p.optional_text("backup_id")
        if wanted is not None and (wanted := set_id(wanted)) is None:
            raise bad("backup: parameter 'backup_id' must be a backup id or null")
        expected = p.expected_digest("expected_sha256", required=False)
        leaf = windows_leaf(path)
        directory = self.map_path(backup_dir)
        content = read_content(self.map_path(path))
        # the plan's read, checked under the lock before anything is copied: a refused
        # backup leaves no backup behind, and the batch stops before any write
        _check_expected(path, expected,
                        sha256_hex(content.data) if content is not None else None)
        if wanted is not None:
            _check_order(directory, leaf, wanted)
        protect(directory)
        key = host_key(self.map_path)
        backup = store_backup(directory, leaf, content, self._now, wanted)
        sign(directory, key, backup.file.name,
             sha256_hex(content.data) if content is not None else None)
        pruned = find_backups(directory, leaf)[keep:]
        for old in pruned:
            remove_quietly(old.file)
        unsign(directory, [old.file.name for old in pruned])
        return {
            "backup_id": backup.backup_id,
            "backup_path": join_windows(backup_dir, backup.file.name),
            "sha256": sha256_hex(content.data) if content is not None else None,
            "absent": content is None,
        }

    def _op_list_backups(self, p: Params, payload: bytes | None) -> dict[str, Any]:
        path, backup_dir = p.text("path"), p.text("backup_dir")
        directory = self.map_path(backup_dir)
        backups = find_backups(directory, windows_leaf(path))
        key = host_key(self.map_path) if backups else b""
        listed = []
        for backup in backups:
            entry = describe_backup(backup_dir, backup)
            entry["verified"] = signed(directory, key, backup.file.name, entry["sha256"])
            listed.append(entry)
        return {"backups": listed}

    def _op_restore(self, p: Params, payload: bytes | None) -> dict[str, Any]:
        path, backup_dir = p.text("path"), p.text("backup_dir")
        wanted = p.optional_text("backup_id")
        if wanted is not None and not is_backup_id(wanted.upper()):
            raise bad(f"restore: malformed backup_id {wanted!r}")
        directory = self.map_path(backup_dir)
        backup = pick_backup(find_backups(directory, windows_leaf(path)), wanted)
        digest = None if backup.absent else sha256_hex(backup.file.read_bytes())
        if not signed(directory, host_key(self.map_path), backup.file.name, digest):
            raise OperationError(
                f"backup {backup.backup_id} of {windows_leaf(path)} was not written by gwctl "
                "on this host, or was changed since (no valid signature in "
                f"{join_windows(backup_dir, MANIFEST)}); refusing to restore it",
                code="tampered", detail={"backup_id": backup.backup_id})
        target = self.map_path(path)
        if backup.absent:
            changed = target.is_file()
            if changed:
                target.unlink()
            return {"backup_id": backup.backup_id, "sha256": None, "changed": changed}
        data = backup.file.read_bytes()
        current = read_content(target)
        changed = current is None or current.data != data
        if changed:
            self._existing_parent(target, path)
            atomic_write(target, data)
        return {"backup_id": backup.backup_id, "sha256": sha256_hex(data), "changed": changed}

    def _op_recycle_app_pool(self, p: Params, payload: bytes | None) -> dict[str, Any]:
        return self.app_pools.recycle(pool_name(p))

    def _op_app_pool_state(self, p: Params, payload: bytes | None) -> dict[str, Any]:
        return self.app_pools.state(pool_name(p))

    def _op_read_versions(self, p: Params, payload: bytes | None) -> dict[str, Any]:
        install_dir = p.text("install_dir")
        server_config = p.optional_text("server_config")
        warnings: list[str] = []
        gateway = gateway_version(self.root, warnings)
        management = None
        if server_config is not None:
            management = management_version(
                self.map_path(server_config), server_config, warnings
            )
        return {
            "gateway": gateway,
            "management_server": management,
            "install_dir_exists": self.map_path(install_dir).is_dir(),
            "warnings": warnings,
        }

    def _op_read_host(self, p: Params, payload: bytes | None) -> dict[str, Any]:
        return read_host(p, self.map_path, self.root)

    def _op_read_iis_log(self, p: Params, payload: bytes | None) -> dict[str, Any]:
        return read_iis_log(p, self.map_path)

    def _op_lock_acquire(self, p: Params, payload: bytes | None) -> dict[str, Any]:
        return lock_acquire(p, self.map_path, self._now)

    def _op_lock_release(self, p: Params, payload: bytes | None) -> dict[str, Any]:
        return lock_release(p, self.map_path)

    def _op_write_event(self, p: Params, payload: bytes | None) -> dict[str, Any]:
        if self.root is None:
            raise OperationError("write_event: a directory host without a root has no "
                                 "event log of its own", code="failed")
        return write_event(p, self.root, self._now)

    def _op_read_events(self, p: Params, payload: bytes | None) -> dict[str, Any]:
        if self.root is None:
            raise OperationError("read_events: a directory host without a root has no "
                                 "event log of its own", code="failed")
        return read_events(p, self.root, self._now)


def _script_bytes(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise OperationError(f"a batch script is not valid base64: {exc}", code="failed",
                             detail={"type": "FormatException"}) from exc


def _check_order(directory: Path, leaf: str, wanted: str) -> None:
    """A client-chosen id must come after every backup in the directory that its manifest
    lists (retention keeps the newest by id, rollback takes the newest set) and be new
    for this file. A file gwctl never listed -- planted, or copied in by hand -- cannot
    block every later apply by a name far in the future."""
    newest = newest_backup_id(directory, listed(directory))
    taken = any(b.backup_id == wanted for b in find_backups(directory, leaf))
    if taken or (newest is not None and newest > wanted):
        raise OperationError(
            f"backup id {wanted} does not come after the newest backup {newest} in the "
            "backup directory (is the controller's clock behind the one that took it?)",
            code="out_of_order", detail={"backup_id": wanted, "newest": newest})


def _check_expected(path: str, expected: str | None, current: str | None) -> None:
    if expected is None or expected == (current or "absent"):
        return
    raise OperationError(
        f"{path} changed since it was read (lost-update guard)",
        code="conflict",
        detail={"expected": expected, "current": current or "absent"},
    )

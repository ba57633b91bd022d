"""The Python implementation of the remote operations, against a temporary directory."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gwctl.errors import OperationError
from gwctl.ops.hostkey import MANIFEST
from gwctl.ops.pyimpl import DirectoryHost, FileAppPools
from gwctl.ops.winpaths import split_windows_path

GW_DIR = r"C:\Program Files\Milestone\XProtect API Gateway"
APPSETTINGS = GW_DIR + r"\appsettings.Production.json"
BACKUPS = r"C:\ProgramData\gwctl\backups"
LOCK = r"C:\ProgramData\gwctl\gwctl.lock"
POOL = "VideoOS ApiGateway AppPool"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "host"
    (root / "C" / "Program Files" / "Milestone" / "XProtect API Gateway").mkdir(parents=True)
    return root


@pytest.fixture
def host(root: Path, clock: Clock) -> DirectoryHost:
    return DirectoryHost(root, clock=clock)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def local(host: DirectoryHost, path: str) -> Path:
    return host.map_path(path)


def put(host: DirectoryHost, path: str, data: bytes) -> Path:
    target = local(host, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target


def write(
    host: DirectoryHost, path: str, data: bytes, expected: str | None = None
) -> dict[str, Any]:
    params = {"path": path, "sha256": sha(data), "expected_sha256": expected}
    return host.run("write_file", params, data)


def failure(call: Any, *args: Any) -> OperationError:
    with pytest.raises(OperationError) as caught:
        call(*args)
    return caught.value


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".gwctl-" in p.name]


# -- paths ---------------------------------------------------------------------------


def test_path_mapping_puts_drive_letters_under_root(host: DirectoryHost, root: Path) -> None:
    assert local(host, r"d:\data\x.json") == root / "D" / "data" / "x.json"
    assert local(host, "C:/a/b") == root / "C" / "a" / "b"


def test_case_insensitive_resolution_finds_existing_components(
    host: DirectoryHost, root: Path
) -> None:
    put(host, APPSETTINGS, b"{}")
    lower = r"c:\program files\milestone\xprotect api gateway\APPSETTINGS.production.JSON"
    assert local(host, lower) == root / "C/Program Files/Milestone/XProtect API Gateway" / (
        "appsettings.Production.json"
    )
    result = host.run("read_file", {"path": lower})
    assert result["exists"] is True
    # a new file keeps the spelling it was given, inside the existing directories
    new = local(host, r"c:\PROGRAM FILES\milestone\xprotect api gateway\New.json")
    assert new == root / "C/Program Files/Milestone/XProtect API Gateway/New.json"


@pytest.mark.parametrize(
    "path",
    ["relative\\x", r"\\server\share\x", r"C:\a\..\..\etc", r"C:\a\.\b", r"C:\a\b.", r"C:\a\b?"],
)
def test_paths_that_could_escape_or_alias_are_refused(host: DirectoryHost, path: str) -> None:
    assert failure(host.run, "read_file", {"path": path}).code == "bad_params"


def test_split_windows_path_skips_doubled_separators() -> None:
    assert split_windows_path(r"c:\a\\b/c") == ("C", ["a", "b", "c"])


def test_ntfs_style_case_folding_keeps_sharp_s_distinct(host: DirectoryHost, root: Path) -> None:
    put(host, r"C:\d\Straße.txt", b"x")
    assert local(host, r"C:\d\STRASSE.txt").name == "STRASSE.txt"
    assert local(host, r"C:\D\straße.TXT").name == "Straße.txt"


# -- parameters ----------------------------------------------------------------------


def test_unknown_operation(host: DirectoryHost) -> None:
    assert failure(host.run, "format_disk", {}).code == "unknown_op"


@pytest.mark.parametrize(
    ("op", "params"),
    [
        ("read_file", {}),
        ("read_file", {"path": 7}),
        ("read_file", {"path": APPSETTINGS, "extra": 1}),
        ("stat", {"paths": APPSETTINGS}),
        ("write_file", {"path": APPSETTINGS, "sha256": "00"}),
        ("write_file", {"path": APPSETTINGS, "sha256": "0" * 64}),  # expected_sha256 missing
        ("write_file", {"path": APPSETTINGS, "sha256": "0" * 64, "expected_sha": None}),
        ("backup", {"path": APPSETTINGS, "backup_dir": BACKUPS, "keep": 0}),
        ("backup", {"path": APPSETTINGS, "backup_dir": BACKUPS, "keep": True}),
        ("restore", {"path": APPSETTINGS, "backup_dir": BACKUPS, "backup_id": "latest"}),
        ("lock_acquire", {"path": LOCK, "owner": "me", "ttl_seconds": -1}),
        ("lock_acquire", {"path": LOCK, "owner": "", "ttl_seconds": 10}),
        ("recycle_app_pool", {"name": 'a"b'}),
    ],
)
def test_bad_params(host: DirectoryHost, op: str, params: dict[str, Any]) -> None:
    assert failure(host.run, op, params, b"").code == "bad_params"


# -- ping, read_file, stat -----------------------------------------------------------


def test_ping_reports_the_emulated_hostname(host: DirectoryHost, root: Path) -> None:
    (root / ".host").mkdir()
    (root / ".host" / "hostname").write_text("GW-01\n", encoding="utf-8")
    assert host.run("ping", {}) == {
        "hostname": "GW-01",
        "powershell": None,
        "implementation": "gwctl-pyimpl",
    }


def test_read_file_existing_and_absent(host: DirectoryHost) -> None:
    target = put(host, APPSETTINGS, b'{"a": 1}')
    os.utime(target, ns=(0, 1_700_000_000_123_456_789))
    result = host.run("read_file", {"path": APPSETTINGS})
    assert result == {
        "exists": True,
        "size": 8,
        "sha256": sha(b'{"a": 1}'),
        "mtime": "2023-11-14T22:13:20.123456Z",
        "content_b64": base64.b64encode(b'{"a": 1}').decode(),
    }
    absent = host.run("read_file", {"path": GW_DIR + r"\nlog.config"})
    assert absent == {
        "exists": False,
        "size": None,
        "sha256": None,
        "mtime": None,
        "content_b64": None,
    }


def test_a_directory_is_not_a_file(host: DirectoryHost) -> None:
    assert host.run("read_file", {"path": GW_DIR})["exists"] is False


def test_stat_keys_results_by_the_paths_as_given(host: DirectoryHost) -> None:
    put(host, APPSETTINGS, b"{}")
    lower = APPSETTINGS.lower()
    files = host.run("stat", {"paths": [lower, GW_DIR + r"\nlog.config"]})["files"]
    assert files[lower]["sha256"] == sha(b"{}")
    assert files[GW_DIR + r"\nlog.config"]["exists"] is False
    assert host.run("stat", {"paths": []}) == {"files": {}}


# -- write_file ----------------------------------------------------------------------


def test_write_new_file_with_absent_guard(host: DirectoryHost) -> None:
    assert write(host, APPSETTINGS, b"one", "absent") == {"changed": True, "sha256": sha(b"one")}
    assert local(host, APPSETTINGS).read_bytes() == b"one"


def test_write_absent_guard_fails_when_the_file_exists(host: DirectoryHost) -> None:
    put(host, APPSETTINGS, b"theirs")
    error = failure(write, host, APPSETTINGS, b"mine", "absent")
    assert error.code == "conflict"
    assert error.detail == {"expected": "absent", "current": sha(b"theirs")}
    assert local(host, APPSETTINGS).read_bytes() == b"theirs"


def test_write_with_matching_expected_digest(host: DirectoryHost) -> None:
    put(host, APPSETTINGS, b"old")
    assert write(host, APPSETTINGS, b"new", sha(b"old").upper())["changed"] is True
    assert local(host, APPSETTINGS).read_bytes() == b"new"


def test_write_with_mismatching_expected_digest(host: DirectoryHost) -> None:
    put(host, APPSETTINGS, b"changed by hand")
    error = failure(write, host, APPSETTINGS, b"new", sha(b"old"))
    assert error.code == "conflict"
    assert error.detail["current"] == sha(b"changed by hand")
    assert local(host, APPSETTINGS).read_bytes() == b"changed by hand"


def test_write_expected_absent_digest_of_missing_file_conflicts(host: DirectoryHost) -> None:
    error = failure(write, host, APPSETTINGS, b"new", sha(b"old"))
    assert error.code == "conflict"
    assert error.detail["current"] == "absent"


def test_hash_mismatch_leaves_the_target_untouched(host: DirectoryHost) -> None:
    target = put(host, APPSETTINGS, b"before")
    params = {"path": APPSETTINGS, "sha256": sha(b"intended"), "expected_sha256": None}
    error = failure(host.run, "write_file", params, b"truncated")
    assert error.code == "hash_mismatch"
    assert error.detail == {"expected": sha(b"intended"), "actual": sha(b"truncated")}
    assert target.read_bytes() == b"before"
    assert temp_files(host.root or Path()) == []


def test_identical_content_is_left_alone(host: DirectoryHost) -> None:
    target = put(host, APPSETTINGS, b"same")
    os.utime(target, ns=(1_000_000_000, 1_000_000_000))
    # even with a stale guard: the file already is what the caller wants (retry-safe)
    assert write(host, APPSETTINGS, b"same", sha(b"older")) == {
        "changed": False,
        "sha256": sha(b"same"),
    }
    assert target.stat().st_mtime_ns == 1_000_000_000


def test_write_needs_an_existing_directory(host: DirectoryHost) -> None:
    error = failure(write, host, r"C:\No\Such\Dir\x.json", b"x", None)
    assert error.code == "not_found"


def test_write_empty_payload_and_none_payload(host: DirectoryHost) -> None:
    params = {"path": APPSETTINGS, "sha256": sha(b""), "expected_sha256": None}
    assert host.run("write_file", params, None)["changed"] is True
    assert local(host, APPSETTINGS).read_bytes() == b""


def test_write_keeps_the_permission_bits(host: DirectoryHost) -> None:
    target = put(host, APPSETTINGS, b"old")
    target.chmod(0o640)
    write(host, APPSETTINGS, b"new")
    assert target.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("broken", ["os.replace", "os.fsync"])
def test_crash_midway_leaves_target_and_no_temp(
    host: DirectoryHost, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    target = put(host, APPSETTINGS, b"precious bytes")
    before = target.read_bytes()

    def crash(*args: object) -> None:
        raise OSError(5, "simulated crash")

    monkeypatch.setattr(broken, crash)
    error = failure(write, host, APPSETTINGS, b"new bytes")
    assert error.code == "io_error"
    assert target.read_bytes() == before
    assert temp_files(host.root or Path()) == []


def test_crash_in_the_middle_of_writing_the_temp(
    host: DirectoryHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = put(host, APPSETTINGS, b"precious bytes")
    real_fdopen = os.fdopen

    class Half:
        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def __enter__(self) -> Half:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, data: bytes) -> None:
            self.handle.write(data[:3])
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, mode: Half(real_fdopen(fd, mode)))
    assert failure(write, host, APPSETTINGS, b"new bytes").code == "io_error"
    assert target.read_bytes() == b"precious bytes"
    assert temp_files(host.root or Path()) == []


# -- backup, list_backups, restore ---------------------------------------------------


def backup(host: DirectoryHost, keep: int = 5, path: str = APPSETTINGS) -> dict[str, Any]:
    return host.run("backup", {"path": path, "backup_dir": BACKUPS, "keep": keep})


def listing(host: DirectoryHost, path: str = APPSETTINGS) -> list[dict[str, Any]]:
    result = host.run("list_backups", {"path": path, "backup_dir": BACKUPS})
    backups: list[dict[str, Any]] = result["backups"]
    return backups


def restore(host: DirectoryHost, backup_id: str | None = None) -> dict[str, Any]:
    params = {"path": APPSETTINGS, "backup_dir": BACKUPS, "backup_id": backup_id}
    return host.run("restore", params)


def test_backup_names_and_result(host: DirectoryHost, clock: Clock) -> None:
    put(host, APPSETTINGS, b"v1")
    result = backup(host)
    assert result == {
        "backup_id": "20250601T120000000000Z",
        "backup_path": BACKUPS + r"\appsettings.Production.json.20250601T120000000000Z.bak",
        "sha256": sha(b"v1"),
        "absent": False,
    }
    stored = local(host, BACKUPS) / "appsettings.Production.json.20250601T120000000000Z.bak"
    assert stored.read_bytes() == b"v1"


def test_backups_in_the_same_microsecond_get_distinct_ordered_ids(host: DirectoryHost) -> None:
    put(host, APPSETTINGS, b"v1")
    ids = [backup(host)["backup_id"] for _ in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3


def test_a_clock_stepping_back_does_not_let_retention_eat_the_new_backup(
    host: DirectoryHost, clock: Clock
) -> None:
    put(host, APPSETTINGS, b"v1")
    first = backup(host, keep=1)["backup_id"]
    clock.advance(-3600)
    put(host, APPSETTINGS, b"v2")
    second = backup(host, keep=1)
    assert second["backup_id"] > first
    assert [b["sha256"] for b in listing(host)] == [sha(b"v2")]


def test_retention_keeps_the_newest(host: DirectoryHost, clock: Clock) -> None:
    ids = []
    for n in range(5):
        put(host, APPSETTINGS, f"v{n}".encode())
        ids.append(backup(host, keep=3)["backup_id"])
        clock.advance(1)
    backups = listing(host)
    assert [b["backup_id"] for b in backups] == ids[:1:-1]
    assert [b["sha256"] for b in backups] == [sha(b"v4"), sha(b"v3"), sha(b"v2")]
    assert backups[0]["created"] == "2025-06-01T12:00:04.000000Z"
    kept = sorted(p.name for p in local(host, BACKUPS).iterdir() if p.name != MANIFEST)
    assert len(kept) == 3
    # pruned backups leave the manifest with them
    manifest = json.loads((local(host, BACKUPS) / MANIFEST).read_bytes())
    assert sorted(manifest["backups"]) == kept


def test_retention_only_touches_backups_of_the_same_file(host: DirectoryHost) -> None:
    other = GW_DIR + r"\appsettings.json"
    put(host, other, b"base")
    backup(host, keep=1, path=other)
    put(host, APPSETTINGS, b"v1")
    for _ in range(3):
        backup(host, keep=1)
    assert len(listing(host, other)) == 1
    assert len(listing(host)) == 1
    # foreign files in the backup directory are neither listed nor pruned
    (local(host, BACKUPS) / "notes.txt").write_text("keep me")
    backup(host, keep=1)
    assert (local(host, BACKUPS) / "notes.txt").exists()


def test_absent_marker_then_restore_deletes(host: DirectoryHost) -> None:
    result = backup(host)
    assert result["absent"] is True and result["sha256"] is None
    assert result["backup_path"].endswith(".absent")
    write(host, APPSETTINGS, b"created later", "absent")
    assert restore(host) == {"backup_id": result["backup_id"], "sha256": None, "changed": True}
    assert not local(host, APPSETTINGS).exists()
    assert restore(host)["changed"] is False


def test_restore_newest_and_by_id(host: DirectoryHost, clock: Clock) -> None:
    put(host, APPSETTINGS, b"v1")
    first = backup(host)["backup_id"]
    clock.advance(1)
    write(host, APPSETTINGS, b"v2")
    second = backup(host)["backup_id"]
    write(host, APPSETTINGS, b"v3 broken")
    assert restore(host) == {"backup_id": second, "sha256": sha(b"v2"), "changed": True}
    assert local(host, APPSETTINGS).read_bytes() == b"v2"
    assert restore(host, first)["sha256"] == sha(b"v1")
    assert local(host, APPSETTINGS).read_bytes() == b"v1"
    assert restore(host, first)["changed"] is False


def test_restore_without_backups(host: DirectoryHost) -> None:
    assert failure(restore, host).code == "not_found"
    put(host, APPSETTINGS, b"v1")
    backup(host)
    assert failure(restore, host, "20000101T000000000000Z").code == "not_found"


def test_restore_crash_keeps_the_target(
    host: DirectoryHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(host, APPSETTINGS, b"v1")
    backup(host)
    write(host, APPSETTINGS, b"v2")

    def crash(*args: object) -> None:
        raise OSError(5, "simulated crash")

    monkeypatch.setattr("os.replace", crash)
    assert failure(restore, host).code == "io_error"
    assert local(host, APPSETTINGS).read_bytes() == b"v2"
    assert temp_files(host.root or Path()) == []


def test_list_backups_of_a_missing_directory(host: DirectoryHost) -> None:
    assert listing(host) == []


# -- locks ---------------------------------------------------------------------------


def acquire(host: DirectoryHost, owner: str = "ci", ttl: float = 60) -> dict[str, Any]:
    return host.run("lock_acquire", {"path": LOCK, "owner": owner, "ttl_seconds": ttl})


def release(host: DirectoryHost, token: str) -> dict[str, Any]:
    return host.run("lock_release", {"path": LOCK, "token": token})


def test_lock_acquire_writes_the_documented_record(host: DirectoryHost) -> None:
    lock = acquire(host, "alice", 90)
    assert lock["owner"] == "alice"
    assert lock["acquired_at"] == "2025-06-01T12:00:00.000000Z"
    assert lock["expires_at"] == "2025-06-01T12:01:30.000000Z"
    assert len(lock["token"]) == 32
    on_disk = json.loads(local(host, LOCK).read_bytes())
    # the file carries gwctl's signature besides the record (gwctl.ops.hostkey)
    assert len(on_disk.pop("mac")) == 64 and on_disk == lock


def test_lock_conflict_names_the_holder_without_its_token(host: DirectoryHost) -> None:
    held = acquire(host, "alice")
    error = failure(acquire, host, "bob")
    assert error.code == "locked"
    assert error.detail == {
        "owner": "alice",
        "acquired_at": held["acquired_at"],
        "expires_at": held["expires_at"],
    }
    assert "alice" in error.message


def test_lock_is_not_reentrant(host: DirectoryHost) -> None:
    acquire(host, "alice")
    assert failure(acquire, host, "alice").code == "locked"


def test_stale_lock_is_taken_over(host: DirectoryHost, clock: Clock) -> None:
    old = acquire(host, "crashed run", 60)
    clock.advance(61)
    new = acquire(host, "bob")
    assert new["owner"] == "bob" and new["token"] != old["token"]
    assert failure(release, host, old["token"]).code == "not_owner"
    assert release(host, new["token"]) == {"released": True}
    assert temp_files(host.root or Path()) == []


def test_release_with_wrong_token_keeps_the_lock(host: DirectoryHost) -> None:
    held = acquire(host, "alice")
    error = failure(release, host, "f" * 32)
    assert error.code == "not_owner"
    assert error.detail["owner"] == "alice"
    assert json.loads(local(host, LOCK).read_bytes())["token"] == held["token"]


def test_release_twice_is_harmless(host: DirectoryHost) -> None:
    held = acquire(host)
    assert release(host, held["token"]) == {"released": True}
    assert release(host, held["token"]) == {"released": False}
    assert acquire(host, "next")["owner"] == "next"


def test_unreadable_lock_is_live_for_a_grace_period(host: DirectoryHost, clock: Clock) -> None:
    lock_file = put(host, LOCK, b"")  # as seen while its creator is still writing
    mtime = datetime.fromtimestamp(lock_file.stat().st_mtime, UTC)
    clock.now = mtime + timedelta(seconds=5)
    error = failure(acquire, host, "bob")
    assert error.code == "locked" and error.detail["owner"] is None
    clock.now = mtime + timedelta(seconds=31)
    assert acquire(host, "bob")["owner"] == "bob"


def test_stale_takeover_does_not_remove_a_lock_taken_over_meanwhile(
    host: DirectoryHost, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between reading a stale lock and renaming it, another acquirer replaced it."""
    from gwctl.ops import locks

    acquire(host, "crashed", 10)
    clock.advance(11)
    other = DirectoryHost(host.root, clock=clock)
    real_read_lock = locks.read_lock
    winner: dict[str, Any] = {}
    raced: list[bool] = []

    def read_then_lose_the_race(path: Path, key: bytes) -> Any:
        seen = real_read_lock(path, key)
        if not raced:
            raced.append(True)
            winner.update(acquire(other, "winner"))  # takes over the stale lock first
        return seen

    monkeypatch.setattr(locks, "read_lock", read_then_lose_the_race)
    error = failure(acquire, host, "loser")
    assert error.code == "locked"
    monkeypatch.undo()
    assert json.loads(local(host, LOCK).read_bytes())["token"] == winner["token"]
    assert release(other, winner["token"]) == {"released": True}
    assert temp_files(host.root or Path()) == []


# -- app pools -----------------------------------------------------------------------


def test_app_pool_recycle_and_state(host: DirectoryHost, root: Path, clock: Clock) -> None:
    FileAppPools(root).ensure(POOL, state="Stopped")
    state = host.run("app_pool_state", {"name": POOL.lower()})
    assert state == {"name": POOL, "state": "Stopped", "last_recycle": None}
    result = host.run("recycle_app_pool", {"name": POOL})
    assert result == {
        "name": POOL,
        "state": "Started",
        "recycled_at": "2025-06-01T12:00:00.000000Z",
    }
    assert host.run("app_pool_state", {"name": POOL})["last_recycle"] == result["recycled_at"]


def test_unknown_app_pool(host: DirectoryHost) -> None:
    assert failure(host.run, "recycle_app_pool", {"name": "nope"}).code == "not_found"


def test_custom_app_pool_hook(root: Path) -> None:
    class Hook:
        def __init__(self) -> None:
            self.recycled: list[str] = []

        def recycle(self, name: str) -> dict[str, Any]:
            self.recycled.append(name)
            return {"name": name, "state": "Started", "recycled_at": "x"}

        def state(self, name: str) -> dict[str, Any]:
            return {"name": name, "state": "Started", "last_recycle": None}

    hook = Hook()
    DirectoryHost(root, hook).run("recycle_app_pool", {"name": POOL})
    assert hook.recycled == [POOL]


# -- read_versions -------------------------------------------------------------------

SERVER_CONFIG = r"C:\ProgramData\Milestone\XProtect Management Server\ServerConfig.xml"


def versions(host: DirectoryHost, server_config: str | None = SERVER_CONFIG) -> dict[str, Any]:
    return host.run("read_versions", {"install_dir": GW_DIR, "server_config": server_config})


def test_read_versions(host: DirectoryHost, root: Path) -> None:
    (root / ".host").mkdir()
    products = {"Milestone XProtect API Gateway": "25.2.1.1", "Other": "1.0"}
    (root / ".host" / "installed-products.json").write_text(json.dumps(products))
    put(
        host,
        SERVER_CONFIG,
        b'<?xml version="1.0" encoding="utf-8"?>\n<server><version>25.2.0.1</version></server>',
    )
    assert versions(host) == {
        "gateway": {"version": "25.2.1.1", "source": "registry"},
        "management_server": {"version": "25.2.0.1", "source": SERVER_CONFIG},
        "install_dir_exists": True,
        "warnings": [],
    }


def test_read_versions_without_sources(host: DirectoryHost) -> None:
    result = versions(host, None)
    assert result["gateway"] is None and result["management_server"] is None
    assert versions(host)["management_server"] is None


def test_read_versions_with_broken_server_config(host: DirectoryHost) -> None:
    put(host, SERVER_CONFIG, b"<server><version>25.2")
    result = versions(host)
    assert result["management_server"] is None
    assert "not well-formed" in result["warnings"][0]
    put(host, SERVER_CONFIG, b"<config><version>1</version></config>")
    assert "no /server/version" in versions(host)["warnings"][0]


# -- misc ----------------------------------------------------------------------------


def test_directory_host_needs_a_root_outside_windows() -> None:
    if os.name == "nt":
        pytest.skip("identity mapping is valid on Windows")
    with pytest.raises(ValueError):
        DirectoryHost(None)


def test_results_are_json(host: DirectoryHost) -> None:
    put(host, APPSETTINGS, b"v1")
    calls: list[tuple[str, dict[str, Any]]] = [
        ("ping", {}),
        ("read_file", {"path": APPSETTINGS}),
        ("backup", {"path": APPSETTINGS, "backup_dir": BACKUPS, "keep": 2}),
        ("list_backups", {"path": APPSETTINGS, "backup_dir": BACKUPS}),
    ]
    for op, params in calls:
        result = host.run(op, params)
        assert json.loads(json.dumps(result)) == result

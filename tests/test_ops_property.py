"""Property: write_file/backup/restore never leave a torn target or a temp file behind."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gwctl.errors import OperationError
from gwctl.ops.pyimpl import DirectoryHost

TARGET = r"C:\Gateway\appsettings.Production.json"
BACKUPS = r"C:\Gateway\backups"

versions = st.binary(max_size=64)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("write"), versions),
        st.tuples(st.just("crash"), versions),
        st.tuples(st.just("backup"), st.integers(min_value=1, max_value=3)),
        st.tuples(st.just("restore"), st.integers(min_value=0, max_value=4)),
    ),
    max_size=25,
)


def write(host: DirectoryHost, data: bytes) -> None:
    digest = hashlib.sha256(data).hexdigest()
    params = {"path": TARGET, "sha256": digest, "expected_sha256": None}
    host.run("write_file", params, data)


def crash_write(host: DirectoryHost, data: bytes) -> None:
    """A write whose replace step dies: the target must not change."""
    import os

    real = os.replace

    def dies(*args: Any, **kwargs: Any) -> None:
        raise OSError(5, "power cut")

    os.replace = dies
    try:
        write(host, data)
    except OperationError as exc:
        assert exc.code == "io_error"
    finally:
        os.replace = real


def restore(host: DirectoryHost, index: int) -> None:
    listing = host.run("list_backups", {"path": TARGET, "backup_dir": BACKUPS})["backups"]
    backup_id = listing[index]["backup_id"] if index < len(listing) else None
    try:
        host.run("restore", {"path": TARGET, "backup_dir": BACKUPS, "backup_id": backup_id})
    except OperationError as exc:
        assert exc.code == "not_found" and not listing


@settings(max_examples=60, deadline=None)
@given(first=versions, ops=steps)
def test_target_is_always_a_written_version(first: bytes, ops: list[tuple[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "C" / "Gateway").mkdir(parents=True)
        host = DirectoryHost(root)
        target = host.map_path(TARGET)
        write(host, first)
        written: set[bytes | None] = {first}
        for kind, arg in ops:
            if kind == "write":
                write(host, arg)
                written.add(arg)
            elif kind == "crash":
                before = target.read_bytes() if target.exists() else None
                crash_write(host, arg)
                assert (target.read_bytes() if target.exists() else None) == before
            elif kind == "backup":
                host.run("backup", {"path": TARGET, "backup_dir": BACKUPS, "keep": arg})
            else:
                restore(host, arg)
            assert target.read_bytes() in written
            assert [p for p in root.rglob("*") if p.name.endswith((".tmp", ".stale"))] == []

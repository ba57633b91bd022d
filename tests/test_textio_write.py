"""gwctl.textio.write_atomic: the one way gwctl replaces a local file it owns (rendered
files, plans, fleets merged by import, the simulator's state)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gwctl.textio import write_atomic


def test_replaces_the_file_whole_with_the_mode_asked(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    target.write_bytes(b"old")
    write_atomic(target, b"new", 0o600)
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]  # no temp file left


def test_a_link_at_the_target_is_replaced_never_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(b"precious")
    target = tmp_path / "out.json"
    target.symlink_to(elsewhere)
    write_atomic(target, b"rendered")
    assert not target.is_symlink() and target.read_bytes() == b"rendered"
    assert elsewhere.read_bytes() == b"precious"


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]

"""Windows paths of the directory-host operations, and their place under a root.

A directory host keeps each drive as a directory (``<root>/C`` for ``C:``) and matches
path components case-insensitively, as NTFS does. Paths that could leave that tree or
that Windows would silently alter are refused (code ``bad_params``), so the twin and
the PowerShell scripts agree on which paths exist at all.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from gwctl.ops.params import bad

__all__ = ["child", "fold_name", "join_windows", "split_windows_path", "windows_leaf"]

_DRIVE_PATH = re.compile(r"^([A-Za-z]):[\\/]")
_BAD_NAME_CHARS = re.compile(r'[<>:"|?*\x00-\x1f]')
#: names Windows resolves to devices in any directory (C:\logs\NUL.txt is \\.\NUL)
_DEVICE_NAME = re.compile(r"^(?:CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])(?:\..*)?$", re.IGNORECASE)


def split_windows_path(path: str) -> tuple[str, list[str]]:
    """Drive letter (upper case) and components of an absolute Windows path.

    Refuses what could leave the mapped tree (``..``), what Windows would silently alter
    (trailing dots and spaces, device names) and characters no Windows file name can
    hold: the PowerShell operations refuse the same (``Test-PlainPath`` in common.ps1).
    """
    match = _DRIVE_PATH.match(path)
    if not match:
        raise bad(f"not an absolute Windows path (like C:\\dir\\file): {path!r}")
    parts = [part for part in re.split(r"[\\/]+", path[3:]) if part]
    for part in parts:
        if not _plain_component(part):
            raise bad(f"unsupported path component {part!r} in {path!r}")
    return match.group(1).upper(), parts


def _plain_component(part: str) -> bool:
    if part in (".", "..") or part != part.rstrip(". ") or _BAD_NAME_CHARS.search(part):
        return False
    if _DEVICE_NAME.match(part):
        return False
    try:
        part.encode("utf-8")  # lone surrogates can come through JSON, not onto a disk
    except UnicodeEncodeError:
        return False
    return True


def windows_leaf(path: str) -> str:
    """Last component of a Windows file path; refuses a bare drive."""
    parts = split_windows_path(path)[1]
    if not parts:
        raise bad(f"path names a drive, not a file: {path!r}")
    return parts[-1]


def join_windows(directory: str, name: str) -> str:
    return directory.rstrip("\\/") + "\\" + name


def fold_name(name: str) -> str:
    """Case key of a file name as NTFS compares them: per character, upper case.

    ``str.casefold`` would also equate ``ß`` with ``ss``, which Windows does not.
    """
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in name)


def child(parent: Path, name: str) -> Path:
    """Entry `name` of `parent`, matched case-insensitively when not there exactly."""
    exact = parent / name
    if os.path.lexists(exact) or not parent.is_dir():
        return exact
    key = fold_name(name)
    with os.scandir(parent) as entries:
        matches = sorted(entry.name for entry in entries if fold_name(entry.name) == key)
    return parent / matches[0] if matches else exact

"""The fixed set of remote operations (contract: docs/remote-operations.md).

Each operation is a PowerShell script shipped as package data (``<op>.ps1``), started on
Windows hosts by ``bootstrap.ps1``; ``pyimpl`` implements the same contract for
directory-backed hosts and ``wire`` encodes/decodes the stdin/stdout format.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

#: every operation name the contract defines, in the order of its table
OPERATIONS: tuple[str, ...] = (
    "ping",
    "read_file",
    "stat",
    "write_file",
    "backup",
    "list_backups",
    "restore",
    "recycle_app_pool",
    "app_pool_state",
    "read_versions",
    "read_host",
    "lock_acquire",
    "lock_release",
    "write_event",
    "read_events",
    "read_iis_log",
)

#: operations a transport may run again after an exchange broke mid-way: the read-only
#: ones, which neither change the host nor answer differently for having run before. Any
#: other operation is reported as failed instead, and the engine reads the host to learn
#: whether it took effect: run again, write_file and restore would answer changed=false
#: for their own landed change, lock_release released=false for its own release, backup
#: would add a backup, recycle_app_pool recycle twice and lock_acquire meet its own lock.
RETRYABLE_OPS: frozenset[str] = frozenset(
    {"ping", "read_file", "stat", "list_backups", "app_pool_state", "read_versions",
     "read_host", "read_events", "read_iis_log"}
)

#: name of the script that starts every operation (not an operation itself)
BOOTSTRAP = "bootstrap"

#: first line of every packaged script, followed by its name
HEADER_PREFIX = "# gwctl-operation: "


def _check_name(op: str) -> None:
    # a name becomes part of a file name: only the known ones may pass
    if op != BOOTSTRAP and op not in OPERATIONS:
        raise KeyError(f"unknown remote operation {op!r}")


def script_path(op: str) -> Path:
    """File system path of the packaged script of `op` (or of the bootstrap)."""
    _check_name(op)
    return Path(__file__).resolve().with_name(f"{op}.ps1")


#: replaced by the text of the named library script when an operation is read for sending
INCLUDE_PREFIX = "# gwctl-include: "
LIBRARIES = ("common.ps1", "hostfacts.ps1")


def compact(text: str) -> str:
    """A library's text as it travels: without its comment and blank lines and indentation.

    Every operation carries the libraries it includes, so their comments would ride along
    on every request; a diff's ``stat`` must fit one WinRM ``Send`` chunk. The libraries
    hold no here-string or block comment, whose lines would change meaning
    (tests/test_ops_scripts.py keeps it so).
    """
    kept = [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]
    return "\n".join(kept) + "\n"


def assemble(text: str, read: Callable[[str], str]) -> str:
    """An operation's text with its include lines replaced by the libraries they name.

    The shared functions live once, in ``common.ps1``; each operation still travels as
    one self-contained script, so the bootstrap and the host need no notion of includes.
    """
    out = []
    for line in text.splitlines(keepends=True):
        if line.startswith(INCLUDE_PREFIX):
            name = line[len(INCLUDE_PREFIX):].strip()
            if name not in LIBRARIES:
                raise KeyError(f"unknown library script {name!r}")
            out.append(compact(read(name)))
        else:
            out.append(line)
    return "".join(out)


def _read_packaged(name: str) -> str:
    return files(__name__).joinpath(name).read_text(encoding="utf-8")


def read_script(op: str) -> str:
    """Text of the script of `op` as it is sent (libraries included), or of the bootstrap."""
    _check_name(op)
    return assemble(_read_packaged(f"{op}.ps1"), _read_packaged)

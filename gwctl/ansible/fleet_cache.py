"""The validated fleet, once per ``ansible-playbook`` run instead of once per host and task.

Ansible runs every task of every host in a process of its own, forked from the
controller's main process, so an in-process cache dies with the task. The first worker
to need the fleet validates it under an exclusive lock and leaves the result in the
run's private local temporary directory (Ansible's ``DEFAULT_LOCAL_TMP``, mode 0700,
removed when the run ends); the others wait on that lock, then read it. The key is a
digest of the fleet's own bytes (every file ``load_fleet_source`` reads), its path and
gwctl's version, so a fleet edited during the run is validated again.

The cached value is the pickled `Fleet` model (secret references, never their values:
those are resolved per host, later) or the validation errors. Pickle is safe here
because only this run's processes, as this user, can write the directory.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pickle
from functools import lru_cache
from pathlib import Path

import gwctl
from gwctl import api
from gwctl.fleet.model import Fleet
from gwctl.problems import Level

Loaded = tuple[Fleet | None, list[str]]


def fleet_files(path: Path) -> list[Path]:
    """The files the fleet loader reads for `path` (a file, or a directory of YAML)."""
    if path.is_dir():
        return sorted((f for f in path.iterdir() if f.suffix in (".yaml", ".yml")
                       and f.is_file()), key=lambda f: f.name)
    return [path]


def digest(path: Path) -> str:
    h = hashlib.sha256(f"gwctl {gwctl.__version__}\0{path.resolve()}\0".encode())
    for f in fleet_files(path):
        h.update(f"{f.name}\0".encode())
        h.update(f.read_bytes() if f.is_file() else b"(missing)")
        h.update(b"\0")
    return h.hexdigest()


def validate(path: str) -> Loaded:
    """Load and validate: the fleet, or the errors that stop every host."""
    result = api.validate(path)
    errors = [f"{p.file}:{p.line}:{p.column}: {p.message} ({p.rule})"
              for p in result.problems if p.level is Level.ERROR and p.suppressed is None]
    return (result.fleet if not errors else None), errors


@lru_cache(maxsize=4)
def _in_process(path: str, key: str) -> Loaded:
    return validate(path)


def load(path: str, cache_dir: str | Path | None) -> Loaded:
    """The validated fleet at `path`, shared through `cache_dir` when given."""
    p = Path(path)
    key = digest(p) if p.exists() else "missing"
    if cache_dir is None or not Path(cache_dir).is_dir():
        return _in_process(path, key)
    base = Path(cache_dir) / f"gwctl-fleet-{key[:32]}"
    data = base.with_suffix(".pickle")
    fd = os.open(base.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if data.exists():
            loaded: Loaded = pickle.loads(data.read_bytes())  # see the docstring: our own file
            return loaded
        loaded = validate(path)
        partial = data.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(pickle.dumps(loaded))
        partial.chmod(0o600)
        partial.replace(data)
        return loaded
    finally:
        os.close(fd)

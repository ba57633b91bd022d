"""What a host with gwctl's JEA module installed lets run: the script allowlist and the
pinned directories (docs/jea.md).

`gwctl host-setup` writes the policy file beside the module; the bootstrap
(``Assert-GwctlScriptAllowed``, ``Assert-GwctlPathsPinned`` in bootstrap.ps1) and the
module's runner enforce it on Windows, and the simulator enforces it with the functions
here when an emulated host has the module installed. The digests are computed from the
packaged scripts when the file is generated, never kept by hand: an operation added to
gwctl.ops is in the next generated list.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gwctl.errors import OperationError
from gwctl.ops import OPERATIONS, read_script

MODULE_NAME = "GwctlOperations"
POLICY_FILE = f"{MODULE_NAME}.policy.json"
#: where the install script puts the module (PowerShell's system-wide module path)
MODULE_DIR = r"C:\Program Files\WindowsPowerShell\Modules" + "\\" + MODULE_NAME
POLICY_PATH = MODULE_DIR + "\\" + POLICY_FILE
POLICY_FORMAT = 1

#: operation parameters that name files or directories on the host
PATH_PARAMS = ("path", "paths", "backup_dir", "install_dir", "server_config", "log_dir")
#: every other parameter of gwctl.ops.params.PARAM_KEYS: a test requires each parameter
#: to be in one of the two lists, so a new path parameter cannot slip past the pins
#: parameters holding another operation's parameters (stat's ``host``: read_host's),
#: whose path parameters are checked the same way
NESTED_PARAMS = ("host",)
OTHER_PARAMS = ("content", "sha256", "expected_sha256", "keep", "backup_id", "name", "pool",
                "owner", "ttl_seconds", "token", "take_over", "event_id", "entry_type",
                "message", "sources", "since_minutes", "max_events", "max_bytes")

_HEX = re.compile(r"^[0-9a-f]{64}$")


def script_sha256(script: bytes) -> str:
    """Digest of a script's bytes exactly as sent, as the bootstrap computes it.

    A transport always sends the packaged text read with universal newlines
    (`gwctl.ops.read_script`), so a checkout's line endings cannot change it.
    """
    return hashlib.sha256(script).hexdigest()


def allowlist() -> dict[str, str]:
    """Operation -> digest of its packaged script as it is sent (libraries included)."""
    return {op: script_sha256(read_script(op).encode("utf-8")) for op in OPERATIONS}


@dataclass(frozen=True)
class Policy:
    scripts: Mapping[str, str]
    pinned: tuple[str, ...]


def policy_document(pinned: tuple[str, ...], generator: str) -> dict[str, Any]:
    return {"format": POLICY_FORMAT, "generated_by": generator, "scripts": allowlist(),
            "pinned": list(pinned)}


def load_policy(data: bytes) -> Policy:
    """The policy file; a damaged one allows nothing."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
        scripts = doc["scripts"]
        pinned = doc["pinned"]
        ok = (doc.get("format") == POLICY_FORMAT and isinstance(scripts, dict)
              and all(isinstance(v, str) and _HEX.match(v) for v in scripts.values())
              and isinstance(pinned, list) and all(isinstance(p, str) for p in pinned))
    except (UnicodeDecodeError, ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        # the bootstrap fails the same way: ConvertFrom-Json or the lookup throws
        raise OperationError(f"{POLICY_PATH} is damaged: no operation may run",
                             code="failed")
    return Policy(dict(scripts), tuple(pinned))


def check_script(policy: Policy, op: str, script: bytes) -> None:
    """Refuse a script whose digest is not the allowlisted one of `op` (as the bootstrap)."""
    digest = script_sha256(script)
    if policy.scripts.get(op) != digest:
        raise OperationError(
            f"the script sent for '{op}' is not in this host's gwctl allowlist "
            f"(sha256 {digest})",
            code="unknown_script")


def _components(path: str) -> list[str]:
    return [part.upper() for part in re.split(r"[\\/]+", path) if part]


def is_pinned(path: str, roots: tuple[str, ...]) -> bool:
    """Whether `path` is one of `roots` or lies below one, compared as Windows does."""
    parts = _components(path)
    if any(part in (".", "..") for part in parts):
        return False
    for root in roots:
        prefix = _components(root)
        if prefix and parts[: len(prefix)] == prefix:
            return True
    return False


def check_paths(policy: Policy, params: Mapping[str, Any]) -> None:
    """Refuse path parameters outside the pinned directories (code ``path_not_allowed``)."""
    if not policy.pinned:
        return
    scopes = [params, *(params[n] for n in NESTED_PARAMS if isinstance(params.get(n), Mapping))]
    for scope, name in ((scope, name) for scope in scopes for name in PATH_PARAMS):
        if name not in scope:
            continue
        value = scope[name]
        for path in value if isinstance(value, list) else [value]:
            if path is None:  # a null optional path (read_versions' server_config)
                continue
            if not isinstance(path, str) or not is_pinned(path, policy.pinned):
                raise OperationError(
                    f"parameter '{name}' is outside the directories this host's gwctl "
                    f"endpoint is pinned to: {path}",
                    code="path_not_allowed", detail={"parameter": name})

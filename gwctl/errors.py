"""Exception hierarchy.

`GwctlError` and its subclasses are *user* errors: bad input, unreachable hosts,
refused operations. The CLI prints them as one line and maps them to an exit code.
Anything else that escapes is a bug and is reported as such (with a traceback only
under ``--debug``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_DRIFT = 2
EXIT_USAGE = 64

_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def shown_file(name: str) -> str:
    """A file name as one line of output: quoted and escaped when it holds a line break
    or another control character (``'fleet\\n.yaml'``), as it is otherwise."""
    return repr(name) if _UNPRINTABLE.search(name) else name


class GwctlError(Exception):
    """A problem the user can fix; printed without a traceback."""

    exit_code = EXIT_FAILED

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        rule: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.rule = rule

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = shown_file(self.file)
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        suffix = f" ({self.rule})" if self.rule else ""
        return f"{where}{self.message}{suffix}"


class UsageError(GwctlError):
    """Wrong command-line usage (exit 64, like sysexits EX_USAGE)."""

    exit_code = EXIT_USAGE


class InputError(GwctlError):
    """An input file cannot be read or parsed (encoding, syntax, size, structure)."""


class SecretError(GwctlError):
    """A secret reference cannot be resolved."""


class TransportError(GwctlError):
    """A host cannot be reached or a remote operation failed in transit."""


class CredentialsExpired(TransportError):
    """The logon credentials (a Kerberos ticket) expired: every further host would fail
    alike, so a rollout stops here whatever its failure budget."""


class OperationError(GwctlError):
    """A remote operation ran and reported failure (lock held, hash mismatch, ...).

    ``code`` is the machine-readable reason from docs/remote-operations.md; ``detail``
    carries its JSON data (e.g. the lock holder for ``locked``), never secrets.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "failed",
        detail: Mapping[str, Any] | None = None,
        **kw: object,
    ) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.code = code
        self.detail: dict[str, Any] = dict(detail or {})

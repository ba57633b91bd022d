"""The transport interface every connector implements.

The engine only ever calls `Transport.run`: one named remote operation, its parameters
as JSON-able data, and an optional payload (file bytes to upload). Operation names and
their parameters/results are documented in ``docs/remote-operations.md``; the PowerShell
implementations live in ``gwctl/ops/*.ps1`` and a Python implementation of the same
contract (for local directories and the simulator) in ``gwctl/ops/pyimpl.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any


class Transport(ABC):
    """One connection to one host."""

    #: inventory name of the host, used in messages
    name: str

    @abstractmethod
    def run(
        self, op: str, params: Mapping[str, Any], payload: bytes | None = None
    ) -> dict[str, Any]:
        """Run operation `op` on the host and return its JSON result.

        Raises `gwctl.errors.TransportError` when the host cannot be reached or the
        exchange breaks, and `gwctl.errors.OperationError` when the operation itself
        reports failure (its ``code`` tells which, e.g. ``locked``, ``conflict``).
        """

    def close(self) -> None:  # noqa: B027 - optional hook, most transports need none
        """Release the connection; the default has nothing to release."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

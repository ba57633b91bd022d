"""The transport interface every connector implements.

The engine only ever calls `Transport.run`: one named remote operation, its parameters
as JSON-able data, and an optional payload (file bytes to upload). Operation names and
their parameters/results are documented in ``docs/remote-operations.md``; the PowerShell
implementations live in ``gwctl/ops/*.ps1`` and a Python implementation of the same
contract (for local directories and the simulator) in ``gwctl/ops/pyimpl.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from gwctl.ops.batch import Step


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

    @abstractmethod
    def run_batch(self, steps: Sequence[Step]) -> list[dict[str, Any]]:
        """Run `steps` in order as one remote command, stopping at the first failure.

        Returns every step's result. Raises `gwctl.ops.batch.BatchError` (an
        `OperationError` with the failed step's code, plus the results of the steps before
        it and the operations that did not run) when a step fails, and `TransportError`
        when the exchange breaks: then which steps ran is unknown. Only a batch of
        read-only operations is retried (`gwctl.ops.batch.retryable`).
        """

    def close(self) -> None:  # noqa: B027 - optional hook, most transports need none
        """Release the connection; the default has nothing to release."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

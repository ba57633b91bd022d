"""Fault injection for the WS-Management endpoint, per emulated host, changeable at run time.

A `HostFaults` value describes what goes wrong for one host; a `FaultTable` maps host names
(case-insensitive; ``"*"`` = every host without an entry of its own) to them and keeps the
counters. Setting or updating a host's faults resets its counters, so "the first K
occurrences" always counts from the moment the rule was set.

Steps are named after the WinRM shell operations: ``create``, ``command``, ``send`` (every
Send), ``send:<n>`` (the n-th Send of a command, from 1), ``receive``, ``signal``,
``delete``. Rules are checked in this order at each step: drop, fault, timeout_receives.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gwctl.sim.wsman.soap import PROVIDER_FAILURE

STEPS = ("create", "command", "send", "receive", "signal", "delete")
WILDCARD = "*"


def check_step(step: str) -> str:
    """Validate a step name (``send:3`` included) and return it."""
    name, sep, number = step.partition(":")
    if name not in STEPS or (sep and (name != "send" or not number.isdigit() or int(number) < 1)):
        raise ValueError(f"unknown WinRM step {step!r}: use one of {', '.join(STEPS)} or send:<n>")
    return step


def step_matches(rule: str, step: str) -> bool:
    """Does `rule` (``send`` or ``send:2``) select the concrete `step` (``send:2``)?"""
    return rule == step or (rule == "send" and step.startswith("send:"))


@dataclass(frozen=True)
class HostFaults:
    """What goes wrong for one host.

    - ``latency_ms``: added before every HTTP response (each round trip, 401s included).
    - ``drop_after_bytes``: once the request bodies received for the host (raw, as on the
      wire) reach N bytes, read up to N and close the TCP connection without answering.
      Fires once, then disarms (so a retry can succeed).
    - ``drop_at`` / ``drop_times``: close the connection at that step, for the first K
      occurrences (None: every time). ``drop_after_processing`` performs the step first and
      then drops instead of answering — the lost-response case.
    - ``timeout_receives``: answer the first N Receives with the operation-timeout fault
      (2150858793) at once, without waiting for OperationTimeout.
    - ``fault_at`` / ``fault_code`` / ``fault_times``: answer that step with a WSMan fault.
    - ``kill_batch_at``: the host's PowerShell dies right before step N (from 1) of the next
      batch of operations it runs (docs/remote-operations.md, "Batches"): the steps before
      it took effect, it and the later ones never run, no result line is printed. Fires
      once. Read by the command handler (`gwctl.sim.winrm_handler`), not by the transport.
    """

    latency_ms: float = 0.0
    drop_after_bytes: int | None = None
    drop_at: str | None = None
    drop_times: int | None = None
    drop_after_processing: bool = False
    timeout_receives: int = 0
    fault_at: str | None = None
    fault_code: int = PROVIDER_FAILURE
    fault_times: int | None = None
    kill_batch_at: int | None = None

    def __post_init__(self) -> None:
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if self.drop_after_bytes is not None and self.drop_after_bytes < 0:
            raise ValueError("drop_after_bytes must be >= 0")
        if self.timeout_receives < 0:
            raise ValueError("timeout_receives must be >= 0")
        for name in ("drop_times", "fault_times", "kill_batch_at"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 or None (every time)")
        if self.drop_at is not None:
            check_step(self.drop_at)
        if self.fault_at is not None:
            check_step(self.fault_at)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> HostFaults:
        """Build from a fault profile (YAML/JSON); unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault option(s): {', '.join(unknown)}")
        return cls(**dict(data))


class Action(enum.Enum):
    NONE = "none"
    DROP = "drop"  # close the connection before performing the step
    DROP_AFTER = "drop_after"  # perform the step, then close without answering
    FAULT = "fault"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class Decision:
    action: Action
    code: int = 0


_NOTHING = Decision(Action.NONE)
_NO_FAULTS = HostFaults()  # one instance: counters are keyed on the spec's identity


@dataclass
class _Counters:
    spec: HostFaults
    drops: int = 0
    faults: int = 0
    timeouts: int = 0
    body_bytes: int = 0
    bytes_fired: bool = False
    batch_killed: bool = False


class FaultTable:
    """Thread-safe host → `HostFaults` table with the counters the rules consume."""

    def __init__(self, initial: Mapping[str, HostFaults] | None = None) -> None:
        self._lock = threading.Lock()
        self._specs: dict[str, HostFaults] = {}
        self._counters: dict[str, _Counters] = {}
        for host, spec in (initial or {}).items():
            self._specs[host.lower()] = spec

    def set(self, host: str, faults: HostFaults | None = None, **fields: Any) -> HostFaults:
        """Replace the host's faults (`faults`, or a new `HostFaults(**fields)`)."""
        spec = faults if faults is not None else HostFaults(**fields)
        if faults is not None and fields:
            spec = dataclasses.replace(faults, **fields)
        with self._lock:
            self._specs[host.lower()] = spec
            self._reset(host.lower())
        return spec

    def update(self, host: str, **fields: Any) -> HostFaults:
        """Change some fields of the host's faults (starting from its current ones)."""
        with self._lock:
            key = host.lower()
            spec = dataclasses.replace(self._resolve(key), **fields)
            self._specs[key] = spec
            self._reset(key)
        return spec

    def clear(self, host: str | None = None) -> None:
        """Remove the faults of `host`, or of every host."""
        with self._lock:
            if host is None:
                self._specs.clear()
                self._counters.clear()
            else:
                self._specs.pop(host.lower(), None)
                self._reset(host.lower())

    def get(self, host: str) -> HostFaults:
        with self._lock:
            return self._resolve(host.lower())

    # -- used by the server ------------------------------------------------------------

    def latency(self, host: str) -> float:
        """Seconds to wait before answering a request for `host`."""
        return self.get(host).latency_ms / 1000.0

    def body_allowance(self, host: str, length: int) -> int | None:
        """Bytes of a `length`-byte body to read before dropping; None: read it all."""
        with self._lock:
            state = self._state(host.lower())
            limit = state.spec.drop_after_bytes
            if limit is None or state.bytes_fired:
                return None
            if state.body_bytes + length < limit:
                state.body_bytes += length
                return None
            allowance = max(0, limit - state.body_bytes)
            state.body_bytes = limit
            state.bytes_fired = True
            return allowance

    def kills_batch_step(self, host: str, index: int) -> bool:
        """Whether the host's process dies before batch step `index` (from 0); consumes
        the rule."""
        with self._lock:
            state = self._state(host.lower())
            if state.batch_killed or state.spec.kill_batch_at != index + 1:
                return False
            state.batch_killed = True
            return True

    def decide(self, host: str, step: str) -> Decision:
        """What to do at `step` (``send:<n>`` for Sends); consumes the rule's counters."""
        with self._lock:
            state = self._state(host.lower())
            spec = state.spec
            if (
                spec.drop_at
                and step_matches(spec.drop_at, step)
                and (spec.drop_times is None or state.drops < spec.drop_times)
            ):
                state.drops += 1
                return Decision(Action.DROP_AFTER if spec.drop_after_processing else Action.DROP)
            if (
                spec.fault_at
                and step_matches(spec.fault_at, step)
                and (spec.fault_times is None or state.faults < spec.fault_times)
            ):
                state.faults += 1
                return Decision(Action.FAULT, spec.fault_code)
            if step == "receive" and state.timeouts < spec.timeout_receives:
                state.timeouts += 1
                return Decision(Action.TIMEOUT)
            return _NOTHING

    # -- internals (lock held) ---------------------------------------------------------

    def _resolve(self, key: str) -> HostFaults:
        spec = self._specs.get(key)
        if spec is None:
            spec = self._specs.get(WILDCARD, _NO_FAULTS)
        return spec

    def _state(self, key: str) -> _Counters:
        spec = self._resolve(key)
        state = self._counters.get(key)
        if state is None or state.spec is not spec:
            # a changed wildcard entry also restarts the counters of the hosts it covers
            state = self._counters[key] = _Counters(spec)
        return state

    def _reset(self, key: str) -> None:
        if key == WILDCARD:
            self._counters.clear()
        else:
            self._counters.pop(key, None)

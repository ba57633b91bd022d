"""Counting what a simulated site's hosts are asked to run, by operation.

Wraps the WS-Management endpoint's per-host handlers: every WinRS command (its stdin's
operation, a batch's joined with '+') and every PSRP pipeline of a session configuration
(each command's `-Request`, the commands of one pipeline joined with ' | ').
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gwctl.ops.wire import split_stdin

if TYPE_CHECKING:
    from gwctl.sim.server import SimSite
    from gwctl.sim.wsman.psrp import Invocation


def operations(stdin: bytes) -> str:
    header, _ = split_stdin(stdin)
    if header.get("batch"):
        return "+".join(step["op"] for step in header["batch"])
    return str(header.get("op"))


class RemoteCounter:
    def __init__(self, site: SimSite) -> None:
        self.lock = threading.Lock()
        self.commands: dict[str, list[str]] = defaultdict(list)
        self.pipelines: dict[str, list[str]] = defaultdict(list)
        #: WinRS commands since the counter was made (not reset by `take`)
        self.winrs_commands = 0
        assert site.wsman is not None
        inner = site.wsman.resolver

        def resolve(host: str) -> Any:
            handler = inner(host)
            return None if handler is None else _CountedHost(self, host.lower(), handler)

        site.wsman.resolver = resolve

    def take(self) -> dict[str, list[str]]:
        """The WinRS commands per host since the last take."""
        with self.lock:
            seen, self.commands = dict(self.commands), defaultdict(list)
        return seen

    def take_pipelines(self) -> dict[str, list[str]]:
        """The PSRP pipelines per host since the last take."""
        with self.lock:
            seen, self.pipelines = dict(self.pipelines), defaultdict(list)
        return seen


class _CountedHost:
    def __init__(self, counter: RemoteCounter, host: str, handler: Any) -> None:
        self.counter, self.host, self.handler = counter, host, handler

    def run(self, command: str, arguments: list[str], stdin: bytes) -> Any:
        what = operations(stdin)
        with self.counter.lock:
            self.counter.winrs_commands += 1
            self.counter.commands[self.host].append(what)
        return self.handler.run(command, arguments, stdin)

    def session_configuration(self, name: str) -> Any:
        inner = self.handler.session_configuration(name)
        return None if inner is None else _CountedConfiguration(self, inner)


class _CountedConfiguration:
    def __init__(self, host: _CountedHost, inner: Any) -> None:
        self.host, self.inner = host, inner

    def invoke(self, commands: Sequence[Invocation], input: Sequence[Any]) -> list[Any]:
        ops = [operations(str(dict(c.parameters)["Request"]).encode()) for c in commands]
        with self.host.counter.lock:
            self.host.counter.pipelines[self.host.host].append(" | ".join(ops))
        return list(self.inner.invoke(commands, input))

"""Shells and commands of the emulated WinRM service, and the pluggable command handler.

State machine per command: created by Command; Send appends stdin until a Send with
``End="true"`` closes it, which starts the command; a Receive on a command that never got
stdin starts it with empty stdin (pywinrm's ``run_cmd`` sends none). The handler runs on a
thread of its own, so a Receive can time out with the WSMan operation-timeout fault while
it runs, as on Windows. Output is delivered in Receive-sized pieces; the last piece carries
``CommandState/Done`` and the exit code.

Windows' quotas are kept because real clients have to live with them: at most
``max_shells_per_user`` shells per user and host (MaxShellsPerUser, 30), and at most
``max_commands_per_shell`` commands per shell — WinRS never gives an operation back, so
Ansible re-creates the shell on ERROR_WSMAN_QUOTA_MAX_OPERATIONS.
"""

from __future__ import annotations

import logging
import shlex
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from gwctl.sim.wsman.soap import (
    INVALID_COMMAND,
    OPERATION_TIMEOUT,
    QUOTA_MAX_OPERATIONS,
    QUOTA_MAX_SHELLS,
    SHELL_NOT_FOUND,
    WsmanFault,
)

log = logging.getLogger("gwctl.sim.wsman")


@dataclass(frozen=True)
class CommandResult:
    """What a command produced."""

    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0


class CommandHandler(Protocol):
    """Executes the commands of one emulated host."""

    def run(self, command: str, arguments: list[str], stdin: bytes) -> CommandResult:
        """Run `command` (the ``rsp:Command`` text) with its ``rsp:Arguments`` texts.

        pywinrm joins all arguments into one ``rsp:Arguments`` element; use
        `command_line` to see the command line cmd.exe would see.
        """
        ...


#: host name (from the URL path) → its handler, or None when no such host exists
Resolver = Callable[[str], "CommandHandler | None"]


def command_line(command: str, arguments: list[str]) -> str:
    """The command line as cmd.exe receives it: the command and its arguments, space-joined."""
    return " ".join([command, *arguments]).strip()


def split_command_line(command: str, arguments: list[str]) -> list[str]:
    """argv of the command line, split on whitespace with double quotes grouping (Windows-like)."""
    lexer = shlex.shlex(command_line(command, arguments), posix=True)
    lexer.whitespace_split = True
    lexer.quotes = '"'
    lexer.escape = ""
    return list(lexer)


@dataclass
class ReceiveChunk:
    stdout: bytes
    stderr: bytes
    done: bool
    exit_code: int


@dataclass
class _Command:
    id: str
    command: str
    arguments: list[str]
    handler: CommandHandler
    stdin: bytearray = field(default_factory=bytearray)
    sends: int = 0
    stdin_closed: bool = False
    started: bool = False
    terminated: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    result: CommandResult | None = None
    stdout_pos: int = 0
    stderr_pos: int = 0


@dataclass
class _Shell:
    id: str
    host: str
    owner: str
    input_streams: str
    output_streams: str
    last_used: float
    commands: dict[str, _Command] = field(default_factory=dict)
    commands_run: int = 0


class ShellManager:
    """All shells of all hosts of one server. Thread-safe."""

    def __init__(
        self,
        *,
        max_receive_bytes: int = 96 * 1024,
        max_shells_per_user: int = 30,
        max_commands_per_shell: int = 1500,
        idle_timeout: float = 7200.0,
    ) -> None:
        self.max_receive_bytes = max_receive_bytes
        self.max_shells_per_user = max_shells_per_user
        self.max_commands_per_shell = max_commands_per_shell
        self.idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._shells: dict[str, _Shell] = {}
        self._runners: set[threading.Thread] = set()
        self._stopping = threading.Event()

    # -- shells -------------------------------------------------------------------------

    def create(self, host: str, owner: str, *, input_streams: str, output_streams: str) -> str:
        now = time.monotonic()
        with self._lock:
            self._expire_idle(now)
            mine = [s for s in self._shells.values() if s.host == host and s.owner == owner]
            if len(mine) >= self.max_shells_per_user:
                raise WsmanFault(QUOTA_MAX_SHELLS, limit=self.max_shells_per_user)
            shell_id = str(uuid.uuid4()).upper()
            self._shells[shell_id] = _Shell(
                shell_id,
                host,
                owner,
                input_streams or "stdin",
                output_streams or "stdout stderr",
                now,
            )
        return shell_id

    def delete(self, host: str, owner: str, shell_id: str | None) -> None:
        with self._lock:
            shell = self._shell(host, owner, shell_id)
            del self._shells[shell.id]
            for cmd in shell.commands.values():
                cmd.terminated = True

    def forget_shells(self, host: str | None = None) -> None:
        """Drop the shells (of `host`) as a restart of the WinRM service would."""
        with self._lock:
            for shell_id in [k for k, s in self._shells.items() if host is None or s.host == host]:
                del self._shells[shell_id]

    def shell_count(self, host: str | None = None) -> int:
        """Open shells (of `host`); for tests that check clients clean up."""
        with self._lock:
            return sum(1 for s in self._shells.values() if host is None or s.host == host)

    # -- commands -----------------------------------------------------------------------

    def command(
        self,
        host: str,
        owner: str,
        shell_id: str | None,
        command: str,
        arguments: list[str],
        handler: CommandHandler,
    ) -> str:
        with self._lock:
            shell = self._shell(host, owner, shell_id)
            if shell.commands_run >= self.max_commands_per_shell:
                raise WsmanFault(QUOTA_MAX_OPERATIONS, limit=self.max_commands_per_shell)
            shell.commands_run += 1
            command_id = str(uuid.uuid4()).upper()
            shell.commands[command_id] = _Command(command_id, command, arguments, handler)
        return command_id

    def next_send_number(self, host: str, owner: str, shell_id: str | None, command_id: str) -> int:
        """The number (from 1) the next Send of the command will have; 0 if unknown."""
        with self._lock:
            try:
                return self._command(host, owner, shell_id, command_id).sends + 1
            except WsmanFault:
                return 0

    def send(
        self, host: str, owner: str, shell_id: str | None, command_id: str, data: bytes, end: bool
    ) -> None:
        with self._lock:
            cmd = self._command(host, owner, shell_id, command_id)
            if cmd.stdin_closed:
                raise WsmanFault(INVALID_COMMAND, "The input stream of the command is closed.")
            cmd.sends += 1
            cmd.stdin += data
            if end:
                cmd.stdin_closed = True
                self._start(cmd)

    def receive(
        self, host: str, owner: str, shell_id: str | None, command_id: str, timeout: float
    ) -> ReceiveChunk:
        with self._lock:
            cmd = self._command(host, owner, shell_id, command_id)
            if not cmd.started and cmd.sends == 0:
                cmd.stdin_closed = True
                self._start(cmd)
        deadline = time.monotonic() + timeout
        while not cmd.done.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stopping.is_set():
                raise WsmanFault(OPERATION_TIMEOUT)
            cmd.done.wait(min(remaining, 0.5))
        with self._lock:
            result = cmd.result or CommandResult(exit_code=1)
            budget = self.max_receive_bytes
            out = result.stdout[cmd.stdout_pos : cmd.stdout_pos + budget]
            cmd.stdout_pos += len(out)
            err = result.stderr[cmd.stderr_pos : cmd.stderr_pos + budget - len(out)]
            cmd.stderr_pos += len(err)
            finished = cmd.stdout_pos >= len(result.stdout) and cmd.stderr_pos >= len(result.stderr)
        return ReceiveChunk(out, err, finished, result.exit_code)

    def signal(self, host: str, owner: str, shell_id: str | None, command_id: str) -> None:
        with self._lock:
            shell = self._shell(host, owner, shell_id)
            cmd = shell.commands.pop(command_id, None)
            # terminating a finished or unknown command is not an error: it is what every
            # client does after the last Receive
            if cmd is not None:
                cmd.terminated = True

    def wait_idle(self, timeout: float) -> bool:
        """Wait (bounded) until no command handler is running; True if none is.

        A dropped connection does not stop a command the service already started, so a test
        that counts what ran must wait for the service's own record, not for the client.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                runners = list(self._runners)
            if not runners:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            runners[0].join(remaining)

    def stop(self, timeout: float = 5.0) -> None:
        """Forget every shell and wait (bounded) for running handlers."""
        self._stopping.set()
        with self._lock:
            self._shells.clear()
            runners = list(self._runners)
        deadline = time.monotonic() + timeout
        for runner in runners:
            runner.join(max(0.0, deadline - time.monotonic()))

    # -- internals (lock held) ------------------------------------------------------------

    def _shell(self, host: str, owner: str, shell_id: str | None) -> _Shell:
        shell = self._shells.get((shell_id or "").upper())
        # another user's (or another host's) shell does not exist for this caller
        if shell is None or shell.host != host or shell.owner != owner:
            raise WsmanFault(SHELL_NOT_FOUND, shell_id=shell_id or "")
        shell.last_used = time.monotonic()
        return shell

    def _command(self, host: str, owner: str, shell_id: str | None, command_id: str) -> _Command:
        cmd = self._shell(host, owner, shell_id).commands.get(command_id.upper())
        if cmd is None:
            raise WsmanFault(
                INVALID_COMMAND, f"The command {command_id} does not exist in the shell."
            )
        return cmd

    def _expire_idle(self, now: float) -> None:
        for shell_id in [
            k for k, s in self._shells.items() if now - s.last_used > self.idle_timeout
        ]:
            del self._shells[shell_id]

    def _start(self, cmd: _Command) -> None:
        cmd.started = True
        runner = threading.Thread(
            target=self._run, args=(cmd,), name=f"wsman-cmd-{cmd.id[:8]}", daemon=True
        )
        self._runners.add(runner)
        runner.start()

    def _run(self, cmd: _Command) -> None:
        try:
            result = cmd.handler.run(cmd.command, list(cmd.arguments), bytes(cmd.stdin))
            if not isinstance(result, CommandResult):
                raise TypeError(f"handler returned {type(result).__name__}, not CommandResult")
        except Exception as exc:  # a handler bug must reach the client, not kill the service
            log.exception(
                "command handler failed: %.200s", command_line(cmd.command, cmd.arguments)
            )
            result = CommandResult(
                b"", f"simulator: command handler failed: {exc!r}\r\n".encode(), 1
            )
        cmd.result = result
        cmd.done.set()
        with self._lock:
            self._runners.discard(threading.current_thread())

"""Secrets: references resolved only when files are rendered for a host, masked elsewhere.

A secret value in the fleet is either a reference -- ``env:NAME`` (an environment
variable) or ``file:PATH`` (a file's content without its final newline; relative to the
fleet file; ``file://`` URLs are not references) -- or clear text, which works but is
reported by a rule. References work for TURN credentials and for any string value of the
raw ``appsettings``, of ``reverse_proxy`` routes and clusters and of nlog extra targets'
attributes. Rendered data carries `Secret` objects; serialising them either resolves them
(files for a host) or masks them (everything a person or a log sees).

A reference that resolves to an obvious placeholder (empty, blank, ``...``, ``changeme``,
``<secret>``, ``TODO`` and their like) is refused: a gateway given such a TURN credential
starts, and every relayed WebRTC session fails later, far from the cause.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from gwctl.errors import InputError, SecretError
from gwctl.problems import Location
from gwctl.textio import read_bytes

PREFIXES = ("env:", "file:")
#: a password or token is bytes long; anything near this is the wrong file
MAX_SECRET_FILE_BYTES = 64 * 1024


#: values people write where the real secret belongs (compared case-insensitively, with
#: separators removed, so ``Change-Me`` and ``CHANGE_ME`` match too)
_PLACEHOLDERS = frozenset({
    "changeme", "changethis", "replaceme", "todo", "fixme", "tbd", "xxx", "xxxx",
    "secret", "password", "credential", "placeholder", "redacted", "dummy", "example",
})
#: the whole value an ellipsis, asterisks, or one <...>/{...} token such as <secret> or {{ x }}
_PLACEHOLDER_SHAPES = re.compile(r"\.{3,}|…+|<[^<>]*>|\{\{?[^{}]*\}?\}|\*+")


def placeholder_reason(value: str) -> str | None:
    """Why `value` looks like a placeholder rather than a secret, or None."""
    if not value:
        return "it is empty"
    text = value.strip()
    if not text:
        return "it is only whitespace"
    if _PLACEHOLDER_SHAPES.fullmatch(text):
        return f"{text!r} is a placeholder"
    if re.sub(r"[\s_.-]+", "", text).lower() in _PLACEHOLDERS:
        return f"{text!r} is a placeholder"
    return None


def is_reference(value: str) -> bool:
    return value.startswith(PREFIXES) and not value.startswith("file://")


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret as declared: a reference, or a literal (clear text in the fleet)."""

    declared: str
    location: Location | None = None

    @property
    def is_reference(self) -> bool:
        return is_reference(self.declared)

    def masked(self) -> str:
        return f"(secret {self.declared})" if self.is_reference else "(secret)"

    def __repr__(self) -> str:
        # never let a literal reach a log through repr()
        return f"Secret({self.masked()})"

    __str__ = masked


class SecretResolver:
    """Resolves references once each; errors name the file and line that declared them."""

    def __init__(self, base_dir: Path, env: dict[str, str] | None = None) -> None:
        self.base_dir = base_dir
        self.env = os.environ if env is None else env
        self._cache: dict[str, str] = {}

    def resolve(self, secret: Secret) -> str:
        from gwctl.output import redact
        if not secret.is_reference:
            redact.register(secret.declared)
            return secret.declared
        cached = self._cache.get(secret.declared)
        if cached is not None:
            return cached
        value = self._lookup(secret)
        reason = placeholder_reason(value)
        if reason is not None:
            loc = secret.location or Location()
            source = ("environment variable " + secret.declared[4:]
                      if secret.declared.startswith("env:") else "the file it names")
            # the value is shown: it is a placeholder, not a secret
            raise SecretError(f"secret reference {secret.declared!r}: {source} holds no "
                              f"secret ({reason}); set the real value", file=loc.file,
                              line=loc.line, column=loc.column, rule="secret-placeholder")
        redact.register(value)
        self._cache[secret.declared] = value
        return value

    def _lookup(self, secret: Secret) -> str:
        loc = secret.location or Location()
        kind, _, name = secret.declared.partition(":")
        if kind == "env":
            value = self.env.get(name)
            if value is None:
                raise SecretError(f"secret reference {secret.declared!r}: environment "
                                  f"variable {name} is not set", file=loc.file, line=loc.line,
                                  column=loc.column, rule="secret-unresolved")
            return value
        path = Path(name).expanduser()
        if not path.is_absolute():
            path = self.base_dir / path
        try:
            data = read_bytes(path, max_bytes=MAX_SECRET_FILE_BYTES)
        except InputError as exc:
            raise _unreadable(secret, path, exc.message, loc) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            reason = f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
            raise _unreadable(secret, path, reason, loc) from None
        return text.removesuffix("\n").removesuffix("\r")


def _unreadable(secret: Secret, path: Path, reason: str, loc: Location) -> SecretError:
    return SecretError(f"secret reference {secret.declared!r}: cannot read {path}: {reason}",
                       file=loc.file, line=loc.line, column=loc.column,
                       rule="secret-unresolved")

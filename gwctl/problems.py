"""Problems: what validation and linting report, in one shape for every front end."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Location:
    file: str | None = None
    line: int | None = None
    column: int | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding. ``path`` is a JSON pointer into the document named by ``file``."""

    rule: str
    level: Level
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: str = ""
    #: which gateway/site the finding is about ("site/gateway"), when known
    subject: str | None = None
    #: set when an inline or fleet-level directive suppressed the problem
    suppressed: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def at(self, loc: Location | None) -> Problem:
        if loc is None:
            return self
        return replace(self, file=loc.file, line=loc.line, column=loc.column)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.file or "", self.line or 0, self.column or 0, self.rule, self.message)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule": self.rule,
            "level": str(self.level),
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }
        if self.subject is not None:
            data["subject"] = self.subject
        if self.suppressed is not None:
            data["suppressed"] = True
            data["reason"] = self.suppressed
        if self.extra:
            data["extra"] = self.extra
        return data


def active(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.suppressed is None]


def has_errors(problems: list[Problem]) -> bool:
    return any(p.level is Level.ERROR for p in active(problems))


def escape_pointer_token(token: str | int) -> str:
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str | int) -> str:
    return "".join("/" + escape_pointer_token(t) for t in tokens)

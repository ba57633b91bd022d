"""Strict, deterministic JSON as gwctl writes it to hosts.

Same input, same bytes, on every machine: two-space indentation, keys in the order the
renderer built them, non-ASCII kept as UTF-8 (no BOM: the gateway reads both, and
tools diff UTF-8 without one more cleanly), Windows line endings (the files live on
Windows and are opened in Notepad), and a final newline.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import orjson

from gwctl.errors import GwctlError
from gwctl.fleet.secrets import Secret, SecretResolver

SecretMode = Literal["resolve", "mask"]
#: Secret is a dataclass: without PASSTHROUGH orjson would serialise its fields
_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(data: Any, *, secrets: SecretMode = "mask",
          resolver: SecretResolver | None = None, crlf: bool = True) -> str:
    def default(obj: Any) -> Any:
        if isinstance(obj, Secret):
            if secrets == "resolve":
                if resolver is None:
                    raise ValueError("resolving secrets needs a SecretResolver")
                return resolver.resolve(obj)
            return obj.masked()
        raise TypeError(f"cannot serialise {type(obj).__name__}")

    # orjson writes the same layout as json.dumps(indent=2, ensure_ascii=False) an order
    # of magnitude faster (the json module has no C path for indented output); integers
    # beyond 64 bits are the one thing it refuses, and the json module takes those
    try:
        text = orjson.dumps(data, default=default, option=_OPTIONS).decode()
    except orjson.JSONEncodeError as exc:
        if isinstance(exc.__cause__, ValueError | GwctlError):
            raise exc.__cause__ from None
        text = json.dumps(data, indent=2, ensure_ascii=False, default=default)
    text += "\n"
    return text.replace("\n", "\r\n") if crlf else text


def encode(text: str) -> bytes:
    return text.encode("utf-8")

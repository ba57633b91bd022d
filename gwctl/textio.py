"""Reading text files the way Windows tools write them.

Windows editors save UTF-8 with a BOM, Notepad once defaulted to UTF-16 LE with a BOM,
and .NET's file readers detect both from the byte-order mark. gwctl accepts the same and
refuses (with a message naming the file) what .NET would misread.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from gwctl.errors import InputError

#: refuse larger inputs before parsing: a configuration file is kilobytes, and a huge
#: file is a mistake (or an attack) that would otherwise cost seconds and memory.
MAX_INPUT_BYTES = 16 * 1024 * 1024

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def decode(data: bytes, *, file: str) -> str:
    """Decode by BOM, else strict UTF-8; never guess a legacy code page."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            try:
                return body.decode(encoding)
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"not valid {encoding.upper()} despite its byte-order mark "
                    f"(byte offset {exc.start + len(bom)})",
                    file=file,
                    rule="encoding",
                ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        hint = ""
        if b"\x00" in data[:64]:
            hint = "; it looks like UTF-16 without a byte-order mark: save it as UTF-8"
        raise InputError(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}){hint}",
            file=file,
            line=line,
            rule="encoding",
        ) from None


def read_text(path: str | Path, *, max_bytes: int = MAX_INPUT_BYTES) -> str:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise InputError(
                f"file is {size:,} bytes; the limit is {max_bytes:,}", file=str(path), rule="size"
            )
        data = p.read_bytes()
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", file=str(path)) from None
    except FileNotFoundError:
        raise InputError("no such file", file=str(path)) from None
    except PermissionError:
        raise InputError("permission denied", file=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=str(path)) from None
    return decode(data, file=str(path))

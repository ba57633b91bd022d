"""Reading text files the way Windows tools write them.

Windows editors save UTF-8 with a BOM, Notepad once defaulted to UTF-16 LE with a BOM,
and .NET's file readers detect both from the byte-order mark. gwctl accepts the same and
refuses (with a message naming the file) what .NET would misread.
"""

from __future__ import annotations

import codecs
import os
import stat
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


def nul_hint(text: str) -> str:
    """What to say about a NUL character: UTF-16 read as UTF-8 starts NUL after NUL."""
    head = text[:64]
    if head.count("\x00") * 4 >= len(head) > 0:
        return "; it looks like UTF-16 without a byte-order mark: save it as UTF-8"
    return ""


def decode(data: bytes, *, file: str) -> str:
    """Decode by BOM, else strict UTF-8; never guess a legacy code page."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            body = data[len(bom) :]
            try:
                return body.decode(encoding)
            except UnicodeDecodeError as exc:
                good = body[: exc.start].decode(encoding, "replace")
                raise InputError(
                    f"not valid {encoding.upper()} despite its byte-order mark "
                    f"(byte offset {exc.start + len(bom)})",
                    file=file,
                    line=good.count("\n") + 1,
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


def read_bytes(path: str | Path, *, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a regular file of at most `max_bytes`; `InputError` naming it otherwise.

    Devices, FIFOs and sockets are refused before they are opened (``/dev/zero`` never
    ends, a FIFO blocks until someone writes), and at most ``max_bytes + 1`` bytes are
    read whatever the file system claims its size is (``/proc`` files say 0).
    """
    name = str(path)
    try:
        _check_regular(os.stat(path), name, max_bytes)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        with os.fdopen(os.open(path, flags), "rb") as handle:
            # it may have been replaced by something else between the stat and the open
            _check_regular(os.fstat(handle.fileno()), name, max_bytes)
            data = handle.read(max_bytes + 1)
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", file=name) from None
    except FileNotFoundError:
        raise InputError("no such file", file=name) from None
    except PermissionError:
        raise InputError("permission denied", file=name) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=name) from None
    if len(data) > max_bytes:
        raise InputError(f"file is larger than the limit of {max_bytes:,} bytes", file=name,
                         rule="size")
    return data


def _check_regular(st: os.stat_result, name: str, max_bytes: int) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise InputError("is a directory, expected a file", file=name)
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"is not a regular file but {_file_kind(st.st_mode)}; "
                         "give the path of a file", file=name)
    if st.st_size > max_bytes:
        raise InputError(f"file is {st.st_size:,} bytes; the limit is {max_bytes:,}",
                         file=name, rule="size")


def _file_kind(mode: int) -> str:
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def read_text(path: str | Path, *, max_bytes: int = MAX_INPUT_BYTES) -> str:
    """A text file read with `read_bytes` and decoded with `decode`."""
    return decode(read_bytes(path, max_bytes=max_bytes), file=str(path))


#: exclusive creation that never follows a link (O_NOFOLLOW where the platform has it)
_CREATE_NEW = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


def write_atomic(path: str | Path, content: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `content` so that a reader sees the old file or the new one,
    never half of it.

    The temporary file beside it has a random name and is created exclusively without
    following links, so nothing planted in the directory (a link at a guessable name) can
    redirect the write; `mode` applies from creation (the umask still narrows it), never
    after a window in which others could open the file.
    """
    import secrets

    path = Path(path)
    tmp = path.with_name(f".{path.name}.gwctl-{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, _CREATE_NEW, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(tmp, path)  # replaces a link at `path` itself, never its target
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

"""Rule documentation for people: the rules' docstrings are reStructuredText (their own
inline literals ````x```` and literal blocks introduced by ``::``); a terminal shows them
as plain text (literals bold when colour is on) and a pull-request comment or code
scanning as Markdown."""

from __future__ import annotations

import re

_LITERAL = re.compile(r"``(.+?)``")
_BOLD, _RESET = "\033[1m", "\033[0m"


def _blocks(text: str) -> list[tuple[bool, list[str]]]:
    """(is a literal block, lines) in order; a literal block follows a line ending '::'
    and lasts while lines are indented or blank."""
    out: list[tuple[bool, list[str]]] = []
    prose: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        prose.append(line)
        i += 1
        if line.rstrip().endswith("::"):
            if line.strip() == "::":
                prose.pop()  # a lone '::' only introduces the block
            while i < len(lines) and not lines[i].strip():
                prose.append(lines[i])
                i += 1
            block: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                i -= 1
                block.pop()
            out.append((False, prose))
            out.append((True, block))
            prose = []
    if prose:
        out.append((False, prose))
    return out


def _prose_line(line: str, literal: str) -> str:
    stripped = line.rstrip()
    if stripped.endswith("::"):
        # 'Example::' reads 'Example:'; a lone '::' disappears
        stripped = stripped[:-2].rstrip()
        stripped = stripped + ":" if stripped else ""
    return _LITERAL.sub(lambda m: literal.format(m.group(1)), stripped)


def for_terminal(text: str, *, colour: bool = False) -> str:
    literal = f"{_BOLD}{{}}{_RESET}" if colour else "{}"
    out = []
    for is_block, lines in _blocks(text):
        if is_block:
            out.extend(lines)
        else:
            out.extend(_prose_line(line, literal) for line in lines)
    return "\n".join(out).rstrip() + "\n"


def to_markdown(text: str) -> str:
    out: list[str] = []
    for is_block, lines in _blocks(text):
        if is_block:
            body = lines
            indent = min((len(line) - len(line.lstrip()) for line in body if line.strip()),
                         default=0)
            fence = "`" * max(3, max((len(m) for line in body
                                      for m in re.findall(r"`+", line)), default=0) + 1)
            out.append(fence)
            out.extend(line[indent:] for line in body)
            out.append(fence)
        else:
            out.extend(_prose_line(line, "`{}`") for line in lines)
    return "\n".join(out).rstrip() + "\n"

"""The packaged PowerShell scripts: syntax, headers, and agreement with the contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_powershell

from gwctl.ops import (
    BOOTSTRAP,
    HEADER_PREFIX,
    LIBRARIES,
    OPERATIONS,
    compact,
    read_script,
    script_path,
)
from gwctl.ops.params import PARAM_KEYS
from gwctl.ops.pyimpl import DirectoryHost

REPO = Path(__file__).resolve().parents[1]
CONTRACT = (REPO / "docs" / "remote-operations.md").read_text(encoding="utf-8")
SCRIPTS = (BOOTSTRAP, *OPERATIONS)


def syntax_problems(source: bytes) -> list[str]:
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    problems: list[str] = []

    def walk(node: tree_sitter.Node) -> None:
        if node.type == "ERROR" or node.is_missing:
            row, column = node.start_point
            problems.append(f"{node.type} at {row + 1}:{column + 1}: {node.text!r:.60}")
        for child in node.children:
            walk(child)

    walk(parser.parse(source).root_node)
    return problems


def test_the_syntax_check_catches_errors() -> None:
    assert syntax_problems(b"function F { if ($a) { 1 }")
    assert not syntax_problems(b"$x = @{ a = 1 }")


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_parses(name: str) -> None:
    # as shipped and as sent (with the shared library included)
    assert syntax_problems(script_path(name).read_bytes()) == []
    assert syntax_problems(read_script(name).encode("utf-8")) == []


def test_library_parses_and_is_included_once_per_operation() -> None:
    library = script_path("ping").with_name("common.ps1")
    assert syntax_problems(library.read_bytes()) == []
    body = library.read_text("utf-8").split("\n\n", 1)[1]
    for op in OPERATIONS:
        sent = read_script(op)
        assert "# gwctl-include:" not in sent
        assert sent.count("function Fail(") <= 1
        if "common.ps1" in script_path(op).read_text("utf-8"):
            assert compact(body) in sent


@pytest.mark.parametrize("library", LIBRARIES)
def test_a_library_can_travel_without_comments_and_indentation(library: str) -> None:
    # compact() drops whole lines and leading blanks: only safe without here-strings
    # and block comments, whose lines keep their meaning only as written
    text = script_path("ping").with_name(library).read_text("utf-8")
    assert not re.search(r"@[\"']\s*$|<#", text, re.MULTILINE)
    assert syntax_problems(compact(text).encode("utf-8")) == []


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_header_and_comment_block(name: str) -> None:
    lines = read_script(name).splitlines()
    assert lines[0] == HEADER_PREFIX + name
    assert lines[1].startswith("#")
    if name != BOOTSTRAP:
        block = "\n".join(line for line in lines if line.startswith("#"))
        assert "params:" in block and "result:" in block
        assert "param($Params, [byte[]]$Payload)" in lines


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_is_plain_ascii_without_bom(name: str) -> None:
    # Windows PowerShell 5.1 reads BOM-less scripts in the ANSI code page
    assert script_path(name).read_bytes().isascii()


FORBIDDEN = [
    r"Invoke-Expression",
    r"\biex\b",
    r"Start-Process",
    r"\[ScriptBlock\]::Create",
    r"cmd(\.exe)?\s*/c",
    r"`\d\[",  # generic type syntax the grammar misreads
]


@pytest.mark.parametrize("name", OPERATIONS)
def test_operation_scripts_never_build_code_from_params(name: str) -> None:
    text = read_script(name)
    for pattern in FORBIDDEN:
        assert not re.search(pattern, text, re.IGNORECASE), pattern


def test_only_the_bootstrap_creates_a_script_block() -> None:
    assert "[ScriptBlock]::Create" in read_script(BOOTSTRAP)


@pytest.mark.parametrize("op", OPERATIONS)
def test_every_operation_has_script_handler_and_contract_row(op: str) -> None:
    assert script_path(op).is_file()
    assert callable(getattr(DirectoryHost, f"_op_{op}", None))
    assert re.search(rf"^\| `{op}` \|", CONTRACT, re.MULTILINE), f"no table row for {op}"


def test_no_script_without_an_operation() -> None:
    shipped = {path.stem for path in script_path("ping").parent.glob("*.ps1")}
    assert shipped == {*SCRIPTS, "common", "hostfacts"}


def powershell_param_keys(op: str) -> set[str]:
    match = re.search(r"^Assert-Params @\(([^)]*)\)", read_script(op), re.MULTILINE)
    return set(re.findall(r"'([a-z_0-9]+)'", match.group(1))) if match else set()


@pytest.mark.parametrize("op", OPERATIONS)
def test_both_implementations_accept_the_same_parameters(op: str) -> None:
    assert powershell_param_keys(op) == set(PARAM_KEYS[op])


def documented_codes() -> set[str]:
    section = CONTRACT.split("## Error codes", 1)[1]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, re.MULTILINE))


def test_every_error_code_is_documented() -> None:
    used = set()
    for name in SCRIPTS:
        used |= set(re.findall(r"Fail '([a-z_]+)'", read_script(name)))
        used |= set(re.findall(r"\$r\.code = '([a-z_]+)'", read_script(name)))
    for module in (REPO / "gwctl" / "ops").glob("*.py"):
        used |= set(re.findall(r'code="([a-z_]+)"', module.read_text(encoding="utf-8")))
    assert used <= documented_codes(), used - documented_codes()

"""One rule for host paths, in three places: the fleet schema, the Python twin and the
PowerShell operations (docs/remote-operations.md, "Paths").

PowerShell cannot run here, so its check is replayed with the regular expressions taken
from ``Test-PlainPath`` in common.ps1 (the .NET syntax used there is also Python's); the
``[IO.Path]::GetFullPath`` comparison it adds on Windows is not replayed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gwctl.cli.main import main
from gwctl.errors import OperationError
from gwctl.fleet.schema import fleet_schema
from gwctl.ops import script_path
from gwctl.ops.pyimpl import DirectoryHost

#: (path, accepted); every implementation must agree
PATHS = [
    (r"C:\Program Files\Milestone\XProtect API Gateway", True),
    (r"C:\ProgramData\gwctl\backups\\", True),
    (r"d:/logs//gateway", True),
    ("C:\\", True),
    (r"C:\a...b\c d", True),
    (r"C:\CONSOLE\NULL\COM10", True),
    (r"C:\Straße\日本", True),
    (r"C:\a\..\..\Windows", False),
    (r"C:\a\.\b", False),
    (r"C:\a\b.", False),
    (r"C:\a\b \c", False),
    (r"\\server\share\gateway", False),
    (r"//server/share", False),
    (r"relative\dir", False),
    (r"\rooted\no\drive", False),
    ("C:", False),
    ("C:relative", False),
    (r"C:\a<b", False),
    (r"C:\a|b", False),
    (r"C:\a?", False),
    (r"C:\a*", False),
    (r'C:\a"b', False),
    (r"C:\a\b:stream", False),
    ("C:\\a\nb", False),
    ("C:\\a\tb", False),
    ("C:\\a\x00b", False),
    (r"C:\logs\NUL", False),
    (r"C:\logs\nul.txt", False),
    (r"C:\Com1\x", False),
    (r"C:\x\LPT9.log", False),
    (r"C:\x\aux", False),
]
#: JSON can carry these, YAML fleets cannot; the schema does not see them
SURROGATES = [("C:\\a\ud800b", False), ("C:\\a\udc00", False), ("C:\\a\U0001F600", True)]


@pytest.mark.parametrize(("path", "accepted"), PATHS + SURROGATES)
def test_the_python_twin(tmp_path: Path, path: str, accepted: bool) -> None:
    host = DirectoryHost(tmp_path)
    try:
        host.run("read_file", {"path": path})
    except OperationError as exc:
        assert exc.code == "bad_params" and not accepted, exc
    else:
        assert accepted


def _powershell_function(name: str) -> str:
    library = script_path("ping").with_name("common.ps1").read_text("utf-8")
    match = re.search(rf"^function {name}\b.*?^}}", library, re.MULTILINE | re.DOTALL)
    assert match, name
    return match.group()


def powershell_accepts(path: str) -> bool:
    """Test-PlainPath's component checks, with its own regular expressions."""
    body = _powershell_function("Test-PlainPath")
    drive = re.search(r"-notmatch '([^']*)'", body)
    split = re.search(r"-split '([^']*)'", body)
    assert drive and split
    checks = [(pattern, re.IGNORECASE if op == "match" else 0)
              for op, pattern in re.findall(r"\$part -(c?match) '([^']*)'", body)]
    assert len(checks) == 3, checks
    assert "$part -eq '.' -or $part -eq '..'" in body
    assert "$part -ne $part.TrimEnd([char[]]@('.', ' '))" in body
    if not re.search(drive.group(1), path):
        return False
    for part in (p for p in re.split(split.group(1), path[3:]) if p):
        if part in (".", "..") or part != part.rstrip(". "):
            return False
        if any(re.search(pattern, part, flags) for pattern, flags in checks):
            return False
    return True


@pytest.mark.parametrize(("path", "accepted"), PATHS + SURROGATES)
def test_the_powershell_operations(path: str, accepted: bool) -> None:
    assert powershell_accepts(path) is accepted


def test_every_operation_path_goes_through_the_check() -> None:
    assert "Test-PlainPath $v" in _powershell_function("Get-WinPath")
    assert "Test-PlainPath $path" in script_path("stat").read_text("utf-8")
    assert "GetFullPath" in _powershell_function("Test-PlainPath")


@pytest.mark.parametrize(("path", "accepted"), PATHS)
def test_the_fleet_schema(path: str, accepted: bool) -> None:
    pattern = fleet_schema()["$defs"]["hostPath"]["pattern"]
    assert bool(re.search(pattern, path)) is accepted


def yaml_text(value: str) -> str:
    escapes = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    return '"' + "".join(escapes.get(c, c) for c in value) + '"'


@pytest.mark.parametrize("key", ["install_dir", "backup_dir"])
@pytest.mark.parametrize(("path", "reason"), [
    (r"C:\gw\..\Windows", "'..' component"),
    (r"\\server\share", "UNC path"),
    (r"gateway\files", "not an absolute Windows path"),
    (r"C:\gw<1>", "holds '<'"),
    ("C:\\gw\r\nx", "holds '\\r'"),
    (r"C:\gw\NUL", "device"),
    (r"C:\gw.\x", "trailing dot or space"),
])
def test_validate_names_the_line_and_the_reason(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                key: str, path: str, reason: str) -> None:
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("sites:\n  s:\n    management_server: {host: h, version: '2025 R2'}\n"
                     "    gateways:\n      g:\n        host: h\n"
                     f"        {key}: {yaml_text(path)}\n")
    code = main(["validate", "-f", str(fleet)])
    out = capsys.readouterr().out
    assert code == 1
    assert f"{fleet}:7:9: [error] '{key}'" in out and reason in out, out

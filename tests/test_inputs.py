"""Every bad input gets one clean line with a location and exit 1, never a traceback."""

from __future__ import annotations

import codecs
import subprocess
import sys
from pathlib import Path

import pytest

from gwctl.cli.main import main
from gwctl.errors import InputError
from gwctl.fleet.yaml_reader import load_yaml_text
from gwctl.textio import decode

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fleet.yaml"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, content: bytes | str, name: str = "fleet.yaml") -> str:
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(p)


BILLION_LAUGHS = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n"
    for i in range(9)
) + "sites: {}\n"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("sites:\n  hq: [unclosed\n", "YAML syntax"),
        ("sites:\n  hq:\n    management_server: {host: a, version: '2025 R2'}\n"
         "    gateways: {}\n    bogus: 1\n", "unknown key 'bogus'"),
        ("sites:\n  hq:\n    management_server: {host: a, version: '2025 R9'}\n"
         "    gateways: {}\n", "is not an XProtect release"),
        ("sites:\n  hq:\n    management_server: {host: a, version: '2025 R2', "
         "encryption: maybe}\n    gateways: {}\n", "must be a boolean"),
        ("sites: 1\nsites: 2\n", "duplicate key 'sites'"),
        (BILLION_LAUGHS, "alias bomb"),
        ("a: &a [*a]\n", "recursive alias"),
        ("x: !!python/object:os.system ls\n", "unsupported YAML tag"),
        ("- just\n- a list\n", "must be a mapping"),
        ("", "empty"),
    ],
)
def test_bad_fleet_is_one_line_with_location(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             content: str, needle: str) -> None:
    path = write(tmp_path, content)
    code, out, err = run(capsys, "validate", "-f", path)
    text = out + err
    assert code == 1
    assert needle in text
    assert "Traceback" not in text
    assert path in text
    first = next(line for line in text.splitlines() if needle in line)
    assert first.startswith(f"{path}:") or first.startswith(f"error: {path}")


def test_non_utf8_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, b"sites:\n  h\xe9q: {}\n")
    code, _, err = run(capsys, "validate", "-f", path)
    assert code == 1 and "not valid UTF-8" in err and f"{path}:2" in err


def test_utf16_with_bom_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = EXAMPLE.read_text("utf-8")
    path = write(tmp_path, codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    code, out, _ = run(capsys, "validate", "-f", path)
    assert code == 0, out
    path8 = write(tmp_path, codecs.BOM_UTF8 + text.encode(), "bom8.yaml")
    assert run(capsys, "validate", "-f", path8)[0] == 0


def test_utf16_without_bom_is_refused_clearly() -> None:
    with pytest.raises(InputError, match="UTF-16 without a byte-order mark"):
        decode("sites: {}\n".encode("utf-16-le") + b"\xff\xfe\x00\xd8", file="x")


def test_fifty_megabyte_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "big.yaml"
    with p.open("wb") as fh:
        fh.truncate(50 * 1024 * 1024)
    code, _, err = run(capsys, "validate", "-f", str(p))
    assert code == 1 and "limit" in err and "Traceback" not in err


def test_the_size_limit_does_not_trust_st_size(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from gwctl import textio

    big = tmp_path / "big.yaml"
    big.write_bytes(b"x" * 101)
    # as for /proc files, which say they hold 0 bytes
    monkeypatch.setattr(textio, "_check_regular", lambda st, name, max_bytes: None)
    with pytest.raises(InputError, match="larger than the limit of 100 bytes"):
        textio.read_bytes(big, max_bytes=100)
    assert textio.read_bytes(big, max_bytes=101) == b"x" * 101


def test_bom_encoding_errors_name_the_line() -> None:
    data = codecs.BOM_UTF16_LE + "a: 1\nb: 2\n".encode("utf-16-le") + b"\x00\xd8"
    with pytest.raises(InputError, match="despite its byte-order mark") as caught:
        decode(data, file="x")
    assert caught.value.line == 3


def test_missing_file_and_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "validate", "-f", str(tmp_path / "nope.yaml"))
    assert code == 1 and "no such file" in err
    code, _, err = run(capsys, "validate", "-f", str(tmp_path))
    assert code == 1 and "no *.yaml" in err


def test_usage_errors_exit_64(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "validate")[0] == 64
    assert run(capsys, "frobnicate")[0] == 64
    assert run(capsys)[0] == 64


def test_yaml_positions_point_at_keys() -> None:
    src = load_yaml_text("a:\n  b: 1\n  c:\n    - x\n", file="f")
    assert src.positions["/a/b"] == (2, 3)
    assert src.positions["/a/c/0"] == (4, 7)


def test_version_does_not_import_heavy_modules() -> None:
    code = ("import sys; from gwctl.cli.main import main; "
            "rc = main(['--version']); "
            "heavy = [m for m in ('ansible', 'httpx', 'winrm', 'jinja2', 'jsonschema') "
            "if m in sys.modules]; print(heavy); sys.exit(rc)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0
    assert res.stdout.strip().endswith("[]"), res.stdout
    assert "gwctl 0.1.0" in res.stdout

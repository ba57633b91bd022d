"""``gwctl completion bash|zsh|fish``: each script loaded in its real shell completes
subcommands, options and option choices."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from readme_lines import pipeline_command

from gwctl.cli.main import main

GUARD = 60  # a hang guard only


def script(shell: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["completion", shell]) == 0
    out = capsys.readouterr().out
    path = tmp_path / f"gwctl.{shell}"
    path.write_text(out)
    return path


def bash_complete(path: Path, line: str) -> list[str]:
    """What bash's completion function offers for `line` (the cursor at its end)."""
    program = r'''
source "$1"
read -r -a COMP_WORDS <<< "$2"
[[ "$2" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="$2"
COMP_POINT=${#COMP_LINE}
_shtab_gwctl
printf '%s\n' "${COMPREPLY[@]}"
'''
    result = subprocess.run(["bash", "-c", program, "bash", str(path), line],
                            capture_output=True, text=True, timeout=GUARD, check=True)
    return sorted(w.strip() for w in result.stdout.splitlines() if w.strip())


def test_bash_completes_subcommands_options_and_choices(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = script("bash", tmp_path, capsys)
    assert bash_complete(path, "gwctl va") == ["validate"]
    assert bash_complete(path, "gwctl che") == ["check-versions"]
    assert "completion" in bash_complete(path, "gwctl ")
    assert bash_complete(path, "gwctl import --in") == ["--install-dir", "--into", "--inventory"]
    assert bash_complete(path, "gwctl validate --output ") == ["github", "json", "markdown",
                                                              "sarif", "text"]
    assert bash_complete(path, "gwctl completion ") == ["bash", "fish", "zsh"]
    assert bash_complete(path, "gwctl sim u") == ["up", "upgrade"]


def test_zsh_script_parses_and_loads(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed (.ci/run installs it)")
    path = script("zsh", tmp_path, capsys)
    subprocess.run(["zsh", "-n", str(path)], check=True, timeout=GUARD)
    # loaded by compinit as a completion function: the function exists afterwards
    fpath = tmp_path / "fpath"
    fpath.mkdir()
    (fpath / "_gwctl").write_text(path.read_text())
    program = (f"fpath=({fpath} $fpath); autoload -Uz compinit; compinit -u -d "
               f"{tmp_path}/zcompdump; autoload -Uz _gwctl; whence -w _gwctl; "
               "print -r -- ${_comps[gwctl]}")
    out = subprocess.run(["zsh", "-f", "-c", program], capture_output=True, text=True,
                         timeout=GUARD, check=True).stdout
    assert "_gwctl: function" in out and out.splitlines()[-1] == "_gwctl"
    assert '"--into[merge into this fleet file or directory' in path.read_text()


def test_fish_completes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed (.ci/run installs it)")
    path = script("fish", tmp_path, capsys)
    subprocess.run(["fish", "--no-execute", str(path)], check=True, timeout=GUARD)

    def complete(line: str) -> list[str]:
        out = subprocess.run(["fish", "--no-config", "-c",
                              f"source {path}; complete -C {line!r}"],
                             capture_output=True, text=True, timeout=GUARD, check=True,
                             env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}).stdout
        return sorted(w.split("\t")[0] for w in out.splitlines())

    assert complete("gwctl va") == ["validate"]
    assert complete("gwctl import --in") == ["--install-dir", "--into", "--inventory"]
    assert complete("gwctl validate --output ") == ["github", "json", "markdown", "sarif",
                                                    "text"]
    assert complete("gwctl completion ") == ["bash", "fish", "zsh"]


def test_the_readme_line_installs_bash_completion(tmp_path: Path) -> None:
    command = pipeline_command("eval ")
    assert command == 'eval "$(gwctl completion bash)"'
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path),
           "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run(["bash", "-c", f"{command}\ncomplete -p gwctl"], env=env,
                         capture_output=True, text=True, timeout=GUARD, check=True).stdout
    assert out.startswith("complete ") and out.strip().endswith(" -F _shtab_gwctl gwctl")

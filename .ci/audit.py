"""pip-audit of the locked, released dependency set (requirements.lock), for CI.

Three outcomes, never a silent pass:
- every locked release was checked and none has a known vulnerability outside the
  reviewed ignore list (.ci/audit-ignore.toml): exit 0;
- a known vulnerability is not in the list: its id, package, version and fix versions are
  printed, exit 1;
- the vulnerability service (PyPI's JSON API) could not be asked: a banner says the
  dependencies were NOT audited and the run fails with exit 3. Where no network exists
  on purpose, GWCTL_AUDIT_OFFLINE=skip turns that into a printed skip (exit 0); nothing
  else does.

Usage: python .ci/audit.py [--lock requirements.lock] [--ignore-file FILE] [--report FILE]
       [-- extra pip-audit arguments]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVICE = "pypi"  # PyPI's JSON API carries the OSV/PyPA advisories per release
EXIT_VULNERABLE = 1
EXIT_NOT_AUDITED = 3


@dataclass(frozen=True)
class Ignored:
    """One reviewed exception: a known vulnerability the project lives with, and why."""

    id: str
    package: str
    reason: str
    reviewed: str


def load_ignores(path: Path) -> list[Ignored]:
    """The reviewed ignore list; an entry without id, package, reason or date is an error."""
    if not path.exists():
        return []
    doc = tomllib.loads(path.read_text("utf-8"))
    entries = doc.get("ignore", [])
    if not isinstance(entries, list):
        raise SystemExit(f"{path}: 'ignore' must be an array of tables ([[ignore]])")
    out = []
    for number, entry in enumerate(entries, 1):
        missing = [key for key in ("id", "package", "reason", "reviewed")
                   if not isinstance(entry.get(key), str) or not entry[key].strip()]
        if missing:
            raise SystemExit(f"{path}: [[ignore]] entry {number} lacks {', '.join(missing)}: "
                             "every ignored vulnerability needs its reason and review date")
        out.append(Ignored(entry["id"], entry["package"], entry["reason"], entry["reviewed"]))
    return out


def banner(lines: list[str]) -> str:
    width = max(len(line) for line in lines) + 4
    rule = "!" * width
    return "\n".join([rule, *(f"! {line.ljust(width - 4)} !" for line in lines), rule])


def audit_command(lock: Path, ignores: list[Ignored], report: Path, extra: list[str]) -> list[str]:
    command = [sys.executable, "-m", "pip_audit", "--requirement", str(lock),
               "--require-hashes", "--disable-pip", "--vulnerability-service", SERVICE,
               "--progress-spinner", "off", "--format", "json", "--output", str(report)]
    for entry in ignores:
        command += ["--ignore-vuln", entry.id]
    return command + extra


def findings(report: Path) -> list[tuple[str, str, str, list[str]]] | None:
    """(package, version, id, fix versions) per finding; None when no report was written."""
    try:
        doc = json.loads(report.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("dependencies"), list):
        return None
    out = []
    for dep in doc["dependencies"]:
        for vuln in dep.get("vulns", []):
            out.append((dep["name"], dep.get("version", "?"), vuln["id"],
                        list(vuln.get("fix_versions", []))))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", type=Path, default=ROOT / "requirements.lock")
    parser.add_argument("--ignore-file", type=Path, default=ROOT / ".ci" / "audit-ignore.toml")
    parser.add_argument("--report", type=Path, default=ROOT / "build" / "pip-audit.json")
    parser.add_argument("extra", nargs="*", help="passed to pip-audit after --")
    args = parser.parse_args(argv)
    ignores = load_ignores(args.ignore_file)
    for entry in ignores:
        print(f"audit: ignoring {entry.id} in {entry.package} (reviewed {entry.reviewed}): "
              f"{entry.reason}")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.unlink(missing_ok=True)
    done = subprocess.run(audit_command(args.lock, ignores, args.report, args.extra),
                          capture_output=True, text=True, check=False)
    found = findings(args.report)
    if found is None:
        # pip-audit stopped before it could write a report: nothing was checked
        why = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        lines = [f"pip-audit could not ask the vulnerability service ({SERVICE}):",
                 why[:160],
                 f"The dependencies in {args.lock.name} were NOT audited."]
        if os.environ.get("GWCTL_AUDIT_OFFLINE") == "skip":
            print(banner([*lines, "SKIPPED because GWCTL_AUDIT_OFFLINE=skip."]), file=sys.stderr)
            return 0
        print(banner([*lines, "Failing. Set GWCTL_AUDIT_OFFLINE=skip only where no",
                      "network exists on purpose."]), file=sys.stderr)
        return EXIT_NOT_AUDITED
    if found:
        for package, version, vuln, fixes in found:
            fix = ", ".join(fixes) if fixes else "no fixed release"
            print(f"audit: {package} {version}: {vuln} (fixed in: {fix})", file=sys.stderr)
        print(f"audit: {len(found)} known vulnerabilities in {args.lock.name}: upgrade "
              "(make lock) or add a reviewed entry with its reason to "
              f"{args.ignore_file.name}", file=sys.stderr)
        return EXIT_VULNERABLE
    count = len(json.loads(args.report.read_text("utf-8"))["dependencies"])
    print(f"audit: {count} locked releases checked against {SERVICE}, "
          f"no known vulnerability outside the {len(ignores)} reviewed exceptions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

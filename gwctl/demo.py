"""``make demo``: the main job, end to end, on the bundled example fleet.

Runs the same commands a user would type and prints each one before its output.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from gwctl.cli.main import main as gwctl

ROOT = Path(__file__).resolve().parent.parent


def step(title: str, *args: str, expect: tuple[int, ...] = (0,)) -> int:
    print(f"\n=== {title}\n$ gwctl {' '.join(shlex.quote(a) for a in args)}", flush=True)
    code = gwctl(list(args))
    sys.stdout.flush()
    if code not in expect:
        print(f"demo: unexpected exit code {code}", file=sys.stderr)
        raise SystemExit(1)
    print(f"(exit {code})")
    return code


def main() -> int:
    os.chdir(ROOT)
    # the example fleet references its TURN credential as env:HQ_TURN_CREDENTIAL
    os.environ.setdefault("HQ_TURN_CREDENTIAL", "demo-turn-secret")
    fleet = "examples/fleet.yaml"
    step("Validate the fleet (schema + semantic rules)", "validate", "-f", fleet)
    step("Render every gateway's files", "render", "-f", fleet, "-o", "out/demo")
    for path in sorted(Path("out/demo").rglob("*")):
        if path.is_file():
            print(f"  {path}  ({path.stat().st_size} bytes)")
    step("What hq-gw1 will actually run with (CORS and WebRTC sections)", "effective",
         "-f", fleet, "--gateway", "hq-gw1", "--section", "WebRTC")
    step("Where each effective CORS value comes from", "effective", "-f", fleet,
         "--gateway", "hq-gw1", "--section", "CORS", "--format", "flat")
    manual = sorted(str(p) for p in Path("examples/manual").iterdir()
                    if p.suffix in (".json", ".config"))
    step("Lint the vendor manual's own example files, as the gateway would read them",
         "lint-file", *manual, expect=(0, 1))
    print("\ndemo finished")
    return 0


if __name__ == "__main__":
    sys.exit(main())

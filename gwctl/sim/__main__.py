"""``python -m gwctl.sim serve --state DIR``: the simulator process ``gwctl sim up`` starts.

Serves the site of DIR in the foreground until SIGTERM/SIGINT or an admin shutdown.
Exit codes: 0 stopped cleanly, 3 a simulator already runs for DIR, 1 any other failure.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gwctl.errors import GwctlError, UsageError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gwctl.sim")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve a simulator state directory")
    serve.add_argument("--state", required=True, type=Path)
    ns = parser.parse_args(argv)
    from gwctl.sim.server import SimSite

    try:
        site = SimSite(ns.state)
        print(f"gwctl sim: serving site {site.state.site!r} from {ns.state}", flush=True)
        site.serve_forever()
    except UsageError as exc:
        print(f"gwctl sim: {exc}", file=sys.stderr, flush=True)
        return 3
    except GwctlError as exc:
        print(f"gwctl sim: {exc}", file=sys.stderr, flush=True)
        return 1
    print("gwctl sim: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

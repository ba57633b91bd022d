"""Entry point. Start-up stays light: command modules are imported only when chosen,
so ``gwctl --version`` and ``--help`` never load ansible, httpx or pywinrm."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from gwctl import __version__
from gwctl.errors import EXIT_FAILED, EXIT_USAGE, GwctlError, UsageError

#: command name -> (module under gwctl.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("cmd_validate", "check a fleet: schema and semantic rules"),
    "render": ("cmd_render", "render each gateway's files into a directory"),
    "effective": ("cmd_effective", "show the configuration a gateway will actually run with"),
    "lint-file": ("cmd_lint_file", "lint live appsettings*.json / nlog.config files"),
    "diff": ("cmd_diff", "compare the fleet with the live gateway hosts (drift)"),
    "plan": ("cmd_plan", "save what applying would change to a plan file, for 'apply PLANFILE'"),
    "apply": ("cmd_apply", "apply the fleet to the gateway hosts safely, in rolling order"),
    "versions": ("cmd_versions", "show declared vs installed versions per site, with findings"),
    "check-versions": ("cmd_check_versions", "CI gate: exit 1 on any version rule violation"),
    "upgrade-plan": ("cmd_upgrade_plan", "plan the upgrade of each site to a target release"),
    "import": ("cmd_import", "fleet YAML for existing, hand-edited gateways: printed, or "
                             "merged into a fleet (--into)"),
    "reconcile": ("cmd_reconcile", "after an upgrade: report what the installer reset and "
                                   "re-apply it safely"),
    "rollback": ("cmd_rollback", "restore a gateway's files from the last apply's backups"),
    "unlock": ("cmd_unlock", "remove a host lock left behind by a run that died"),
    "host-setup": ("cmd_host_setup", "write a JEA endpoint (module, role, session "
                                     "configuration, install script) for a security team"),
    "schema": ("cmd_schema", "print the fleet file's JSON Schema"),
    "rules": ("cmd_rules", "list the semantic rules, or show one rule's documentation"),
    "verify": ("cmd_verify", "prove each gateway works for its users: token, REST, CORS as "
                             "a browser judges it, WebRTC signalling, STUN/TURN"),
    "probe": ("cmd_probe", "probe webrtc: many sessions to many cameras at once, recorded, "
                           "with a support-case bundle"),
    "doctor": ("cmd_doctor", "the manual's troubleshooting chapter as checks against a live "
                             "gateway host"),
    "sim": ("cmd_sim", "run an emulated XProtect site on loopback (not Windows, not IIS)"),
    "completion": ("cmd_completion", "print a shell completion script (bash, zsh, fish)"),
}

EPILOG = """exit codes: 0 ok, 1 problems found or operation failed, 2 drift (diff
--detailed-exitcode), 64 usage error.  Documentation: README.md."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gwctl",
        description="Configuration-as-code and safe deployment for the Milestone XProtect "
                    "API Gateway.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"gwctl {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show tracebacks and debug logs (secrets stay masked)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, help_text) in COMMANDS.items():
        mod = importlib.import_module(f"gwctl.cli.{module}")
        cmd = sub.add_parser(name, help=help_text, description=mod.__doc__)
        mod.register(cmd)
        cmd.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser()
        ns = parser.parse_args(args_list)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help / --version
        return int(exc.code or 0)
    if not getattr(ns, "command", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=logging.DEBUG if ns.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from gwctl.output.log_scrub import install_log_filter
    from gwctl.output.redact import scrub

    install_log_filter()
    module = importlib.import_module(f"gwctl.cli.{ns._module}")
    try:
        code: int = module.execute(ns)
        return code
    except GwctlError as exc:
        print(f"error: {scrub(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_FAILED
    except Exception as exc:  # a bug: say so plainly, with a traceback only on request
        if ns.debug:
            # printed here rather than re-raised: the interpreter would print it unmasked
            print(scrub(traceback.format_exc()), end="", file=sys.stderr)
        else:
            print(f"internal error (a bug in gwctl, please report it): {type(exc).__name__}: "
                  f"{scrub(str(exc))}; rerun with --debug for the traceback",
                  file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())

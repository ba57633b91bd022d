"""Write a JEA endpoint for gwctl, for a security team to review and install on a host.

The output directory receives a PowerShell module with one function per gwctl operation
(and one that runs a batch of them) and nothing else, its policy file (the SHA-256 of
every operation script this gwctl sends, and the directories operations may touch: the
gateway's install, log and backup directories, gwctl's own folder, the management
server's configuration folder and IIS's log folder), a
JEA role capability exposing only those functions, a session configuration (restricted
remote server, run as a virtual account or a group managed service account, transcripts)
and Install-GwctlEndpoint.ps1, which refuses any file changed since it was generated.
Once the module is installed, the ordinary bootstrap also runs only the listed scripts on
the pinned paths, and `--configuration-name NAME` makes gwctl connect to the endpoint
itself (PSRP). docs/jea.md is the review guide. Nothing runs on a host here."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from gwctl.errors import EXIT_OK, UsageError


def register(p: argparse.ArgumentParser) -> None:
    from gwctl.fleet.defaults import (
        DEFAULT_BACKUP_DIR,
        DEFAULT_INSTALL_DIR,
        DEFAULT_LOG_DIRECTORY,
        DEFAULT_SERVER_CONFIG,
    )

    p.add_argument("--output", required=True, type=Path, metavar="DIR",
                   help="directory to create (must not exist, or be empty)")
    p.add_argument("--operators", required=True, metavar="DOMAIN\\GROUP",
                   help="the group whose members may connect (gwctl's service account "
                        "belongs to it)")
    p.add_argument("--run-as", default="virtual", metavar="virtual|gmsa:DOMAIN\\name$",
                   help="account the operations run as: a virtual account (default) or a "
                        "group managed service account")
    p.add_argument("--gateway-install-dir", default=DEFAULT_INSTALL_DIR, metavar="PATH",
                   help=f"pinned: the gateway's install directory (default: {DEFAULT_INSTALL_DIR})")
    p.add_argument("--log-dir", default=DEFAULT_LOG_DIRECTORY, metavar="PATH",
                   help=f"pinned: the gateway's log directory (default: {DEFAULT_LOG_DIRECTORY})")
    p.add_argument("--backup-dir", default=DEFAULT_BACKUP_DIR, metavar="PATH",
                   help=f"pinned: gwctl's backup directory (default: {DEFAULT_BACKUP_DIR})")
    default_ms = DEFAULT_SERVER_CONFIG.rsplit("\\", 1)[0]
    p.add_argument("--management-server-dir", default=default_ms, metavar="PATH",
                   help=f"pinned: the folder of ServerConfig.xml (default: {default_ms})")
    from gwctl.ops.hostread import DEFAULT_IIS_LOG_ROOT

    p.add_argument("--iis-log-dir", default=DEFAULT_IIS_LOG_ROOT, metavar="PATH",
                   help="pinned: IIS's log folder, holding the gateway site's W3SVC<id> "
                        f"request logs that gwctl doctor reads (default: {DEFAULT_IIS_LOG_ROOT})")
    p.add_argument("--name", default="gwctl",
                   help="name of the session configuration (default: gwctl); give it to "
                        "gwctl as --configuration-name or ansible_psrp_configuration_name")


def _plain(option: str, value: str) -> str:
    from gwctl.errors import OperationError
    from gwctl.ops.winpaths import split_windows_path

    try:
        drive, parts = split_windows_path(value)
    except OperationError as exc:
        raise UsageError(f"{option}: {exc.message}") from exc
    if not parts:
        raise UsageError(f"{option}: a whole drive cannot be pinned: {value!r}")
    return drive + ":\\" + "\\".join(parts)


def execute(ns: argparse.Namespace) -> int:
    from gwctl.ops import jea

    options = jea.JeaOptions(
        operators=ns.operators,
        install_dir=_plain("--gateway-install-dir", ns.gateway_install_dir),
        log_dir=_plain("--log-dir", ns.log_dir),
        backup_dir=_plain("--backup-dir", ns.backup_dir),
        management_server_dir=_plain("--management-server-dir", ns.management_server_dir),
        run_as=ns.run_as, name=ns.name,
        iis_log_dir=_plain("--iis-log-dir", ns.iis_log_dir))
    problems = jea.check_options(options)
    if problems:
        raise UsageError("; ".join(problems))
    out: Path = ns.output
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"--output {out}: exists and is not an empty directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    # written aside and renamed: a failure leaves no half-written endpoint to install
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        written = jea.write(options, staging)
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for path in written:
        print(out / path.relative_to(staging))
    print(f"review with docs/jea.md, then on the host as Administrator: "
          f"{out / jea.INSTALL_SCRIPT}")
    return EXIT_OK

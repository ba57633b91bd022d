"""JEA mode of the simulator: gwctl's JEA module installed on emulated hosts.

The install script of `gwctl host-setup` copies the module (with its policy file) to
Program Files' PowerShell modules; here the same files land at the same place in a host's
directory, and the host's WS-Management endpoint then enforces the policy as the
bootstrap would (`gwctl.ops.pyimpl.DirectoryHost.jea_policy`). No session configuration
is registered: the emulated host has no PowerShell.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from gwctl.ops.jea import JeaOptions, write
from gwctl.ops.jea_policy import MODULE_DIR, MODULE_NAME
from gwctl.ops.pyimpl import DirectoryHost

#: the group named in the simulator's session configuration (never used to log on)
SIM_OPERATORS = "SIM\\gwctl-operators"


def install_module(host_root: Path, module_dir: Path) -> Path:
    """Copy a generated module directory to where the install script puts it."""
    target = DirectoryHost(host_root).map_path(MODULE_DIR)
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(module_dir, target)
    return target


def set_up(host_roots: list[Path], options: JeaOptions) -> None:
    """Generate the endpoint for `options` and install its module on every host."""
    with tempfile.TemporaryDirectory(prefix="gwctl-sim-jea-") as scratch:
        write(options, Path(scratch))
        for root in host_roots:
            install_module(root, Path(scratch) / MODULE_NAME)

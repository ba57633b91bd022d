"""JEA mode of the simulator: gwctl's JEA module installed on emulated hosts.

The install script of `gwctl host-setup` copies the module (with its policy file) to
Program Files' PowerShell modules; here the same files land at the same place in a host's
directory, and the host's WS-Management endpoint then enforces the policy as the
bootstrap would (`gwctl.ops.pyimpl.DirectoryHost.jea_policy`). The session configuration
is registered as ``Register-PSSessionConfiguration`` keeps it (`gwctl.sim.powershell`), so
PowerShell remoting to its name reaches the module's functions and nothing else.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from gwctl.ops.jea import JeaOptions, write
from gwctl.ops.jea_policy import MODULE_DIR, MODULE_NAME
from gwctl.ops.pyimpl import DirectoryHost
from gwctl.sim.powershell import registered_path

#: the group named in the simulator's session configuration (never used to log on)
SIM_OPERATORS = "SIM\\gwctl-operators"


def install_module(host_root: Path, module_dir: Path) -> Path:
    """Do what the install script does with a generated endpoint: copy the module to
    PowerShell's module path and register every session configuration (``*.pssc``) written
    beside it."""
    host = DirectoryHost(host_root)
    target = host.map_path(MODULE_DIR)
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(module_dir, target)
    for pssc in sorted(module_dir.parent.glob("*.pssc")):
        registered = registered_path(host, pssc.stem)
        registered.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pssc, registered)
    return target


def set_up(host_roots: list[Path], options: JeaOptions) -> None:
    """Generate the endpoint for `options` and install its module on every host."""
    with tempfile.TemporaryDirectory(prefix="gwctl-sim-jea-") as scratch:
        write(options, Path(scratch))
        for root in host_roots:
            install_module(root, Path(scratch) / MODULE_NAME)

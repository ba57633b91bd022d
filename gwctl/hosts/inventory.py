"""Ansible inventories, read with ansible-core's own inventory, variable and vault code.

One inventory serves gwctl and ``ansible-playbook``: host names are the fleet's gateway
names (or a host sets ``gwctl_gateway: NAME`` / ``SITE/NAME``), connection settings use
Ansible's variable names, and vault-encrypted values are decrypted with the password
file given by ``--vault-password-file`` or ``ANSIBLE_VAULT_PASSWORD_FILE``.
ansible-core is imported only here, and only when an inventory is actually read.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gwctl.errors import InputError
from gwctl.output import redact
from gwctl.textio import read_bytes

#: variables gwctl reads from a host; everything else stays in Ansible's hands
CONNECTION_VARS = (
    "ansible_connection", "ansible_host", "ansible_port", "ansible_user", "ansible_password",
    "ansible_winrm_scheme", "ansible_winrm_path", "ansible_winrm_transport",
    "ansible_winrm_server_cert_validation", "ansible_winrm_ca_trust_path",
    "ansible_winrm_cert_pem", "ansible_winrm_cert_key_pem",
    "ansible_winrm_message_encryption", "ansible_winrm_operation_timeout_sec",
    "ansible_winrm_read_timeout_sec", "ansible_winrm_connection_timeout",
    "ansible_winrm_kerberos_hostname_override", "ansible_winrm_kerberos_delegation",
    "ansible_winrm_kinit_mode", "ansible_psrp_configuration_name",
    # the psrp plugin's, for ansible_connection: psrp (WinRMSettings._from_psrp_vars)
    "ansible_psrp_host", "ansible_psrp_user", "ansible_psrp_port", "ansible_winrm_pass",
    "ansible_winrm_password", "ansible_psrp_protocol", "ansible_psrp_path",
    "ansible_psrp_auth", "ansible_psrp_cert_validation", "ansible_psrp_cert_trust_path",
    "ansible_psrp_ca_cert", "ansible_psrp_certificate_pem",
    "ansible_psrp_certificate_key_pem", "ansible_psrp_message_encryption",
    "ansible_psrp_operation_timeout", "ansible_psrp_read_timeout", "ansible_psrp_proxy",
    "ansible_psrp_negotiate_hostname_override", "ansible_psrp_negotiate_delegate",
)
GWCTL_VARS = ("gwctl_gateway", "gwctl_gateway_url", "gwctl_local_root", "gwctl_site",
              # import: the host's name in the fleet (an FQDN) where the inventory uses an alias
              "gwctl_host",
              # verify, probe and doctor: the health user per host, the install directory
              "gwctl_health_user", "gwctl_health_password", "gwctl_install_dir",
              "gwctl_no_ntlm")
#: a vault password is a line; anything near this is the wrong file
MAX_PASSWORD_FILE_BYTES = 64 * 1024


@dataclass
class InventoryHost:
    name: str
    groups: list[str]
    vars: dict[str, Any] = field(repr=False)

    @property
    def gateway_ref(self) -> str:
        return str(self.vars.get("gwctl_gateway") or self.name)


def _plain(value: Any) -> Any:
    """Ansible's tagged strings and containers as plain Python values."""
    if isinstance(value, str):
        # a new exact str: Ansible's tagged subclass must not leak into gwctl's data
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def _resolve(templar: Any, value: Any) -> Any:
    """Template a variable only when it needs it: plain text and numbers are taken as they
    are (templating every value of a 200-host inventory took most of its load time);
    templates, vault-encrypted values and containers go through Ansible's templar."""
    if isinstance(value, str) and "{{" not in value and "{%" not in value:
        return value
    if isinstance(value, bool | int | float) or value is None:
        return value
    return templar.template(value)


_plugins_ready = False


def _init_plugins() -> None:
    """Set up Ansible's plugin and collection loader, as its own CLIs do: inventory plugin
    configurations name plugins by FQCN (``plugin: ansible.builtin.constructed``,
    ``amazon.aws.aws_ec2``), which resolve only through it."""
    global _plugins_ready
    if not _plugins_ready:
        from ansible.plugins.loader import init_plugin_loader

        init_plugin_loader()
        _plugins_ready = True


def _static_formats_before_auto() -> None:
    """Try the static YAML and INI formats before the ``auto`` plugin.

    In Ansible's default order ``auto`` reads every YAML inventory in full just to find
    it is no plugin configuration, and ``yaml`` then reads it again (a third of the load
    time of a 200-host inventory). The yaml plugin itself refuses plugin configurations,
    so dynamic inventories still reach ``auto``; a user-configured order is kept as is.
    """
    from ansible import constants as C

    enabled = list(C.INVENTORY_ENABLED)
    if enabled[:6] != ["host_list", "script", "auto", "yaml", "ini", "toml"][:len(enabled)]:
        return
    if "auto" in enabled:
        enabled.remove("auto")
        position = max(enabled.index(f) for f in ("yaml", "ini") if f in enabled) + 1 \
            if any(f in enabled for f in ("yaml", "ini")) else len(enabled)
        enabled.insert(position, "auto")
        C.INVENTORY_ENABLED = enabled


def _vault_secrets(password_file: str | None) -> list[Any]:
    from ansible.parsing.vault import VaultSecret

    path = password_file or os.environ.get("ANSIBLE_VAULT_PASSWORD_FILE")
    if not path:
        return []
    try:
        password = read_bytes(Path(path).expanduser(), max_bytes=MAX_PASSWORD_FILE_BYTES)
    except InputError as exc:
        raise InputError(f"cannot read vault password file: {exc.message}",
                         file=path) from None
    return [("default", VaultSecret(password.strip()))]


def load_inventory(path: str, *, vault_password_file: str | None = None,
                   limit: str | None = None, no_ntlm: bool = False,
                   configuration_name: str | None = None) -> list[InventoryHost]:
    """Every host of the inventory with its templated gwctl/connection variables.

    `no_ntlm` (``--no-ntlm``) sets ``gwctl_no_ntlm`` on every host: NTLM is then refused.
    `configuration_name` (``--configuration-name``) sets ``ansible_psrp_configuration_name``.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        raise InputError("no such inventory file", file=path) from None
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise InputError("is not an inventory file or directory (a device, FIFO or socket?)",
                         file=path)
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.parsing.vault import VaultSecretsContext
    from ansible.template import Templar
    from ansible.vars.manager import VariableManager

    _init_plugins()
    _static_formats_before_auto()
    secrets = _vault_secrets(vault_password_file)
    loader = DataLoader()
    loader.set_vault_secrets(secrets)
    context = VaultSecretsContext.current(optional=True)
    if secrets and context is None:
        VaultSecretsContext.initialize(VaultSecretsContext(secrets))
    elif secrets:
        # the context is process-wide and set only once: a later inventory's vault
        # password (another command of a long-lived process) joins the known ones
        known = {s.bytes for _, s in context.secrets}
        context.secrets.extend(s for s in secrets if s[1].bytes not in known)
    try:
        inventory = InventoryManager(loader=loader, sources=[path])
        if limit:
            inventory.subset(limit)
        manager = VariableManager(loader=loader, inventory=inventory)
        hosts = []
        for host in inventory.get_hosts():
            raw = manager.get_vars(host=host, include_hostvars=False)
            templar = Templar(loader=loader, variables=raw)
            wanted = {}
            for key in (*CONNECTION_VARS, *GWCTL_VARS):
                if key in raw:
                    try:
                        wanted[key] = _resolve(templar, raw[key])
                    except AnsibleError as exc:
                        raise _inventory_error(exc, path, bool(secrets),
                                               f"{key} of host {host.name}") from None
            groups = [g for g in _plain(raw.get("group_names", [])) if g != "ungrouped"]
            host_vars = _plain(wanted)
            # a password (vaulted or not) must never show, whichever command reads it
            redact.register_all(host_vars)
            if no_ntlm:
                host_vars["gwctl_no_ntlm"] = True
            if configuration_name is not None:
                host_vars["ansible_psrp_configuration_name"] = configuration_name
            hosts.append(InventoryHost(host.name, groups, host_vars))
    except AnsibleError as exc:
        raise _inventory_error(exc, path, bool(secrets)) from None
    return hosts


def _inventory_error(exc: Exception, path: str, have_password: bool,
                     what: str | None = None) -> InputError:
    """Ansible's error as one line; for vault failures, what to do about them."""
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "vault" in message.lower() or "undecryptable" in message.lower():
        subject = what or "the inventory's vault-encrypted data"
        if not have_password:
            message = (f"{subject} {'is vault-encrypted' if what else 'needs a password'} "
                       "and no vault password was given: pass --vault-password-file FILE "
                       "or set ANSIBLE_VAULT_PASSWORD_FILE")
        else:
            message = f"{subject} cannot be decrypted with the given vault password ({message})"
    elif what:
        message = f"{what}: {message}"
    return InputError(f"inventory: {message}", file=path, rule="inventory")

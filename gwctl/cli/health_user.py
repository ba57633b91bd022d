"""Whose login the checks through a gateway use: the host's own, else the command line's.

`verify`, `probe webrtc`, and the health checks of `apply` and `rollback` take a token and
read through a gateway as an XProtect basic user. A host's inventory variables
``gwctl_health_user`` / ``gwctl_health_password`` (the password may be Ansible-Vault
encrypted; `gwctl sim up` writes the simulator's) win over ``--health-user`` and
``$GWCTL_HEALTH_PASSWORD``; every password is registered for masking.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from gwctl.deploy.health import HealthSettings
from gwctl.output import redact


def health_credentials(host_vars: Mapping[str, Any], user: str | None,
                       password: str | None) -> tuple[str | None, str | None]:
    """(user, password) for a host with `host_vars`, given the command line's."""
    own_user = host_vars.get("gwctl_health_user")
    own_password = host_vars.get("gwctl_health_password")
    if isinstance(own_password, str):
        redact.register(own_password)
    if password:
        redact.register(password)
    return (str(own_user) if own_user is not None else user,
            str(own_password) if own_password is not None else password)


def health_for(settings: HealthSettings, host_vars: Mapping[str, Any]) -> HealthSettings:
    """`settings` with the host's own login, when its inventory names one."""
    user, password = health_credentials(host_vars, settings.username, settings.password)
    if (user, password) == (settings.username, settings.password):
        return settings
    return dataclasses.replace(settings, username=user, password=password)

"""Health checks through a gateway: is it answering, and is it serving the API?"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from gwctl.output import redact
from gwctl.tlscontext import tls_context

#: how long one request may take, whatever the overall deadline
REQUEST_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class HealthSettings:
    timeout_s: float = 30.0
    interval_s: float = 0.5
    verify_tls: bool | str = True
    #: with credentials the check also takes a token and lists the sites
    username: str | None = None
    password: str | None = None
    client_id: str = "GrantValidatorClient"


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    detail: str
    elapsed_s: float


def check(url: str, settings: HealthSettings) -> HealthResult:
    """Poll ``{url}/.well-known/uris`` until 200 or the timeout; then the optional REST probe."""
    start = time.monotonic()
    deadline = start + settings.timeout_s
    last = "no answer"
    # the deadline bounds how long we keep asking, not one answer: a short deadline on a
    # loaded controller must not turn a gateway's slow-but-healthy answer into a failure
    with httpx.Client(verify=tls_context(settings.verify_tls),
                      timeout=REQUEST_TIMEOUT_S) as client:
        while True:
            try:
                r = client.get(f"{url}/.well-known/uris")
                if r.status_code == 200 and "ProductVersion" in r.text:
                    break
                last = f"/.well-known/uris answered {r.status_code}"
            except httpx.HTTPError as exc:
                last = f"/.well-known/uris: {type(exc).__name__}: {exc}"
            if time.monotonic() >= deadline:
                return HealthResult(False, last, time.monotonic() - start)
            time.sleep(settings.interval_s)
        if settings.username:
            detail = _rest_probe(client, url, settings)
            if detail:
                return HealthResult(False, detail, time.monotonic() - start)
    return HealthResult(True, "ok", time.monotonic() - start)


def _oauth_error(r: httpx.Response) -> str:
    """`` (invalid_grant: ...)`` from an OAuth 2.0 error answer (RFC 6749 section 5.2):
    invalid_grant is the health user's credentials refused, not a broken gateway."""
    try:
        doc = r.json()
    except ValueError:
        return ""
    error = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(error, str):
        return ""
    if error == "invalid_grant":
        return " (invalid_grant: the health user's credentials were refused)"
    return f" ({error})"


def _rest_probe(client: httpx.Client, url: str, s: HealthSettings) -> str | None:
    try:
        r = client.post(f"{url}/IDP/connect/token", data={
            "grant_type": "password", "username": s.username or "",
            "password": s.password or "", "client_id": s.client_id})
        if r.status_code != 200:
            return f"token request answered {r.status_code}{_oauth_error(r)}"
        token = r.json().get("access_token")
        r = client.get(f"{url}/rest/v1/sites", headers={"Authorization": f"Bearer {token}"})
        if r.status_code != 200:
            return f"/rest/v1/sites answered {r.status_code}"
    except (httpx.HTTPError, ValueError) as exc:
        return f"REST probe: {type(exc).__name__}"
    return None


def health_credentials(host_vars: Mapping[str, Any], user: str | None,
                       password: str | None) -> tuple[str | None, str | None]:
    """(user, password) for a host with `host_vars`, given the command line's (or the
    role's): the host's inventory variables ``gwctl_health_user`` /
    ``gwctl_health_password`` win (the password may be Ansible-Vault encrypted; `gwctl sim
    up` writes the simulator's). Every password is registered for masking."""
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

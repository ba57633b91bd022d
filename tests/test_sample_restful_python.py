"""Conformance: the vendor's RestfulCommunicationPython sample against ``gwctl sim``.

Mirrors milestonesys/mipsdk-samples-protocol, release XProtect 2025R2,
``RestfulCommunicationPython/``: ``identity_provider.py`` (token for a basic user through
the gateway, for a Windows user with NTLM straight from the IDP), ``api_gateway.py`` (the
URL scheme ``{server}/api/rest/v1/{type}[/{id}[/{child}]]``, the query strings ``tasks&noData``
and ``task=NAME``, bodies sent as JSON strings without a content type) and
``restful_communication.py`` (``crud_user_defined_event``, ``cameras_and_tasks``,
``duplicate_rule``). The requests are our own, made with the same libraries as the sample
(requests, requests-ntlm) and in the same order; each assertion reads the answer the way
the sample does.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from requests_ntlm import HttpNtlmAuth

from gwctl.sim.server import SimSite


def _server(site: SimSite) -> str:
    """The sample's ``serverUrl``: the management server host, whose gateway is co-located."""
    return site.gateway_url("demo-ms").removesuffix("/api")


def _basic_token(session: requests.Session, site: SimSite) -> str:
    # identity_provider.get_token_basic: through the gateway, form body as a plain string
    user, password = next(iter(site.users.items()))
    r = session.request("POST", f"{_server(site)}/API/IDP/connect/token",
                        headers={"Content-Type": "application/x-www-form-urlencoded"},
                        data=f"grant_type=password&username={user}&password={password}"
                             "&client_id=GrantValidatorClient")
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _windows_token(session: requests.Session, site: SimSite) -> requests.Response:
    # identity_provider.get_token_windows: straight to the IDP, NTLM, no user in the form
    user, password = site.windows_admin
    return session.request("POST", f"{_server(site)}/IDP/connect/token",
                           headers={"Content-Type": "application/x-www-form-urlencoded"},
                           data="grant_type=windows_credentials&client_id=GrantValidatorClient",
                           auth=HttpNtlmAuth(user, password))


def _call(session: requests.Session, site: SimSite, verb: str, path: str, token: str,
          params: str = "", payload: str = "") -> requests.Response:
    # api_gateway.Gateway.__request: bearer header only, params pre-joined, data as str
    return session.request(verb, f"{_server(site)}/api/rest/v1/{path}",
                           headers={"Authorization": "Bearer " + token}, params=params,
                           data=payload)


def _crud_user_defined_event(session: requests.Session, site: SimSite, token: str) -> None:
    """restful_communication.crud_user_defined_event, step by step."""
    created = _call(session, site, "POST", "userDefinedEvents", token,
                    payload=json.dumps({"name": "my Python event"}))
    assert created.status_code == 201, created.text
    result = created.json()["result"]
    event_id = result["id"]
    assert result["name"] == "my Python event"

    got = _call(session, site, "GET", f"userDefinedEvents/{event_id}", token)
    assert got.status_code == 200 and got.json()["data"]["name"] == "my Python event"

    updated = _call(session, site, "PUT", f"userDefinedEvents/{event_id}", token,
                    payload=json.dumps({"name": "my updated Python event"}))
    assert updated.status_code == 200, updated.text
    assert updated.json()["data"]["name"] == "my updated Python event"
    listed = _call(session, site, "GET", "userDefinedEvents", token).json()["array"]
    assert [e["displayName"] for e in listed] == ["my updated Python event"]

    deleted = _call(session, site, "DELETE", f"userDefinedEvents/{event_id}", token)
    assert deleted.status_code == 200 and deleted.json() == {"state": "Success"}
    # the work happened: the item is gone from the store
    gone = _call(session, site, "GET", f"userDefinedEvents/{event_id}", token)
    assert gone.status_code == 404 and "error" in gone.json()
    assert _call(session, site, "GET", "userDefinedEvents", token).json()["array"] == []


def test_basic_user_crud_user_defined_event(sim_site: SimSite) -> None:
    """restful_communication.py main() with isBasicUser = True."""
    with requests.Session() as session:
        token = _basic_token(session, sim_site)
        _crud_user_defined_event(session, sim_site, token)


def test_windows_user_crud_user_defined_event(sim_site: SimSite) -> None:
    """restful_communication.py main() with isBasicUser = False (NTLM to the IDP)."""
    with requests.Session() as session:
        r = _windows_token(session, sim_site)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] > 0
        claims = body["access_token"].split(".")[1]
        decoded = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        assert decoded["sub"] == sim_site.windows_admin[0]  # the NTLM logon's user
        _crud_user_defined_event(session, sim_site, body["access_token"])


def test_windows_user_without_the_winrm_endpoint(sim_factory: Any) -> None:
    """The IDP's NTLM logon does not depend on the simulator's WS-Management endpoint."""
    site = sim_factory(wsman=False)
    with requests.Session() as session:
        r = _windows_token(session, site)
        assert r.status_code == 200, r.text
        assert _call(session, site, "GET", "sites", r.json()["access_token"]
                     ).json()["array"][0]["name"] == "demo"


def test_windows_user_wrong_password_and_through_gateway(sim_site: SimSite) -> None:
    user, _ = sim_site.windows_admin
    with requests.Session() as session:
        r = session.post(f"{_server(sim_site)}/IDP/connect/token",
                         headers={"Content-Type": "application/x-www-form-urlencoded"},
                         data="grant_type=windows_credentials&client_id=GrantValidatorClient",
                         auth=HttpNtlmAuth(user, "wrong password"))
        assert r.status_code == 401
        # the gateway does not pass NTLM through (the sample's own comment says so)
        r = session.post(f"{_server(sim_site)}/API/IDP/connect/token",
                         headers={"Content-Type": "application/x-www-form-urlencoded"},
                         data="grant_type=windows_credentials&client_id=GrantValidatorClient")
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # a gateway host without the management server has no IDP application
    assert requests.post(sim_site.gateway_url("demo-gw1").removesuffix("/api")
                         + "/IDP/connect/token").status_code == 404


def test_cameras_and_tasks(sim_site: SimSite) -> None:
    """restful_communication.cameras_and_tasks on the first camera."""
    with requests.Session() as session:
        token = _basic_token(session, sim_site)
        cameras = _call(session, sim_site, "GET", "cameras", token)
        assert cameras.status_code == 200
        camera_id = cameras.json()["array"][0]["id"]
        tasks = _call(session, sim_site, "GET", f"cameras/{camera_id}/ptzpresets", token,
                      params="tasks&noData")
        assert tasks.status_code == 200, tasks.text
        assert "GetDevicePresets" in [t["id"] for t in tasks.json()["tasks"]]
        started = _call(session, sim_site, "POST", f"cameras/{camera_id}/ptzpresets", token,
                        params="task=GetDevicePresets",
                        payload=json.dumps({"sessionDataId": 0}))
        assert started.status_code == 200, started.text
        task_id = started.json()["result"]["path"]["id"]
        polled = _call(session, sim_site, "GET", f"tasks/{task_id}", token)
        assert polled.status_code == 200 and polled.json()["data"]["state"] == "Success"
        cleanup = _call(session, sim_site, "POST", f"tasks/{task_id}", token,
                        params="task=TaskCleanup", payload="{}")
        assert cleanup.status_code == 200 and "result" in cleanup.json()
        assert _call(session, sim_site, "GET", f"tasks/{task_id}", token).status_code == 404
        unknown = _call(session, sim_site, "POST", f"cameras/{camera_id}/ptzpresets", token,
                        params="task=NoSuchTask", payload="{}")
        assert unknown.status_code == 400


def test_duplicate_rule(sim_site: SimSite) -> None:
    """restful_communication.duplicate_rule on one of the site's default rules."""
    import uuid

    with requests.Session() as session:
        token = _basic_token(session, sim_site)
        rules = _call(session, sim_site, "GET", "rules", token).json()["array"]
        assert rules, "the emulated site has default rules"
        original = _call(session, sim_site, "GET", f"rules/{rules[0]['id']}", token)
        assert original.status_code == 200
        rule: dict[str, Any] = original.json()["data"]
        rule["name"] = "Copy of " + rule["name"]
        rule["id"] = str(uuid.uuid4())
        created = _call(session, sim_site, "POST", "rules", token, payload=json.dumps(rule))
        assert created.status_code == 201, created.text
        assert created.json()["result"]["id"] == rule["id"]
        after = _call(session, sim_site, "GET", "rules", token).json()["array"]
        assert len(after) == len(rules) + 1
        again = _call(session, sim_site, "POST", "rules", token, payload=json.dumps(rule))
        assert again.status_code == 400


@pytest.mark.parametrize(("verb", "path", "payload", "status"), [
    ("POST", "userDefinedEvents", "not json", 400),
    ("POST", "userDefinedEvents", json.dumps({"description": "no name"}), 400),
    ("POST", "cameras", json.dumps({"name": "x"}), 405),
    ("DELETE", "sites", "", 405),
    ("GET", "noSuchThings", "", 404),
    ("PUT", "userDefinedEvents/00000000-0000-4000-8000-000000000000",
     json.dumps({"name": "x"}), 404),
])
def test_documented_4xx(sim_site: SimSite, verb: str, path: str, payload: str,
                        status: int) -> None:
    with requests.Session() as session:
        token = _basic_token(session, sim_site)
        r = _call(session, sim_site, verb, path, token, payload=payload)
        assert r.status_code == status, r.text
        assert r.json()["error"]["httpCode"] == status


def test_config_api_follows_release(sim_factory: Any) -> None:
    """The Config API is there from the gateway's first release (feature table)."""
    site = sim_factory(version="2023 R1", wsman=False)
    with requests.Session() as session:
        token = _basic_token(session, site)
        created = _call(session, site, "POST", "userDefinedEvents", token,
                        payload=json.dumps({"name": "e"}))
        assert created.status_code == 201

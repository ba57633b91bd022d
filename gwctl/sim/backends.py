"""The servers behind the emulated gateways: management server, IDP and event server.

They live on the management server host and are reached only through a gateway's routes
(the cluster destination ``http://<management server host>/``), as in a real site where
clients talk to the gateway and the gateway to them. Paths are those after the route's
transforms, e.g. ``/ManagementServer/.well-known/uris``, ``/ManagementServer/Rest/sites``,
``/IDP/connect/token``, ``/rest/events/v1/events``; they compare ignoring case, as IIS does.

Identity: the IDP issues HS256 JWTs for the XProtect basic users of the state
(``xprotect_users``) with the password grant; ``client_id`` must be a client the
management server's release knows (``GrantValidatorClient`` always, ``VmsClient`` from
2025 R1, see the feature table); a bad user or password is ``400 {"error":
"invalid_grant"}``. Tokens live ``expires_in`` = 3600 s; every REST, event-server and
WebRTC call needs ``Authorization: Bearer <token>`` (401 without a valid one).

Windows users (``grant_type=windows_credentials``, the vendor's RestfulCommunicationPython
``identity_provider.get_token_windows``) get their token straight from the IDP, an IIS
application of its own on the management server host (``http://HOST/IDP/connect/token``,
not under ``/api``), with NTLM: the first request is ``401`` with ``WWW-Authenticate:
Negotiate`` and ``NTLM``, the client's negotiate message gets ``401`` with the challenge,
its authenticate message gets the token. The handshake belongs to the TCP connection, as
with IIS. The Windows users are the site's ``windows_admin`` and the management server
host's accounts (``state.json``). A wrong password is ``401`` again (IIS refuses the
logon); an account that logs on but is not one of those is ``400 invalid_grant``. Through
a gateway's route the grant is ``400 invalid_grant``: the gateway does not pass NTLM
through (the sample's own comment says so, and YARP pools its upstream connections, so a
connection-bound handshake cannot complete). Other token-endpoint answers: ``405`` for a
method other than POST, ``400 invalid_request`` for a body that is not a form,
``400 invalid_client`` for a client id the release does not know, ``400
unsupported_grant_type`` for any other grant (OAuth 2.0, RFC 6749 section 5.2).

The RESTful Configuration API is `gwctl.sim.configapi` (an in-memory store). The
``/api/rest/v1/registeredServices``, bookmarks, evidence locks and permissions endpoints
exist from 2024 R2 (feature table) and are 404 before, as an unknown path is. The event
server's REST paths (events, alarms, maps) answer GET with an empty ``array`` and POST with
the posted object and an id; a body that is not a JSON object is 400 and any other method
405 (not emulated further yet: the vendor's events and alarms samples are not covered).
WebSocket paths of the event server (``/ws/events``, ``/ws/messages``) are 501 (not
emulated).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from gwctl.sim.configapi import ConfigStore
from gwctl.sim.messages import JSON_TYPE, SimResponse, empty, json_response, rest_error
from gwctl.sim.routing import ForwardRequest
from gwctl.sim.state import SimState
from gwctl.sim.wsman.auth import (
    AuthFailed,
    NtlmSession,
    register_ntlm_users,
    unregister_ntlm_users,
)
from gwctl.versions.features import supports
from gwctl.versions.release import Version

TOKEN_LIFETIME = 3600
GATEWAY_SERVICE_TYPE = "e46b7bf9-03ce-44eb-bbdc-8ba16d0aaa80"
MAX_CACHED_TOKENS = 10_000
MAX_NTLM_HANDSHAKES = 256
_UNAUTHORIZED = [(b"www-authenticate", b"Bearer")]
_WINDOWS_CHALLENGE = [(b"www-authenticate", b"Negotiate"), (b"www-authenticate", b"NTLM")]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def client_ids(version: Version) -> list[str]:
    """The IDP clients a management server of `version` accepts for the password grant."""
    ids = []
    if supports("client-id-GrantValidatorClient", version):
        ids.append("GrantValidatorClient")
    if supports("client-id-VmsClient", version):
        ids.append("VmsClient")
    return ids


class TokenService:
    """The management server's IDP: password-grant tokens and their validation."""

    def __init__(self, key: bytes, users: dict[str, str], version: Version, issuer: str,
                 clock: Callable[[], float] = time.time,
                 windows_users: dict[str, str] | None = None) -> None:
        self.key = key
        self.users = users
        self.windows_users = dict(windows_users or {})
        self._ntlm: dict[tuple[str, int], NtlmSession] = {}
        self._ntlm_registered = False
        self.version = version
        self.issuer = issuer
        self.clock = clock
        self._valid: dict[str, tuple[str, float]] = {}

    def issue(self, user: str, client_id: str) -> str:
        now = int(self.clock())
        header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        payload = _b64url(json.dumps({
            "iss": self.issuer, "sub": user, "name": user, "client_id": client_id,
            "scope": "managementserver", "iat": now, "nbf": now,
            "exp": now + TOKEN_LIFETIME, "jti": secrets.token_hex(8),
        }).encode())
        signing = f"{header}.{payload}".encode("ascii")
        sig = _b64url(hmac.new(self.key, signing, hashlib.sha256).digest())
        return f"{header}.{payload}.{sig}"

    def user_of(self, authorization: str | None) -> str | None:
        """The user a ``Bearer`` header authenticates, or None."""
        if not authorization or authorization[:7].lower() != "bearer ":
            return None
        token = authorization[7:].strip()
        now = self.clock()
        hit = self._valid.get(token)
        if hit is not None:
            return hit[0] if hit[1] > now else None
        parts = token.split(".")
        if len(parts) != 3:
            return None
        signing = f"{parts[0]}.{parts[1]}".encode("ascii", "replace")
        expected = _b64url(hmac.new(self.key, signing, hashlib.sha256).digest())
        if not hmac.compare_digest(expected, parts[2]):
            return None
        try:
            claims = json.loads(_b64url_decode(parts[1]))
            user, exp = str(claims["sub"]), float(claims["exp"])
        except (ValueError, KeyError, TypeError):
            return None
        if exp <= now:
            return None
        if len(self._valid) >= MAX_CACHED_TOKENS:
            self._valid.clear()
        self._valid[token] = (user, exp)
        return user

    # -- Windows users (NTLM) --------------------------------------------------------------

    def _ntlm_challenge(self, token: bytes | None, scheme: str) -> SimResponse:
        value = scheme.encode() + (b" " + base64.b64encode(token) if token else b"")
        headers = [(b"www-authenticate", value)] if token else list(_WINDOWS_CHALLENGE)
        return json_response(401, {"error": "Unauthorized"}, headers)

    def _windows_user(self, req: ForwardRequest, connection: tuple[str, int]
                      ) -> tuple[str | None, SimResponse | None]:
        """(user, None) once NTLM completed on `connection`, else (None, the 401 to send)."""
        scheme, _, value = req.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("ntlm", "negotiate") or not value.strip():
            return None, self._ntlm_challenge(None, "")
        if not self._ntlm_registered:
            register_ntlm_users(self, self.windows_users)
            self._ntlm_registered = True
        session = self._ntlm.pop(connection, None) or NtlmSession()
        try:
            out = session.step(base64.b64decode(value.strip(), validate=True))
        except (AuthFailed, ValueError):
            return None, self._ntlm_challenge(None, "")
        if not session.complete:
            if len(self._ntlm) >= MAX_NTLM_HANDSHAKES:
                self._ntlm.pop(next(iter(self._ntlm)))
            self._ntlm[connection] = session
            return None, self._ntlm_challenge(out, scheme)
        principal = session.user or ""
        name = principal.rpartition("\\")[2]
        known = next((u for u in self.windows_users if u.rpartition("\\")[2].lower()
                      == name.lower()), None)
        if known is None:
            return None, json_response(400, {"error": "invalid_grant",
                                             "error_description": "unknown Windows user"})
        return known, None

    def close(self) -> None:
        if self._ntlm_registered:
            unregister_ntlm_users(self)
            self._ntlm_registered = False
        self._ntlm.clear()

    def token_endpoint(self, req: ForwardRequest,
                       connection: tuple[str, int] | None = None) -> SimResponse:
        """``POST /IDP/connect/token``; `connection` is the client's TCP connection when
        the request reached the IDP directly (not through a gateway's route)."""
        if req.method.upper() != "POST":
            return json_response(405, {"error": "invalid_request"})
        ctype = req.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" not in ctype.lower():
            return json_response(400, {"error": "invalid_request",
                                       "error_description": "Invalid content type"})
        try:
            form = dict(parse_qsl(req.body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return json_response(400, {"error": "invalid_request"})
        client = form.get("client_id", "")
        if client not in client_ids(self.version):
            return json_response(400, {"error": "invalid_client"})
        grant = form.get("grant_type", "")
        if grant == "windows_credentials" and supports("idp-windows-credentials",
                                                       self.version):
            if connection is None:
                return json_response(400, {
                    "error": "invalid_grant",
                    "error_description": "Windows authentication is not passed through by "
                                         "the API Gateway: request the token from the IDP "
                                         "directly"})
            user, refusal = self._windows_user(req, connection)
            if refusal is not None:
                return refusal
            assert user is not None
            return self._token(user, client)
        if grant != "password":
            return json_response(400, {"error": "unsupported_grant_type"})
        user, password = form.get("username", ""), form.get("password", "")
        known = self.users.get(user)
        if not user or known is None or not hmac.compare_digest(known.encode(), password.encode()):
            return json_response(400, {"error": "invalid_grant",
                                       "error_description": "invalid_username_or_password"})
        return self._token(user, client)

    def _token(self, user: str, client: str) -> SimResponse:
        return json_response(200, {"access_token": self.issue(user, client),
                                   "expires_in": TOKEN_LIFETIME, "token_type": "Bearer",
                                   "scope": "managementserver"},
                             [(b"cache-control", b"no-store, no-cache, max-age=0"),
                              (b"pragma", b"no-cache")])


@dataclass(frozen=True)
class GatewayEntry:
    """A gateway as the management server knows it (registered service)."""

    name: str
    url: str  # http://127.0.0.1:PORT/API/
    version: str


class ManagementServer:
    """The management server (with its IDP and event server) of the emulated site."""

    def __init__(self, state: SimState, gateways: Callable[[], list[GatewayEntry]]) -> None:
        self.state = state
        self.version = Version.parse(state.management_version)
        self.gateways = gateways
        scheme = "https" if state.encryption else "http"
        self.host = state.management_host
        windows = dict(state.host(state.management_host).users)
        windows[state.windows_admin[0]] = state.windows_admin[1]
        self.idp = TokenService(bytes.fromhex(state.token_key), state.xprotect_users,
                                self.version, f"{scheme}://{self.host}/IDP",
                                windows_users=windows)
        self.cameras = {c["id"].lower(): c for c in state.cameras()}
        self._site = self._site_record()
        self._well_known: bytes | None = None
        self.config = ConfigStore(state.site_id, lambda: self._site, self.cameras)

    def invalidate(self) -> None:
        """Forget cached answers (the gateways' ports or the version changed)."""
        self._well_known = None
        self._site = self._site_record()

    def set_version(self, version: Version) -> None:
        self.version = version
        self.idp.version = version
        self.invalidate()

    def _site_record(self) -> dict[str, Any]:
        s = self.state
        return {
            "displayName": s.management_host.upper(),
            "id": s.site_id,
            "name": s.site,
            "description": "gwctl simulator site",
            "lastModified": "2025-01-01T00:00:00.0000000Z",
            "timeZone": "UTC",
            "computerName": s.management_host.upper(),
            "domainName": "sim.invalid",
            "lastStatusHandshake": "2025-01-01T00:00:00.0000000Z",
            "physicalMemory": 0,
            "platform": "[Not Available]",
            "processors": 0,
            "serviceAccount": "S-1-5-20",
            "synchronizationStatus": 0,
            "masterSiteAddress": "",
            "version": s.management_version,
            "relations": {"self": {"type": "sites", "id": s.site_id}},
        }

    # -- dispatch ---------------------------------------------------------------------------

    def handle(self, req: ForwardRequest) -> SimResponse:
        path = req.path
        low = path.lower().rstrip("/")
        if low == "/managementserver/.well-known/uris":
            return self.well_known()
        if low.startswith("/idp/"):
            if low == "/idp/connect/token":
                return self.idp.token_endpoint(req)
            if low == "/idp/.well-known/openid-configuration":
                return self.openid_configuration()
            return empty(404)
        if low.startswith("/managementserver/rest"):
            return self._authorized(req, lambda: self.config_api(req, path[len(
                "/managementserver/rest"):]))
        if low.startswith("/managementserver/api/"):
            return self._authorized(req, lambda: self.api(req, path[len(
                "/managementserver/api/"):]))
        if low.startswith(("/rest/events/", "/rest/alarms/", "/rest/maps/")):
            return self._authorized(req, lambda: self.event_server(req))
        if low.startswith("/ws/"):
            return json_response(501, {"error": "WebSocket APIs are not emulated by the gwctl "
                                                "simulator"})
        return empty(404)

    def idp_direct(self, req: ForwardRequest, connection: tuple[str, int]) -> SimResponse:
        """The IDP as its own IIS application on the management server host (``/IDP/...``),
        reached without a gateway: how the vendor's sample asks for a Windows user's token."""
        low = req.path.lower().rstrip("/")
        if low == "/idp/connect/token":
            return self.idp.token_endpoint(req, connection)
        if low == "/idp/.well-known/openid-configuration":
            return self.openid_configuration()
        return empty(404)

    def close(self) -> None:
        """Release what outlives requests (the NTLM user file)."""
        self.idp.close()

    def _authorized(self, req: ForwardRequest, then: Callable[[], SimResponse]) -> SimResponse:
        if self.idp.user_of(req.headers.get("authorization")) is None:
            res = rest_error(401, "Unauthorized: a valid bearer token is required")
            res.headers.extend(_UNAUTHORIZED)
            return res
        return then()

    # -- endpoints --------------------------------------------------------------------------

    def well_known(self) -> SimResponse:
        if self._well_known is None:
            self._well_known = self._well_known_response().body
        return SimResponse(200, self._well_known, [(b"content-type", JSON_TYPE)])

    def _well_known_response(self) -> SimResponse:
        host = self.host
        return json_response(200, {
            "ProductVersion": self.state.management_version,
            "UnsecureManagementServer": f"http://{host}/",
            "SecureManagementServer": f"https://{host}/",
            "IdentityProvider": f"{'https' if self.state.encryption else 'http'}://{host}/IDP",
            "ApiGateways": [g.url for g in self.gateways()],
        })

    def openid_configuration(self) -> SimResponse:
        issuer = self.idp.issuer
        return json_response(200, {
            "issuer": issuer,
            "token_endpoint": f"{issuer}/connect/token",
            "grant_types_supported": ["password", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
        })

    def config_api(self, req: ForwardRequest, rest: str) -> SimResponse:
        """The RESTful Configuration API (see `gwctl.sim.configapi`)."""
        if not supports("rest-config-api", self.version):
            return rest_error(404, "Not found")
        parts = [p for p in rest.split("/") if p]
        return self.config.handle(req.method, parts, req.query, req.body)

    def api(self, req: ForwardRequest, rest: str) -> SimResponse:
        parts = [p for p in rest.split("/") if p]
        if not parts or not supports("registered-services", self.version):
            return rest_error(404, "Not found")
        resource = parts[0].lower()
        if resource == "registeredservices":
            services = [self._registered(g) for g in self.gateways()]
            if len(parts) == 1:
                return json_response(200, {"array": services})
            for s in services:
                if s["id"].lower() == parts[1].lower():
                    return json_response(200, {"data": s})
            return rest_error(404, f"Registered service {parts[1]} not found")
        if resource in ("bookmarks", "evidencelocks", "securitynamespaces",
                        "effectivepermissions"):
            return json_response(200, {"array": []})
        return rest_error(404, f"Resource '{parts[0]}' not found")

    def _registered(self, g: GatewayEntry) -> dict[str, Any]:
        sid = str(uuid.uuid5(uuid.UUID(self.state.site_id), g.name))
        return {
            "displayName": f"API Gateway Service ({g.name})",
            "name": g.name,
            "id": sid,
            "type": GATEWAY_SERVICE_TYPE,
            "typeName": "API Gateway Service",
            "enabled": True,
            "trusted": True,
            "uris": [g.url],
            "instance": g.name,
            "description": f"API Gateway {g.version}",
            "relations": {"self": {"type": "registeredServices", "id": sid}},
        }

    def event_server(self, req: ForwardRequest) -> SimResponse:
        if req.method.upper() in ("GET", "HEAD"):
            return json_response(200, {"array": []})
        if req.method.upper() == "POST":
            try:
                data = json.loads(req.body or b"{}")
            except ValueError:
                return rest_error(400, "The request body is not valid JSON")
            if not isinstance(data, dict):
                return rest_error(400, "The request body must be a JSON object")
            return json_response(201, {"data": {**data, "id": str(uuid.uuid4())}})
        return rest_error(405, "Method not allowed")

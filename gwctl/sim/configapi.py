"""The management server's RESTful Configuration API, as clients reach it through a gateway.

Paths are those after the stock ``rest-api`` route (``/api/rest/v1/{**remainder}`` ->
``/ManagementServer/Rest/{**remainder}``). Shapes are those the vendor's sample
``RestfulCommunicationPython`` (mipsdk-samples-protocol, XProtect 2025R2) parses:

- ``GET /{type}`` -> ``200 {"array": [item, ...]}``; ``GET /{type}/{id}`` -> ``200 {"data":
  item}``.
- ``POST /{type}`` (a JSON object with a non-empty ``name``) -> ``201 {"result": item}``.
  The item gets a new GUID ``id`` unless the body carries a GUID that is still free (the
  sample's ``duplicate_rule`` sends one), ``displayName`` (= ``name``), ``lastModified``
  and ``relations {self, parent: the site}``. The body's content type is not checked: the
  sample posts a JSON string without one.
- ``PUT /{type}/{id}`` replaces the item's fields, ``PATCH`` merges them; both ->
  ``200 {"data": item}``. ``DELETE /{type}/{id}`` -> ``200 {"state": "Success"}`` (the
  sample prints the whole body as the "delete item state").
- Tasks: ``GET /{type}[/{id}[/{child}]]?tasks`` -> ``200 {"tasks": [{"id", "displayName"}]}``;
  ``POST ...?task=NAME`` -> ``200 {"result": {...}}``. A task that runs on the device
  (``GetDevicePresets`` on a camera's ``ptzPresets``) is asynchronous: its result names
  ``path {"type": "tasks", "id"}``, and ``GET /tasks/{id}`` shows ``{"data": {"state":
  "Success", "progress": 100, ...}}`` (the simulator's devices answer at once);
  ``POST /tasks/{id}?task=TaskCleanup`` removes it.

Writable item types are the generic ones in `WRITABLE` (created and changed by clients in
the real Management Client too); ``sites`` and ``cameras`` come from the emulated site and
are read-only here. The store lives in memory for the life of the simulator process.

Every 4xx, with its reason (body ``{"error": {"httpCode", "details": [{"errorText"}]}}``):

- 400: a body that is not a JSON object, a create without a non-empty string ``name``, a
  GUID ``id`` in a create that an item already has, a ``?task=`` the item type does not
  offer (the Config API validates the task name against the type's task list).
- 404: an item type the API does not have, an item id that does not exist, a path deeper
  than type/id/child (the Config API's URL scheme has no deeper level).
- 405: a write (POST without ``?task=``, PUT, PATCH, DELETE) on a read-only type, a
  create on an item path, or a method the Config API does not use (it has no HEAD-less
  OPTIONS handler; OPTIONS preflights are answered by the gateway's CORS layer first).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from gwctl.sim.jsonfields import is_guid
from gwctl.sim.messages import SimResponse, json_response, rest_error

#: generic item types clients create, change and delete (canonical spelling)
WRITABLE = ("userDefinedEvents", "rules", "timeProfiles", "genericEvents", "analyticsEvents",
            "alarmDefinitions", "cameraGroups", "viewGroups", "roles", "basicUsers")
#: read-only item types the emulated site provides
READ_ONLY = ("sites", "cameras")
#: tasks per item type (lower-case type) and per child type of an item
TYPE_TASKS: dict[str, tuple[str, ...]] = {
    "cameras": ("JpegGetLive", "GetPtzAbsolutePosition", "SetPtzAbsolutePosition"),
    "cameras/ptzpresets": ("GetDevicePresets",),
    "userdefinedevents": ("Trigger",),
    "rules": ("ValidateRule",),
    "tasks": ("TaskCleanup",),
}
#: tasks that run on a device and are followed through ``/tasks/{id}``
ASYNC_TASKS = frozenset({"getdevicepresets"})
DEFAULT_RULES = ("Default Record on Motion Rule", "Default Goto Preset when PTZ is done Rule",
                 "Default Start Audio Feed Rule", "Default Start Feed Rule")
STAMP = "2025-01-01T00:00:00.0000000Z"


def _query(query: list[tuple[str, str]], name: str) -> str | None:
    for k, v in query:
        if k.lower() == name:
            return v
    return None



class ConfigStore:
    """Items of the Configuration API: the site's own (read-only) and clients' (in memory)."""

    def __init__(self, site_id: str, site: Callable[[], dict[str, Any]],
                 cameras: dict[str, dict[str, Any]]) -> None:
        self.site_id = site_id
        self.site = site
        self.cameras = cameras
        self.items: dict[str, dict[str, dict[str, Any]]] = {t.lower(): {} for t in WRITABLE}
        self.tasks: dict[str, dict[str, Any]] = {}
        for name in DEFAULT_RULES:
            rid = str(uuid.uuid5(uuid.UUID(site_id), name))
            self.items["rules"][rid] = self._record("rules", rid, {"name": name,
                                                                     "enabled": True})

    def _record(self, kind: str, ident: str, fields: dict[str, Any]) -> dict[str, Any]:
        canonical = next((t for t in WRITABLE if t.lower() == kind), kind)
        return {**fields, "displayName": fields.get("name", ""), "id": ident,
                "lastModified": STAMP,
                "relations": {"self": {"type": canonical, "id": ident},
                              "parent": {"type": "sites", "id": self.site_id}}}

    # -- dispatch -----------------------------------------------------------------------

    def handle(self, method: str, parts: list[str], query: list[tuple[str, str]],
               body: bytes) -> SimResponse:
        method = method.upper()
        if not parts or len(parts) > 3:
            return rest_error(404, "Not found")
        kind = parts[0].lower()
        ident = parts[1] if len(parts) > 1 else None
        child = parts[2].lower() if len(parts) > 2 else None
        if kind not in self.items and kind not in ("sites", "cameras", "tasks"):
            return rest_error(404, f"Resource '{parts[0]}' not found")
        task = _query(query, "task")
        if method == "GET" and _query(query, "tasks") is not None:
            return self._task_list(kind, ident, child)
        if method == "POST" and task is not None and ident is not None:
            return self._run_task(kind, ident, child, task)
        if child is not None:
            if method not in ("GET", "HEAD"):
                return rest_error(405, f"{method} is not supported on child items")
            if self._get(kind, ident) is None:
                return rest_error(404, f"Item {ident} not found")
            return json_response(200, {"array": []})
        if method in ("GET", "HEAD"):
            if ident is None:
                return json_response(200, {"array": self._list(kind)})
            item = self._get(kind, ident)
            if item is None:
                return rest_error(404, f"Item {ident} not found")
            return json_response(200, {"data": item})
        if kind not in self.items:
            return rest_error(405, f"{method} is not supported on '{parts[0]}' (read-only)")
        if method == "POST" and ident is None:
            return self._create(kind, body)
        if method in ("PUT", "PATCH") and ident is not None:
            return self._update(kind, ident, body, replace=method == "PUT")
        if method == "DELETE" and ident is not None:
            if self.items[kind].pop(ident.lower(), None) is None:
                return rest_error(404, f"Item {ident} not found")
            return json_response(200, {"state": "Success"})
        return rest_error(405, f"{method} is not supported here")

    # -- items --------------------------------------------------------------------------

    def _list(self, kind: str) -> list[dict[str, Any]]:
        if kind == "sites":
            return [self.site()]
        if kind == "cameras":
            return list(self.cameras.values())
        if kind == "tasks":
            return list(self.tasks.values())
        return list(self.items[kind].values())

    def _get(self, kind: str, ident: str | None) -> dict[str, Any] | None:
        if ident is None:
            return None
        key = ident.lower()
        if kind == "sites":
            site = self.site()
            return site if str(site["id"]).lower() == key else None
        if kind == "cameras":
            return self.cameras.get(key)
        if kind == "tasks":
            return self.tasks.get(key)
        return self.items[kind].get(key)

    @staticmethod
    def _body(body: bytes) -> dict[str, Any] | None:
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def _create(self, kind: str, body: bytes) -> SimResponse:
        data = self._body(body)
        if data is None:
            return rest_error(400, "The request body must be a JSON object")
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            return rest_error(400, "The field 'name' is required")
        wanted = data.get("id")
        if is_guid(wanted):
            ident = str(uuid.UUID(str(wanted)))
            if ident in self.items[kind]:
                return rest_error(400, f"An item with id {ident} already exists")
        else:
            ident = str(uuid.uuid4())
        fields = {k: v for k, v in data.items()
                  if k not in ("id", "displayName", "relations", "lastModified")}
        item = self._record(kind, ident, fields)
        self.items[kind][ident] = item
        return json_response(201, {"result": item})

    def _update(self, kind: str, ident: str, body: bytes, *, replace: bool) -> SimResponse:
        item = self.items[kind].get(ident.lower())
        if item is None:
            return rest_error(404, f"Item {ident} not found")
        data = self._body(body)
        if data is None:
            return rest_error(400, "The request body must be a JSON object")
        fields = {k: v for k, v in data.items()
                  if k not in ("id", "displayName", "relations", "lastModified")}
        if replace:
            kept = {k: v for k, v in item.items()
                    if k in ("id", "displayName", "relations", "lastModified")}
            base: dict[str, Any] = {**kept}
        else:
            base = dict(item)
        base.update(fields)
        new = self._record(kind, item["id"], {k: v for k, v in base.items()
                                               if k not in ("displayName", "relations", "id",
                                                            "lastModified")})
        if "name" not in new or not new["displayName"]:
            new["name"] = item.get("name", "")
            new["displayName"] = new["name"]
        self.items[kind][item["id"]] = new
        return json_response(200, {"data": new})

    # -- tasks --------------------------------------------------------------------------

    @staticmethod
    def _task_key(kind: str, child: str | None) -> str:
        return f"{kind}/{child}" if child else kind

    def _task_list(self, kind: str, ident: str | None, child: str | None) -> SimResponse:
        if ident is not None and self._get(kind, ident) is None:
            return rest_error(404, f"Item {ident} not found")
        names = TYPE_TASKS.get(self._task_key(kind, child), ())
        return json_response(200, {"tasks": [{"id": n, "displayName": n} for n in names]})

    def _run_task(self, kind: str, ident: str, child: str | None, task: str) -> SimResponse:
        target = self._get(kind, ident)
        if target is None:
            return rest_error(404, f"Item {ident} not found")
        names = TYPE_TASKS.get(self._task_key(kind, child), ())
        name = next((n for n in names if n.lower() == task.lower()), None)
        if name is None:
            return rest_error(400, f"Task '{task}' is not supported here (tasks: "
                                   f"{', '.join(names) or 'none'})")
        if kind == "tasks" and name == "TaskCleanup":
            self.tasks.pop(ident.lower(), None)
            return json_response(200, {"result": {"state": "Success"}})
        if name.lower() not in ASYNC_TASKS:
            return json_response(200, {"result": {"state": "Success", "task": name}})
        tid = str(uuid.uuid4())
        path = {"type": "tasks", "id": tid}
        self.tasks[tid] = {"displayName": name, "id": tid, "state": "Success",
                           "progress": 100, "path": path, "result": {"ptzPresets": []},
                           "relations": {"self": path, "parent": {"type": kind,
                                                                  "id": ident}}}
        return json_response(200, {"result": {"displayName": name, "path": path,
                                              "state": "InProgress"}})

"""PTZ and aux commands on a WebRTC session's ``videoos-commands`` data channel (2025 R1+).

The vendor's WebRTC_JavaScript sample (``js/main.js`` ``command`` and ``aux``, XProtect
2025R2) opens a data channel labelled ``commands`` with protocol ``videoos-commands`` once
the answer is set, and sends one JSON text message per button:

- ``{"ApiVersion": "1.0", "type": "request", "method": "ptzMove", "params": {"direction":
  D}}`` with D one of ``upLeft up upRight left home right downLeft down downRight``;
- ``{"ApiVersion": "1.0", "type": "request", "method": "setAux", "params": {"on": BOOL,
  "auxNumber": "1".."4"}}``.

`CommandChannel.answer` turns one such message into the reply the simulator sends back on
the same channel. The sample does not read replies and the vendor does not publish their
shape, so the reply is the simulator's own: the request's ``ApiVersion``, ``method`` (and
``id`` when the request has one), ``type: "response"`` and either ``result`` (the camera's
emulated pan/tilt steps after the move, or the aux output's new state) or ``error {code,
message}`` -- 400 for a message that is not such a request, 404 for an unknown method,
422 for a direction or aux number outside the sample's sets. The media side (the data
channel itself) is the media peer's (`gwctl.sim.media`, issue 12), which hands each text
message of a ``videoos-commands`` channel to `CommandChannel.answer`.
"""

from __future__ import annotations

import json
from typing import Any

PROTOCOL = "videoos-commands"
API_VERSION = "1.0"
#: direction -> (pan step, tilt step); ``home`` goes back to (0, 0)
DIRECTIONS: dict[str, tuple[int, int]] = {
    "upLeft": (-1, 1), "up": (0, 1), "upRight": (1, 1),
    "left": (-1, 0), "home": (0, 0), "right": (1, 0),
    "downLeft": (-1, -1), "down": (0, -1), "downRight": (1, -1),
}
AUX_NUMBERS = ("1", "2", "3", "4")


class CommandChannel:
    """The emulated camera behind one data channel: its pan/tilt steps and aux outputs."""

    def __init__(self, device_id: str) -> None:
        self.device_id = device_id
        self.pan = 0
        self.tilt = 0
        self.aux: dict[str, bool] = dict.fromkeys(AUX_NUMBERS, False)

    def answer(self, text: str) -> str:
        """The reply to one text message of the channel."""
        try:
            msg = json.loads(text)
        except ValueError:
            msg = None
        if not isinstance(msg, dict) or msg.get("type") != "request" or not isinstance(
                msg.get("method"), str):
            return self._reply({}, error=(400, "expected a JSON request with a method"))
        raw = msg.get("params")
        params: dict[str, Any] = raw if isinstance(raw, dict) else {}
        method = msg["method"]
        if method == "ptzMove":
            direction = params.get("direction")
            if direction not in DIRECTIONS:
                return self._reply(msg, error=(422, f"unknown direction {direction!r}"))
            if direction == "home":
                self.pan = self.tilt = 0
            else:
                step = DIRECTIONS[direction]
                self.pan += step[0]
                self.tilt += step[1]
            return self._reply(msg, result={"deviceId": self.device_id, "pan": self.pan,
                                            "tilt": self.tilt})
        if method == "setAux":
            number = str(params.get("auxNumber"))
            on = params.get("on")
            if number not in AUX_NUMBERS or not isinstance(on, bool):
                return self._reply(msg, error=(422, "setAux needs auxNumber 1-4 and on "
                                                    "true or false"))
            self.aux[number] = on
            return self._reply(msg, result={"deviceId": self.device_id, "auxNumber": number,
                                            "on": on})
        return self._reply(msg, error=(404, f"unknown method {method!r}"))

    @staticmethod
    def _reply(msg: dict[str, Any], *, result: dict[str, Any] | None = None,
               error: tuple[int, str] | None = None) -> str:
        out: dict[str, Any] = {"ApiVersion": msg.get("ApiVersion", API_VERSION),
                               "type": "response", "method": msg.get("method")}
        if "id" in msg:
            out["id"] = msg["id"]
        if error is not None:
            out["error"] = {"code": error[0], "message": error[1]}
        else:
            out["result"] = result or {}
        return json.dumps(out)

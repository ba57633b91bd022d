"""Replies on the ``videoos-commands`` data channel to the messages the vendor's
WebRTC_JavaScript sample sends (``js/main.js`` ``command`` and ``aux``, XProtect 2025R2)."""

from __future__ import annotations

import json

import pytest

from gwctl.sim.ptz_commands import DIRECTIONS, CommandChannel


def _ask(channel: CommandChannel, method: str, params: object) -> dict[str, object]:
    text = json.dumps({"ApiVersion": "1.0", "type": "request", "method": method,
                       "params": params})
    return dict(json.loads(channel.answer(text)))


def test_every_button_of_the_sample_is_answered() -> None:
    channel = CommandChannel("cam-1")
    for direction in DIRECTIONS:
        reply = _ask(channel, "ptzMove", {"direction": direction})
        assert reply["type"] == "response" and reply["method"] == "ptzMove"
        assert "result" in reply, reply
    for number in "1234":
        reply = _ask(channel, "setAux", {"on": True, "auxNumber": number})
        assert reply["result"] == {"deviceId": "cam-1", "auxNumber": number, "on": True}
    assert all(channel.aux.values())


def test_moves_change_the_emulated_position() -> None:
    channel = CommandChannel("cam-1")
    _ask(channel, "ptzMove", {"direction": "upRight"})
    reply = _ask(channel, "ptzMove", {"direction": "up"})
    assert reply["result"] == {"deviceId": "cam-1", "pan": 1, "tilt": 2}
    assert _ask(channel, "ptzMove", {"direction": "home"})["result"] == {
        "deviceId": "cam-1", "pan": 0, "tilt": 0}


@pytest.mark.parametrize(("text", "code"), [
    ("not json", 400),
    (json.dumps({"type": "response", "method": "ptzMove"}), 400),
    (json.dumps({"type": "request", "method": "zoom", "params": {}}), 404),
    (json.dumps({"type": "request", "method": "ptzMove", "params": {"direction": "sideways"}}),
     422),
    (json.dumps({"type": "request", "method": "setAux", "params": {"on": "yes",
                                                                   "auxNumber": "1"}}), 422),
])
def test_bad_messages_get_an_error_reply(text: str, code: int) -> None:
    reply = json.loads(CommandChannel("cam-1").answer(text))
    assert reply["error"]["code"] == code

"""Body schemas of the pause, suspend, lock, rescue, changePassword,
trigger_crash_dump and serial console actions and of
POST /servers/{id}/remote-consoles (Nova's)."""

from __future__ import annotations

from typing import Any

_UUID = ("^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
         "[0-9a-fA-F]{12}$")


# NOTE: null is what Nova documents; clients such as tempest send {}, which
# Nova accepts too (it does not check the value of these yet). Anything in
# the object would be ignored, so it is refused.
NULL_OR_EMPTY: dict[str, Any] = {"type": ["object", "null"], "maxProperties": 0}


def _null_action(name: str) -> dict[str, Any]:
    return {"type": "object", "properties": {name: NULL_OR_EMPTY},
            "required": [name], "additionalProperties": False}


pause = _null_action("pause")
unpause = _null_action("unpause")
suspend = _null_action("suspend")
resume = _null_action("resume")
unrescue = _null_action("unrescue")
unlock = _null_action("unlock")
# NOTE: Nova's schema for this one (2.17, newer than the others) is strict.
trigger_crash_dump = {"type": "object",
                      "properties": {"trigger_crash_dump": {"type": "null"}},
                      "required": ["trigger_crash_dump"], "additionalProperties": False}

# NOTE: 2.1-2.72: {"lock": null}; 2.73: an optional reason.
lock = _null_action("lock")
lock_v2_73 = {
    "type": "object",
    "properties": {"lock": {
        "type": ["object", "null"],
        "properties": {"locked_reason": {"type": "string", "minLength": 1,
                                         "maxLength": 255}},
        "additionalProperties": False}},
    "required": ["lock"], "additionalProperties": False,
}
# NOTE: what the action table checks first: either of the above.
lock_any = {"type": "object", "properties": {"lock": {"type": ["object", "null"]}},
            "required": ["lock"], "additionalProperties": False}

rescue = {
    "type": "object",
    "properties": {"rescue": {
        "type": ["object", "null"],
        "properties": {"adminPass": {"type": "string"},
                       "rescue_image_ref": {"type": "string", "pattern": _UUID}},
        "additionalProperties": False}},
    "required": ["rescue"], "additionalProperties": False,
}

change_password = {
    "type": "object",
    "properties": {"changePassword": {
        "type": "object",
        "properties": {"adminPass": {"type": "string"}},
        "required": ["adminPass"], "additionalProperties": False}},
    "required": ["changePassword"], "additionalProperties": False,
}

get_serial_console = {
    "type": "object",
    "properties": {"os-getSerialConsole": {
        "type": "object",
        "properties": {"type": {"type": "string", "enum": ["serial"]}},
        "required": ["type"], "additionalProperties": False}},
    "required": ["os-getSerialConsole"], "additionalProperties": False,
}

_PROTOCOLS_2_6 = ["vnc", "spice", "rdp", "serial"]
_TYPES_2_6 = ["novnc", "xvpvnc", "rdp-html5", "spice-html5", "serial"]


def _remote_console(protocols: list[str], types: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"remote_console": {
            "type": "object",
            "properties": {"protocol": {"type": "string", "enum": protocols},
                           "type": {"type": "string", "enum": types}},
            "required": ["protocol", "type"], "additionalProperties": False}},
        "required": ["remote_console"], "additionalProperties": False,
    }


create_remote_console = _remote_console(_PROTOCOLS_2_6, _TYPES_2_6)
# NOTE: 2.8 adds VMware's mks/webmks, 2.99 spice-direct (novalite has neither:
# they pass the schema and answer 400 "Unavailable console type").
create_remote_console_v2_8 = _remote_console(_PROTOCOLS_2_6 + ["mks"],
                                             _TYPES_2_6 + ["webmks"])
create_remote_console_v2_99 = _remote_console(_PROTOCOLS_2_6 + ["mks"],
                                              _TYPES_2_6 + ["webmks", "spice-direct"])
REMOTE_CONSOLE_VERSIONS = [("2.6", "2.7", create_remote_console),
                           ("2.8", "2.98", create_remote_console_v2_8),
                           ("2.99", None, create_remote_console_v2_99)]

"""Request bodies of the Identity API."""

from __future__ import annotations

_string = {"type": "string", "minLength": 1, "maxLength": 255}
_domain = {"type": "object", "properties": {"id": _string, "name": _string},
           "anyOf": [{"required": ["id"]}, {"required": ["name"]}]}
_by_id_or_name = [{"required": ["id"]}, {"required": ["name", "domain"]}]

auth_tokens = {
    "type": "object",
    "required": ["auth"],
    "properties": {
        "auth": {
            "type": "object",
            "required": ["identity"],
            "properties": {
                "identity": {
                    "type": "object",
                    "required": ["methods"],
                    "properties": {
                        "methods": {"type": "array", "minItems": 1,
                                    "items": {"type": "string",
                                              "enum": ["password", "token"]}},
                        "password": {
                            "type": "object",
                            "required": ["user"],
                            "properties": {"user": {
                                "type": "object",
                                "required": ["password"],
                                "properties": {"id": _string, "name": _string,
                                               "domain": _domain,
                                               "password": {"type": "string",
                                                            "maxLength": 4096}},
                                "anyOf": _by_id_or_name,
                            }},
                        },
                        "token": {"type": "object", "required": ["id"],
                                  "properties": {"id": {"type": "string",
                                                        "maxLength": 4096}}},
                    },
                },
                "scope": {
                    "oneOf": [
                        {"type": "string", "enum": ["unscoped"]},
                        {"type": "object",
                         "properties": {"project": {
                             "type": "object",
                             "properties": {"id": _string, "name": _string,
                                            "domain": _domain},
                             "anyOf": _by_id_or_name}}},
                    ],
                },
            },
        },
    },
}

# NOTE: Keystone's password_change: both passwords, nothing else.
password_change = {
    "type": "object",
    "required": ["user"],
    "properties": {
        "user": {
            "type": "object",
            "required": ["original_password", "password"],
            "properties": {"original_password": {"type": "string", "maxLength": 4096},
                           "password": {"type": "string", "maxLength": 4096}},
            "additionalProperties": False,
        },
    },
}

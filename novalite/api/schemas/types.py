"""Parameter types shared by the schemas, as Nova's parameter_types."""

from __future__ import annotations

from novalite.api import validation

name = {"type": "string", "minLength": 1, "maxLength": 255, "format": "name"}


@validation.FORMAT_CHECKER.checks("server_name", raises=validation.InvalidName)
def _check_server_name(value: object) -> bool:
    # NOTE: Nova's parameter_types.name at 2.1 (servers): printable, and no
    # blank at either end (only the 2.0 API allowed them).
    if not isinstance(value, str):
        return True
    if not value.strip() or not value.isprintable() or value != value.strip():
        raise validation.InvalidName(
            "An invalid 'name' value was provided. The name must be: printable characters. "
            "Can not start or end with whitespace.")
    return True


server_name = {"type": "string", "minLength": 1, "maxLength": 255, "format": "server_name"}

# NOTE: Nova accepts counts as integers or digit strings ("1").
positive_integer = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 1,
                    "minLength": 1}

non_negative_integer = {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 0,
                        "minLength": 1}

boolean = {"type": ["boolean", "string"],
           "enum": [True, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes",
                    "y", "t", False, "False", "FALSE", "false", "0", "OFF", "Off", "off",
                    "NO", "No", "no", "n", "f"]}

# NOTE: Nova's metadata keys: 1-255 of letters, digits, "-_:. ".
metadata = {
    "type": "object",
    "patternProperties": {
        "^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255},
    },
    "additionalProperties": False,
}

ipv4 = {"type": "string", "format": "ipv4"}
ipv6 = {"type": "string", "format": "ipv6"}

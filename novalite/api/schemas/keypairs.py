"""Key pair request bodies (Nova 2.1) and the answers' shapes."""

from __future__ import annotations

from novalite.api import validation


class InvalidKeypairName(validation.InvalidName):
    pass


@validation.FORMAT_CHECKER.checks("name_no_edge_spaces", raises=InvalidKeypairName)
def _check_name(value: object) -> bool:
    # NOTE: Nova's parameter_types.name at 2.1: printable, no leading or trailing blanks.
    if not isinstance(value, str):
        return True
    if not value.isprintable() or value != value.strip():
        raise InvalidKeypairName(
            "An invalid 'name' value was provided. The name must be: printable "
            "characters. Can not start or end with whitespace.")
    return True


create = {
    "type": "object",
    "properties": {
        "keypair": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 255,
                         "format": "name_no_edge_spaces"},
                "public_key": {"type": "string"},
            },
            "required": ["name"],
            "additionalProperties": False,
        },
    },
    "required": ["keypair"],
    "additionalProperties": False,
}

_BASE = {"name": {"type": "string"}, "public_key": {"type": "string"},
         "fingerprint": {"type": "string"}}
_NULLABLE_TIME = {"type": ["string", "null"]}


def _obj(props: dict, optional: tuple[str, ...] = ()) -> dict:
    return {"type": "object", "properties": props,
            "required": [k for k in props if k not in optional], "additionalProperties": False}


index_response = _obj({"keypairs": {"type": "array", "items": _obj({"keypair": _obj(_BASE)})}})
create_response = _obj({"keypair": _obj({**_BASE, "user_id": {"type": "string"},
                                         "private_key": {"type": "string"}},
                                        optional=("private_key",))})
show_response = _obj({"keypair": _obj({
    **_BASE, "user_id": {"type": "string"}, "id": {"type": "integer"},
    "created_at": {"type": "string"}, "updated_at": _NULLABLE_TIME,
    "deleted_at": _NULLABLE_TIME, "deleted": {"type": "boolean"}})})


# -- later microversions --------------------------------------------------------

def _derive(base: dict, **props: dict) -> dict:
    import copy

    schema = copy.deepcopy(base)
    schema["properties"]["keypair"]["properties"].update(props)
    return schema


_type = {"type": "string", "enum": ["ssh", "x509"]}
create_v22 = _derive(create, type=_type)
create_v210 = _derive(create_v22, user_id={"type": "string"})
# NOTE: 2.92: no generation (public_key required), '@' and '.' allowed in names.
create_v292 = _derive(create_v210, name={"type": "string", "minLength": 1, "maxLength": 255,
                                         "pattern": "^[a-zA-Z0-9 @._-]+$"})
create_v292["properties"]["keypair"]["required"] = ["name", "public_key"]

CREATE_VERSIONS: list[tuple[str, str | None, dict]] = [
    ("2.1", "2.1", create), ("2.2", "2.9", create_v22), ("2.10", "2.91", create_v210),
    ("2.92", None, create_v292),
]

_TYPED = {**_BASE, "type": {"type": "string"}}
# NOTE: the answers from 2.2 carry the key's type; OpenAPI shows 2.1's.
typed_show_response = _obj({"keypair": _obj({
    **_TYPED, "user_id": {"type": "string"}, "id": {"type": "integer"},
    "created_at": {"type": "string"}, "updated_at": _NULLABLE_TIME,
    "deleted_at": _NULLABLE_TIME, "deleted": {"type": "boolean"}})})

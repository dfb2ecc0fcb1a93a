"""Request body validation with jsonschema, worded as Nova words it.

A controller method declares its body with ``@validation.schema(...)``; the
dispatcher parses the JSON, validates it and passes it as ``body``. Errors
name the field: ``Invalid input for field/attribute name. Value: ... .
<reason>``, so a client can tell which part of its request to fix.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import jsonschema

from novalite.api import errors

F = TypeVar("F", bound=Callable[..., Any])


class InvalidName(Exception):
    """A 'name' failed its format; the message replaces jsonschema's."""


FORMAT_CHECKER = jsonschema.FormatChecker()


@FORMAT_CHECKER.checks("name", raises=InvalidName)
def _check_name(value: object) -> bool:
    # NOTE: Nova's name_with_leading_trailing_spaces: printable, not all blank.
    if not isinstance(value, str):
        return True
    if not value.strip() or not value.isprintable():
        raise InvalidName("An invalid 'name' value was provided. The name must be: "
                          "printable characters with at least one non space character")
    return True


def schema(body_schema: dict) -> Callable[[F], F]:
    """Mark a controller method as taking a JSON body checked against ``body_schema``."""
    validator = jsonschema.Draft202012Validator(body_schema, format_checker=FORMAT_CHECKER)

    def decorator(fn: F) -> F:
        fn.wsgi_body_validator = validator  # type: ignore[attr-defined]
        return fn

    return decorator


def parse_json(raw: bytes) -> Any:
    """The body as JSON, or 400 "Malformed request body" as Nova answers."""
    if not raw:
        raise errors.bad_request("Malformed request body")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise errors.bad_request("Malformed request body") from e


def validate(validator: jsonschema.protocols.Validator, body: Any) -> None:
    """Raise a 400 naming the first field that does not fit the schema."""
    error = next(iter(validator.iter_errors(body)), None)
    if error is None:
        return
    raise errors.bad_request(describe(error))


def describe(error: jsonschema.ValidationError) -> str:
    if isinstance(error.cause, InvalidName):
        return str(error.cause)
    if error.path:
        return (f"Invalid input for field/attribute {error.path[-1]}. "
                f"Value: {error.instance}. {error.message}")
    return error.message


def query_error(name: str, value: object, reason: str) -> errors.HTTPError:
    """A bad query parameter, worded like Nova's query schema errors."""
    return errors.bad_request(
        f"Invalid input for query parameters {name}. Value: {value}. {reason}")

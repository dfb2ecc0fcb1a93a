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


# -- query strings -------------------------------------------------------------

class QuerySchema:
    """Declared query parameters of one operation: each name's JSON schema
    (of the *typed* value: ``{"type": "integer", "minimum": 1}``).

    Values arrive as strings; a parameter whose schema type is integer,
    number or boolean is converted first, one typed ``array`` collects every
    occurrence. Unknown parameters are left alone, as Nova and Glance
    accept (and ignore) them: clients send ``deleted=False`` and the like.
    """

    def __init__(self, params: dict[str, dict], required: tuple[str, ...] = ()) -> None:
        self.params = params
        self.required = required
        self._validators = {
            name: jsonschema.Draft202012Validator(s, format_checker=FORMAT_CHECKER)
            for name, s in params.items()}

    def validate(self, query: Any) -> dict[str, Any]:
        """The declared parameters present in ``query`` (a webob MultiDict),
        typed; 400 naming the first parameter that does not fit."""
        out: dict[str, Any] = {}
        for name in self.required:
            if name not in query:
                raise query_error(name, None, f"'{name}' is a required query parameter")
        for name, param_schema in self.params.items():
            if name not in query:
                continue
            raw = query.getall(name)
            if param_schema.get("type") == "array":
                items = param_schema.get("items", {})
                value: Any = [_typed(name, v, items) for v in raw]
                shown: Any = raw
            else:
                # NOTE: the last occurrence wins, as webob's ``GET[name]`` reads it.
                shown = raw[-1]
                value = _typed(name, shown, param_schema)
            error = next(iter(self._validators[name].iter_errors(value)), None)
            if error is not None:
                raise query_error(name, shown, error.message)
            out[name] = value
        return out


def _typed(name: str, value: str, param_schema: dict) -> Any:
    kind = param_schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "integer" in kinds:
        try:
            return int(value)
        except ValueError:
            if "string" not in kinds:
                raise query_error(name, value, f"{name} must be an integer") from None
    if "number" in kinds:
        try:
            return float(value)
        except ValueError:
            if "string" not in kinds:
                raise query_error(name, value, f"{name} must be a number") from None
    if "boolean" in kinds:
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "on", "t", "y"):
            return True
        if lowered in ("false", "0", "no", "off", "f", "n"):
            return False
        if "string" not in kinds:
            raise query_error(name, value, f"{name} must be a boolean")
    return value


def query_schema(params: dict[str, dict], required: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Declare (and validate at request time) a method's query parameters.

    ``params`` maps each parameter to the JSON schema of its typed value.
    The dispatcher answers 400 for a bad value before the method runs; the
    OpenAPI document lists the parameters with these schemas.
    """
    query = QuerySchema(params, required)

    def decorator(fn: F) -> F:
        fn.wsgi_query_schema = query  # type: ignore[attr-defined]
        return fn

    return decorator


def media_types(*types: str) -> Callable[[F], F]:
    """The request Content-Types a method accepts (others: 415 before the
    body is read). Without it a JSON body is read whatever its type."""
    def decorator(fn: F) -> F:
        fn.wsgi_media_types = types  # type: ignore[attr-defined]
        return fn

    return decorator


def check_media_type(types: tuple[str, ...], content_type: str) -> None:
    if content_type not in types:
        raise errors.HTTPError(415, f"Unsupported Content-Type {content_type or '(none)'!r}; "
                                    f"this resource takes {', '.join(types)}.")


def response_schema(body_schema: dict) -> Callable[[F], F]:
    """Document the JSON body of a method's success answer (OpenAPI only;
    tests check responses against it)."""
    def decorator(fn: F) -> F:
        fn.wsgi_response_schema = body_schema  # type: ignore[attr-defined]
        return fn

    return decorator


def openapi(**operation: Any) -> Callable[[F], F]:
    """Extra OpenAPI operation fields for what the decorators above cannot
    say (a raw data body, a non-JSON answer, another media type)."""
    def decorator(fn: F) -> F:
        fn.wsgi_openapi = operation  # type: ignore[attr-defined]
        return fn

    return decorator

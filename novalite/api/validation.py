"""Request body validation with jsonschema, worded as Nova words it.

A controller method declares its body with ``@validation.schema(...)``; the
dispatcher parses the JSON, validates it and passes it as ``body``. Errors
name the field: ``Invalid input for field/attribute name. Value: ... .
<reason>``, so a client can tell which part of its request to fix.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, TypeVar

import jsonschema
from oslo_utils import strutils

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


def schema(body_schema: dict, min_version: str | None = None,
           max_version: str | None = None) -> Callable[[F], F]:
    """Mark a controller method as taking a JSON body checked against
    ``body_schema``; with a version range, only for requests in it (stack
    one per range, as Nova's ``@validation.schema(..., '2.1', '2.18')``).
    The OpenAPI document shows the schema of the oldest version."""
    validator = jsonschema.Draft202012Validator(body_schema, format_checker=FORMAT_CHECKER)

    def decorator(fn: F) -> F:
        ranged = [*getattr(fn, "wsgi_body_validators", []),
                  (min_version, max_version, validator)]
        fn.wsgi_body_validators = ranged  # type: ignore[attr-defined]
        if min_version is None or min_version == "2.1" or \
                getattr(fn, "wsgi_body_validator", None) is None:
            fn.wsgi_body_validator = validator  # type: ignore[attr-defined]
        return fn

    return decorator


def versioned_schemas(versions: list[tuple[str, str | None, dict]]) -> Callable[[F], F]:
    """One body schema per version range: ``[(min, max, schema), ...]``."""
    def decorator(fn: F) -> F:
        for min_version, max_version, body_schema in versions:
            fn = schema(body_schema, min_version, max_version)(fn)
        return fn
    return decorator


def body_validator(fn: Any, version: Any) -> Any:
    """The validator of ``fn``'s body at ``version`` (an APIVersion), or None."""
    for min_version, max_version, validator in getattr(fn, "wsgi_body_validators", []):
        if version.matches(min_version, max_version):
            return validator
    return None


# NOTE: no field of any API needs more; a larger number could only reach
# the database and fail there (a 500) instead of here.
_MAX_JSON_INT = 2 ** 63 - 1


class _NotPlainJSON(ValueError):
    pass


def _json_int(text: str) -> int:
    value = int(text)
    if abs(value) > _MAX_JSON_INT:
        raise _NotPlainJSON(f"the number {text[:40]} is out of range")
    return value


def _json_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotPlainJSON(f"the number {text[:40]} is out of range")
    return value


def _json_constant(name: str) -> Any:
    raise _NotPlainJSON(f"{name} is not JSON")


def _check_strings(value: Any) -> None:
    """Lone UTF-16 surrogates (``"\\ud800"``) are valid JSON escapes but not
    text: no database can store them."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            strings: Any = (item,)
        elif isinstance(item, dict):
            strings = item.keys()
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
            continue
        else:
            continue
        for text in strings:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise _NotPlainJSON("a string is not valid Unicode") from None


def parse_json(raw: bytes) -> Any:
    """The body as JSON, or 400 "Malformed request body" as Nova answers
    (also for what JSON allows but nothing here can store: numbers beyond
    64 bits, NaN/Infinity, lone surrogates, nesting deeper than Python's
    recursion limit)."""
    if not raw:
        raise errors.bad_request("Malformed request body")
    try:
        body = json.loads(raw, parse_int=_json_int, parse_float=_json_float,
                          parse_constant=_json_constant)
        _check_strings(body)
        return body
    except _NotPlainJSON as e:
        raise errors.bad_request(f"Malformed request body: {e}") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
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

    def __init__(self, params: dict[str, dict], required: tuple[str, ...] = (),
                 validate: bool = True) -> None:
        self.params = params
        self.required = required
        self.validates = validate
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
            number = int(value)
        except ValueError:
            if "string" not in kinds:
                raise query_error(name, value, f"{name} must be an integer") from None
        else:
            if abs(number) > _MAX_JSON_INT:
                raise query_error(name, value, f"{name} is out of range")
            return number
    if "number" in kinds:
        try:
            return float(value)
        except ValueError:
            if "string" not in kinds:
                raise query_error(name, value, f"{name} must be a number") from None
    if "boolean" in kinds:
        try:
            return strutils.bool_from_string(value, strict=True)
        except ValueError:
            if "string" not in kinds:
                raise query_error(name, value, f"{name} must be a boolean") from None
    return value


def query_schema(params: dict[str, dict], required: tuple[str, ...] = (),
                 validate: bool = True) -> Callable[[F], F]:
    """Declare (and validate at request time) a method's query parameters.

    ``params`` maps each parameter to the JSON schema of its typed value.
    The dispatcher answers 400 for a bad value before the method runs; the
    OpenAPI document lists the parameters with these schemas.
    ``validate=False`` only documents them, for a method that parses its
    query itself (with its own messages).
    """
    query = QuerySchema(params, required, validate)

    def decorator(fn: F) -> F:
        fn.wsgi_query_schema = query  # type: ignore[attr-defined]
        return fn

    return decorator


def strict_query(since: str, names: tuple[str, ...] | None = None) -> Callable[[F], F]:
    """From microversion ``since`` an unknown query parameter is a 400, as
    Nova's query schemas with ``additionalProperties: False`` (2.53, 2.58,
    2.75): the known ones are ``names``, or the method's declared
    ``@query_schema`` parameters."""
    def decorator(fn: F) -> F:
        fn.wsgi_strict_query = (since, names)  # type: ignore[attr-defined]
        return fn

    return decorator


# NOTE: from 2.102 every GET of the compute API refuses an unknown query
# parameter (Nova's query schemas all became additionalProperties False);
# non-compute APIs are always served at the minimum version, so never reach it.
EVERY_GET_STRICT = "2.102"


def own_query_check(fn: F) -> F:
    """The method refuses unknown query parameters itself (its known names
    depend on more than one list), so 2.102's rule for every GET leaves it be."""
    fn.wsgi_own_query_check = True  # type: ignore[attr-defined]
    return fn


def check_strict_query(fn: Any, version: Any, query: Any, method: str = "") -> None:
    """400 naming the first unknown parameter when ``fn`` is strict at
    ``version``: from its ``@strict_query`` version, and any GET from 2.102
    (the known names: the ``@strict_query`` ones, else its ``@query_schema``'s)."""
    strict = getattr(fn, "wsgi_strict_query", None)
    if strict is None or not version.at_least(strict[0]):
        if method != "GET" or not version.at_least(EVERY_GET_STRICT) \
                or getattr(fn, "wsgi_own_query_check", False):
            return
        strict = (EVERY_GET_STRICT, strict[1] if strict is not None else None)
    names = strict[1]
    if names is None:
        declared = getattr(fn, "wsgi_query_schema", None)
        names = tuple(declared.params) if declared is not None else ()
    for name in query:
        if name not in names:
            raise query_error(name, query.get(name), "Additional properties are not allowed "
                                                     f"('{name}' was unexpected)")


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
